/**
 * The job worker: a plugin writes one handler per job kind, core runs it.
 *
 * `make` declares the handler and how many jobs it runs at once; `run` claims due jobs in
 * batches (up to the free slots, never more), runs the handler once per job, keeps the
 * leases of long jobs alive, and records each outcome through a batched completer, so
 * one handler call per job costs about what the batch calls cost. It wakes when a job of
 * its kind is enqueued (in this process; on PostgreSQL on any node, see `Notifications`)
 * and otherwise polls.
 *
 * A handler returns the job's next state (`transition`; for `JobKind.simple` kinds a
 * plain result means `succeeded`), or `release` to be claimed again later, or fails: a
 * failure counts an attempt under the kind's retry policy, `NonRetryable` sends the job
 * to its dead state at once, and a defect is a failure like any other. A handler whose
 * lease is lost (cancelled, expired and taken over) is interrupted and nothing is
 * recorded for it.
 */
import {
  Cause,
  Data,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  MetricBoundaries,
  Option,
  Queue
} from "effect"
import * as Completer from "./internal/jobCompleter.js"
import { Signal } from "./internal/signal.js"
import { type Job, type JobKind, JobQueue } from "./Jobs.js"

// ---------------------------------------------------------------------------
// Outcomes
// ---------------------------------------------------------------------------

export const OutcomeTypeId: unique symbol = Symbol.for("@orch/core/JobWorker/Outcome")
export type OutcomeTypeId = typeof OutcomeTypeId

/** Move the job to `to` (one of the kind's transitions from its current state). */
export interface Transition<R, S extends string> {
  readonly [OutcomeTypeId]: OutcomeTypeId
  readonly _tag: "Transition"
  readonly to: S
  readonly result: R | undefined
  /** Epoch ms before which the job is not claimed again (for a state that is claimed again). */
  readonly runAt: number | undefined
  /** Like `runAt`, counted from when the handler returned. */
  readonly delay: Duration.Duration | undefined
  /** Keep holding the job in its new state until its lease expires (ignored for a final state). */
  readonly keepLease: boolean
  /** The history row's reason; default the worker's `reason`. */
  readonly reason: string | undefined
  /** Recorded as the job's last error: why it moved to an error state of its own (not its dead state). */
  readonly error: string | undefined
}

/** Give the job back without changing its state, e.g. "poll again in 30 s". Counts no attempt. */
export interface Release {
  readonly [OutcomeTypeId]: OutcomeTypeId
  readonly _tag: "Release"
  readonly runAt: number | undefined
  readonly delay: Duration.Duration | undefined
  /** When given, written to the job's history. */
  readonly reason: string | undefined
  /** When given, the job's last error: what it is waiting on. */
  readonly error: string | undefined
}

export type Outcome<R, S extends string> = Transition<R, S> | Release

/** What a handler may return: an outcome, or for a `JobKind.simple` kind its plain result (→ `succeeded`). */
export type HandlerResult<R, S extends string> =
  | Outcome<R, S>
  | ([S] extends [JobKind.SimpleState] ? ([JobKind.SimpleState] extends [S] ? R : never) : never)

export interface TransitionOptions<R> {
  readonly result?: R | undefined
  readonly runAt?: number | undefined
  readonly delay?: Duration.DurationInput | undefined
  readonly keepLease?: boolean | undefined
  readonly reason?: string | undefined
  readonly error?: string | undefined
}

export interface ReleaseOptions {
  readonly runAt?: number | undefined
  readonly delay?: Duration.DurationInput | undefined
  readonly reason?: string | undefined
  /** Why the job is waiting, when it waits on an error (a peer down): shown as its last error. */
  readonly error?: string | undefined
}

export const transition = <const S extends string, R = never>(
  to: S,
  options: TransitionOptions<R> = {}
): Transition<R, S> => ({
  [OutcomeTypeId]: OutcomeTypeId,
  _tag: "Transition",
  to,
  result: options.result,
  runAt: options.runAt,
  delay: options.delay === undefined ? undefined : Duration.decode(options.delay),
  keepLease: options.keepLease ?? false,
  reason: options.reason,
  error: options.error
})

/** `transition("succeeded", { result })`, for `JobKind.simple` kinds. */
export const succeed = <R>(result: R, options: { readonly reason?: string | undefined } = {}): Transition<R, "succeeded"> =>
  transition("succeeded", { result, reason: options.reason })

export const release = (options: ReleaseOptions = {}): Release => ({
  [OutcomeTypeId]: OutcomeTypeId,
  _tag: "Release",
  runAt: options.runAt,
  delay: options.delay === undefined ? undefined : Duration.decode(options.delay),
  reason: options.reason,
  error: options.error
})

export const isOutcome = (value: unknown): value is Outcome<unknown, string> =>
  typeof value === "object" && value !== null && OutcomeTypeId in value

/** Fail a handler with this to send the job to its dead state without retrying. */
export class NonRetryable extends Data.TaggedError("NonRetryable")<{
  /** What went wrong: recorded as the job's error. */
  readonly error: unknown
}> {
  override get message(): string {
    const { error } = this
    return error instanceof Error ? error.message : typeof error === "string" ? error : String(error)
  }
}

/** Fails the handler without retry: the job goes to its dead state. */
export const failNonRetryable = (error: unknown): Effect.Effect<never, NonRetryable> => Effect.fail(new NonRetryable({ error }))

// ---------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------

export interface JobWorker<P, R, S extends string, E, Req> {
  readonly kind: JobKind<P, R, S>
  readonly handler: (job: Job<P, R, S>) => Effect.Effect<HandlerResult<R, S>, E, Req>
  /** Jobs handled at once. */
  readonly concurrency: number
  readonly leaseMs: number
  /** How often to look for due jobs when no enqueue woke the worker (the safety net for lost wake-ups, and for run_at). */
  readonly pollInterval: Duration.Duration
  /** On interruption, how long running handlers may take to finish before their jobs are released. */
  readonly gracePeriod: Duration.Duration
  /** The states to claim from; default the kind's claimable states. */
  readonly states: ReadonlyArray<S> | undefined
  /** The history reason of an outcome that gives none. */
  readonly reason: string
}

export declare namespace JobWorker {
  export type Any = JobWorker<any, any, any, any, any>
  /** The services a worker's handler needs. */
  export type Context<W> = W extends JobWorker<any, any, any, any, infer Req> ? Req : never
}

export interface Options<P, R, S extends string, E, Req> {
  readonly kind: JobKind<P, R, S>
  readonly handler: (job: Job<P, R, S>) => Effect.Effect<HandlerResult<R, S>, E, Req>
  readonly concurrency: number
  /** Default 30 s. A handler running longer has its lease extended while it runs. */
  readonly leaseMs?: number | undefined
  /** Default 1 s. */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** Default 10 s. */
  readonly gracePeriod?: Duration.DurationInput | undefined
  readonly states?: ReadonlyArray<NoInfer<S>> | undefined
  /** Default "done". */
  readonly reason?: string | undefined
}

/** Declares a worker; invalid options throw at once (programming errors). */
export const make = <P, R, S extends string, E, Req>(options: Options<P, R, S, E, Req>): JobWorker<P, R, S, E, Req> => {
  const { kind } = options
  const fail = (problem: string) => {
    throw new Error(`job worker for ${kind.plugin}/${kind.name}: ${problem}`)
  }
  if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) fail("concurrency must be an integer ≥ 1")
  const leaseMs = options.leaseMs ?? 30_000
  if (!(leaseMs > 0) || !Number.isFinite(leaseMs)) fail("leaseMs must be positive")
  const pollInterval = Duration.decode(options.pollInterval ?? "1 second")
  const gracePeriod = Duration.decode(options.gracePeriod ?? "10 seconds")
  if (!Duration.isFinite(pollInterval) || Duration.toMillis(pollInterval) <= 0) fail("pollInterval must be positive")
  for (const state of options.states ?? []) {
    if (!kind.claimable.includes(state)) fail(`state "${state}" is not claimable`)
  }
  return {
    kind,
    handler: options.handler,
    concurrency: options.concurrency,
    leaseMs,
    pollInterval,
    gracePeriod,
    states: options.states,
    reason: options.reason ?? "done"
  }
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

export const jobsCompleted = Metric.counter("orch_jobs_completed_total", {
  description: "Jobs whose handler's outcome a job worker recorded (moved on or released), by plugin and kind",
  incremental: true
})

export const jobsFailed = Metric.counter("orch_jobs_failed_total", {
  description: "Failed job attempts recorded by a job worker, by plugin, kind and outcome (retry or dead)",
  incremental: true
})

export const handlerDuration = Metric.histogram(
  "orch_job_handler_duration_seconds",
  MetricBoundaries.fromIterable([0.0001, 0.001, 0.01, 0.1, 1, 10, 60, 300, 1800]),
  "Job handler run time in seconds, by plugin and kind"
)

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

export interface RunOptions {
  /** Who holds the leases, e.g. "host:pid:plugin". */
  readonly owner: string
  /**
   * Begin stopping when this completes (the daemon's drain): handlers then get their grace
   * period alongside the loops' rather than after it, and the interruption that follows
   * only cuts what is still running.
   */
  readonly stopWhen?: Effect.Effect<void> | undefined
}

/** A job being handled. */
interface Running {
  readonly job: Job<any, any, any>
  readonly startedNs: bigint
  /** The slot whose fiber runs the handler. */
  readonly slot: number
  /** When the lease runs out unless extended. */
  expiresAt: number
  /** Lease lost, or given back on stop: whatever the handler does is not recorded. */
  dropped: boolean
}

/**
 * Runs `worker` until interrupted. On interruption it stops claiming, gives running
 * handlers the grace period, releases the jobs of those still running, and records every
 * outcome handed over before it returns.
 */
export const run = <P, R, S extends string, E, Req>(
  worker: JobWorker<P, R, S, E, Req>,
  options: RunOptions
): Effect.Effect<never, never, JobQueue | Req> =>
  Effect.scoped(Effect.gen(function*() {
    const queue = yield* JobQueue
    const clock = yield* Effect.clock
    const { concurrency, kind, leaseMs } = worker
    const annotations = { plugin: kind.plugin, kind: kind.name, owner: options.owner }
    // subscribed before the first claim: an enqueue that commits after it wakes the claim loop
    const wakeups = yield* queue.wakeups(kind)

    const running = new Map<number, Running>()
    // notified when a handler ends or the completer finishes a round
    const slots = new Signal()
    const metricLabels = Completer.labelsOf(kind)
    const completer = yield* Completer.make(queue, kind, {
      completed: jobsCompleted,
      failed: jobsFailed,
      completedLabels: metricLabels,
      retriedLabels: Completer.labelsOf(kind, { outcome: "retry" }),
      deadLabels: Completer.labelsOf(kind, { outcome: "dead" })
    }, () => slots.notify())
    // outcomes waiting for the completer hold no slot, but claiming stops while this many wait
    const maxPending = Math.max(4 * concurrency, 256)
    const succeeds = (kind.states as ReadonlyArray<string>).includes("succeeded")

    const runAtOf = (runAt: number | undefined, delay: Duration.Duration | undefined) =>
      delay !== undefined ? clock.unsafeCurrentTimeMillis() + Duration.toMillis(delay) : runAt

    /** Hands the handler's exit to the completer. */
    const record = (job: Job<P, R, S>, exit: Exit.Exit<HandlerResult<R, S>, E>) => {
      if (Exit.isSuccess(exit)) {
        const value: unknown = exit.value
        if (isOutcome(value)) {
          if (value._tag === "Transition") {
            completer.add({
              _tag: "Transition",
              job,
              to: value.to,
              result: value.result,
              runAt: runAtOf(value.runAt, value.delay),
              keepLease: value.keepLease,
              reason: value.reason ?? worker.reason,
              error: value.error
            })
          } else {
            completer.add({ _tag: "Release", job, runAt: runAtOf(value.runAt, value.delay), reason: value.reason, error: value.error })
          }
        } else if (succeeds) {
          completer.add({
            _tag: "Transition",
            job,
            to: "succeeded",
            result: value,
            runAt: undefined,
            keepLease: false,
            reason: worker.reason,
            error: undefined
          })
        } else {
          completer.add({ _tag: "Fail", job, error: "the handler returned no outcome (JobWorker.transition or release)", retryable: false })
        }
        return
      }
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) {
        const error: unknown = failure.value
        if (error instanceof NonRetryable) completer.add({ _tag: "Fail", job, error: error.error, retryable: false })
        else completer.add({ _tag: "Fail", job, error, retryable: true })
        return
      }
      const defect = Cause.dieOption(exit.cause)
      completer.add({
        _tag: "Fail",
        job,
        error: Option.isSome(defect) ? defect.value : "the handler was interrupted",
        retryable: true
      })
    }

    const releaseReason = `released: ${options.owner} stopped before the handler finished`
    const releaseQuietly = (job: Job<P, R, S>, reason: string) =>
      queue.release(job, { reason }).pipe(
        Effect.catchAll((error) =>
          // no longer ours: its handler moved it on as it was interrupted, or it was cancelled or taken over
          error._tag === "LeaseLost"
            ? Effect.logDebug(`job worker: job ${job.id} was not released: ${error.message}`)
            : Effect.logWarning(`job worker: could not release job ${job.id}`, error)
        )
      )

    // Handlers run on `concurrency` long-lived slot fibers that take claimed jobs from
    // `ready`: a fiber forked per job cost more than the rest of the worker's per-job work.
    const ready: Array<Job<P, R, S>> = []
    const idle: Array<Signal> = []
    const slotFibers: Array<Fiber.RuntimeFiber<void> | undefined> = new Array(concurrency)
    const slotJobs: Array<Running | undefined> = new Array(concurrency)
    let stopping = false

    const slotLoop = (slot: number): Effect.Effect<void, never, Req> => {
      const signal = new Signal()
      return Effect.gen(function*() {
        while (true) {
          const job = ready.shift()
          if (job === undefined) {
            idle.push(signal)
            yield* signal.wait
            continue
          }
          const entry: Running = {
            job,
            startedNs: clock.unsafeCurrentTimeNanos(),
            slot,
            expiresAt: job.leaseExpiresAt ?? clock.unsafeCurrentTimeMillis() + leaseMs,
            dropped: false
          }
          running.set(job.id, entry)
          slotJobs[slot] = entry
          const exit = yield* Effect.exit(Effect.suspend(() => worker.handler(job)))
          slotJobs[slot] = undefined
          running.delete(job.id)
          handlerDuration.unsafeUpdate(Number(clock.unsafeCurrentTimeNanos() - entry.startedNs) / 1e9, metricLabels)
          if (!entry.dropped) record(job, exit)
          slots.notify()
        }
      }).pipe(
        // interrupted: its job's lease was lost, or the worker stops
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            const waiting = idle.indexOf(signal)
            if (waiting >= 0) idle.splice(waiting, 1)
            const entry = slotJobs[slot]
            slotJobs[slot] = undefined
            if (entry !== undefined) running.delete(entry.job.id)
            slots.notify()
            // a job the interruption was not meant for (a handler that would not be interrupted in time) runs again later
            const release = entry === undefined || entry.dropped ? Effect.void : releaseQuietly(entry.job, releaseReason)
            return Effect.zipRight(release, stopping ? Effect.void : spawn(slot))
          })
        )
      )
    }

    // forked from finalizers and uninterruptible regions too: the slot itself stays interruptible
    const spawn = (slot: number): Effect.Effect<void, never, Req> =>
      Effect.flatMap(Effect.forkDaemon(Effect.interruptible(Effect.annotateLogs(slotLoop(slot), annotations))), (fiber) =>
        Effect.sync(() => {
          slotFibers[slot] = fiber
        }))

    const claimOptions = { owner: options.owner, leaseMs, states: worker.states, limit: 1 }
    // a claim that commits always hands its jobs to the slots, even on interruption
    const claimAndStart = (limit: number) =>
      Effect.uninterruptible(
        Effect.map(queue.claim(kind, { ...claimOptions, limit }), (jobs) => {
          for (const job of jobs) {
            ready.push(job)
            idle.pop()?.notify()
          }
          return jobs.length
        })
      )

    const waitForWork = Effect.asVoid(Effect.timeoutOption(Queue.take(wakeups), worker.pollInterval))

    const claimLoop: Effect.Effect<never, never, Req> = Effect.gen(function*() {
      while (true) {
        const free = concurrency - running.size - ready.length
        if (free <= 0 || completer.pending() >= maxPending) {
          yield* slots.wait
          continue
        }
        // whatever goes wrong with a claim (the database, a defect), the loop goes on
        const claimed = yield* claimAndStart(free).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.interrupt
              : Effect.as(Effect.logWarning("job worker: claim failed; trying again after the poll interval", cause), -1)
          )
        )
        if (claimed < 0) yield* Effect.sleep(worker.pollInterval)
        else if (claimed < free) yield* waitForWork
      }
    })

    /** Drops a job whose lease is gone: its handler is interrupted and nothing is recorded. */
    const drop = (entry: Running) => {
      entry.dropped = true
      const fiber = slotFibers[entry.slot]
      // only while the slot still runs this job's handler
      return slotJobs[entry.slot] !== entry || fiber === undefined ? Effect.void : Fiber.interruptFork(fiber)
    }

    // a job's lease is extended once half of it has gone by, so a no-op job costs no heartbeat
    const beat = Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      const due: Array<Running> = []
      for (const entry of running.values()) {
        if (!entry.dropped && entry.expiresAt - now <= leaseMs / 2) due.push(entry)
      }
      if (due.length === 0) return Effect.void
      return Effect.forEach(due, (entry) =>
        queue.heartbeat(entry.job, leaseMs).pipe(
          Effect.flatMap((expiresAt) => Effect.sync(() => void (entry.expiresAt = expiresAt))),
          Effect.catchAll((error) =>
            error._tag === "LeaseLost"
              ? Effect.zipRight(
                Effect.logInfo(`job worker: ${error.message}; its handler is interrupted`),
                Effect.suspend(() => (entry.dropped ? Effect.void : drop(entry)))
              )
              : Effect.logWarning(`job worker: heartbeat of job ${entry.job.id} failed`, error)
          )
        ), { concurrency: "unbounded", discard: true })
    })
    const heartbeatLoop = Effect.forever(Effect.zipRight(Effect.sleep(Duration.millis(leaseMs / 4)), beat))

    const waitIdle: Effect.Effect<void> = Effect.suspend(() =>
      running.size === 0 ? Effect.void : Effect.zipRight(slots.wait, waitIdle)
    )

    // completed to end the grace period at once: the drain that began the stop already gave it
    const graceOver = yield* Deferred.make<void>()
    const stop = (claimFiber: Fiber.RuntimeFiber<never>, heartbeatFiber: Fiber.RuntimeFiber<never>) =>
      Effect.gen(function*() {
        stopping = true
        yield* Fiber.interrupt(claimFiber)
        // claimed but not started: given back at once
        const unstarted = ready.splice(0)
        yield* Effect.forEach(unstarted, (job) => releaseQuietly(job, `released: ${options.owner} stopped before the handler started`), {
          concurrency: "unbounded",
          discard: true
        })
        // a finalizer runs uninterruptibly: the wait must be made interruptible for the timeout to end it
        yield* Effect.timeoutOption(Effect.interruptible(Effect.race(waitIdle, Deferred.await(graceOver))), worker.gracePeriod)
        // the slots still running a handler release its job as they are interrupted
        yield* Fiber.interruptAll(slotFibers.flatMap((fiber) => (fiber === undefined ? [] : [fiber])))
        yield* Fiber.interrupt(heartbeatFiber)
        yield* completer.close
      }).pipe(Effect.annotateLogs(annotations))

    for (let slot = 0; slot < concurrency; slot++) yield* spawn(slot)
    const claimFiber = yield* Effect.forkDaemon(Effect.annotateLogs(claimLoop, annotations))
    const heartbeatFiber = yield* Effect.forkDaemon(Effect.annotateLogs(heartbeatLoop, annotations))
    // once, whether begun by `stopWhen` or by the interruption; a second caller waits for the first
    const stopOnce = yield* Effect.cached(stop(claimFiber, heartbeatFiber))
    let drainBegun = false
    const drainFiber = options.stopWhen === undefined
      ? undefined
      : yield* Effect.forkDaemon(Effect.zipRight(options.stopWhen, Effect.suspend(() => {
        drainBegun = true
        return stopOnce
      })))
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() =>
        drainBegun
          ? Effect.zipRight(Deferred.succeed(graceOver, undefined), Fiber.await(drainFiber!))
          : Effect.zipRight(drainFiber === undefined ? Effect.void : Fiber.interrupt(drainFiber), stopOnce)
      )
    )
    return yield* Effect.never
  }))
