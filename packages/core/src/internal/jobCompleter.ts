/**
 * The job worker's batched completer (River's `jobcompleter` is the model). Handlers hand
 * their outcomes over with a plain call; one fiber records them. Outcomes that arrive
 * while a round is being committed wait and go together in the next round: one
 * `transitionMany` per target state (and reason, runAt, keepLease), and a `fail` or
 * `release` per job, all started at once so that the queue's group commit puts the
 * whole round in one transaction.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either, Fiber, type Metric, MetricLabel, Schedule, type Scope } from "effect"
import type { Job, JobKind, JobQueueService } from "../Jobs.js"
import { Signal } from "./signal.js"

export interface TransitionCompletion {
  readonly _tag: "Transition"
  readonly job: Job<any, any, any>
  readonly to: string
  readonly result: unknown
  readonly runAt: number | undefined
  readonly keepLease: boolean
  readonly reason: string
  readonly error: string | undefined
}

export interface ReleaseCompletion {
  readonly _tag: "Release"
  readonly job: Job<any, any, any>
  readonly runAt: number | undefined
  readonly reason: string | undefined
  readonly error: string | undefined
}

export interface FailCompletion {
  readonly _tag: "Fail"
  readonly job: Job<any, any, any>
  readonly error: unknown
  readonly retryable: boolean
}

export type Completion = TransitionCompletion | ReleaseCompletion | FailCompletion

export interface Metrics {
  readonly completed: Metric.Metric.Counter<number>
  readonly failed: Metric.Metric.Counter<number>
  /** Built once per worker: the metric's hook is cached per label array. */
  readonly completedLabels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly retriedLabels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly deadLabels: ReadonlyArray<MetricLabel.MetricLabel>
}

export interface Completer {
  /** Hands an outcome over; it is recorded in the next round. */
  readonly add: (completion: Completion) => void
  /** Outcomes handed over and not yet recorded. */
  readonly pending: () => number
  /** Records everything handed over, then stops. */
  readonly close: Effect.Effect<void>
}

const isSqlError = (error: unknown): error is SqlError =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "SqlError"

// a database that is briefly busy or locked should not cost a finished job its outcome
const sqlRetry = Schedule.intersect(Schedule.exponential("20 millis"), Schedule.recurs(4))

export const make = (
  queue: JobQueueService,
  kind: JobKind.Any,
  metrics: Metrics,
  onRound: () => void
): Effect.Effect<Completer, never, Scope.Scope> =>
  Effect.gen(function*() {
    let buffer: Array<Completion> = []
    let inFlight = 0
    let closing = false
    const signal = new Signal()

    const retrySql = <A, E, R>(what: string, job: Job<any, any, any> | undefined, effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.retry({ schedule: sqlRetry, while: isSqlError }),
        Effect.catchAll((error) =>
          // the lease expires and reclaim counts the attempt: the job runs again, nothing is lost
          Effect.logWarning(`job worker: could not record ${what}; the lease will expire`, error).pipe(
            Effect.annotateLogs({ plugin: kind.plugin, kind: kind.name, ...(job ? { jobId: job.id } : {}) })
          )
        )
      )

    const countFailed = (job: Job<any, any, any>) =>
      metrics.failed.unsafeUpdate(1, job.state === kind.dead ? metrics.deadLabels : metrics.retriedLabels)

    const fail = (job: Job<any, any, any>, error: unknown, retryable: boolean): Effect.Effect<void, unknown> =>
      Effect.matchEffect(queue.fail(job, error, { retryable }), {
        onSuccess: (after) => Effect.sync(() => countFailed(after)),
        // the job is no longer ours (cancelled, reclaimed): its new holder or state stands
        onFailure: (error) => (error._tag === "LeaseLost" ? Effect.void : Effect.fail(error))
      })

    const transitionGroup = (group: ReadonlyArray<TransitionCompletion>): Effect.Effect<void> => {
      const { keepLease, reason, runAt, to } = group[0]
      return queue.transitionMany(group.map(({ error, job, result }) => ({ job, result, error })), to, { reason, runAt, keepLease }).pipe(
        Effect.map((outcomes) => {
          let moved = 0
          for (const outcome of outcomes) if (Either.isRight(outcome)) moved++
          if (moved > 0) metrics.completed.unsafeUpdate(moved, metrics.completedLabels)
        }),
        Effect.catchAll((error): Effect.Effect<void, unknown> => {
          if (isSqlError(error)) return Effect.fail(error)
          // a forbidden move or a result that does not encode fails the whole batch: find
          // the job at fault by moving each alone, and send it to its dead state
          if (group.length > 1) return Effect.forEach(group, (c) => transitionGroup([c]), { discard: true })
          return fail(group[0].job, `the handler's outcome cannot be recorded: ${error.message}`, false)
        }),
        (effect) => retrySql(`the outcomes of ${group.length} job(s)`, group.length === 1 ? group[0].job : undefined, effect)
      )
    }

    const release = (c: ReleaseCompletion): Effect.Effect<void> =>
      retrySql(
        "a release",
        c.job,
        Effect.matchEffect(queue.release(c.job, { runAt: c.runAt, reason: c.reason, error: c.error }), {
          onSuccess: () => Effect.sync(() => metrics.completed.unsafeUpdate(1, metrics.completedLabels)),
          onFailure: (error) => (error._tag === "LeaseLost" ? Effect.void : Effect.fail(error))
        })
      )

    const round = (batch: ReadonlyArray<Completion>): Effect.Effect<void> => {
      const groups = new Map<string, Array<TransitionCompletion>>()
      const singles: Array<Effect.Effect<void>> = []
      for (const c of batch) {
        if (c._tag === "Transition") {
          const key = `${c.to}\u0000${c.reason}\u0000${c.runAt}\u0000${c.keepLease}`
          const group = groups.get(key)
          if (group === undefined) groups.set(key, [c])
          else group.push(c)
        } else if (c._tag === "Release") singles.push(release(c))
        else singles.push(retrySql("a failure", c.job, fail(c.job, c.error, c.retryable)))
      }
      const all: Array<Effect.Effect<void>> = []
      for (const group of groups.values()) all.push(transitionGroup(group))
      for (const single of singles) all.push(single)
      return all.length === 1 ? all[0] : Effect.all(all, { concurrency: "unbounded", discard: true })
    }

    const loop: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        if (buffer.length === 0) {
          if (closing) return
          yield* signal.wait
          // let the other handlers that finished in this turn hand theirs over first
          yield* Effect.yieldNow()
          continue
        }
        const batch = buffer
        buffer = []
        inFlight = batch.length
        yield* round(batch)
        inFlight = 0
        onRound()
      }
    })
    const fiber = yield* Effect.forkDaemon(loop)
    // should the worker's scope close without `close` (a defect), still record what was handed over
    yield* Effect.addFinalizer(() => close)

    const close = Effect.suspend(() => {
      closing = true
      signal.notify()
      return Fiber.join(fiber)
    })

    return {
      add: (completion) => {
        buffer.push(completion)
        if (buffer.length === 1) signal.notify()
      },
      pending: () => buffer.length + inFlight,
      close
    }
  })

/** The metrics' labels for one worker. */
export const labelsOf = (kind: JobKind.Any, extra: Record<string, string> = {}): ReadonlyArray<MetricLabel.MetricLabel> =>
  Object.entries({ plugin: kind.plugin, kind: kind.name, ...extra }).map(([key, value]) => MetricLabel.make(key, value))
