/**
 * The scheduler: the engine (Engine.ts: descriptors, runner, stores), the state, and the
 * queue that puts them together. A run (asked for, or fired by a descriptor's schedule) is a job of
 * kind `scheduler/run` in core's queue: the plugin's job worker (concurrency 1) claims them
 * oldest first, so runs go one at a time in FIFO order, and a run fired by a schedule is enqueued in the same
 * transaction that claims the schedule's run, so a restart neither loses nor doubles it.
 */
import * as Config from "@orch/core/Config"
import * as Plugin from "@orch/core/Plugin"
import { type Job, JobKind, JobQueue } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import * as Schedules from "@orch/core/Schedules"
import {
  Clock,
  Context,
  Effect,
  Exit,
  FiberMap,
  Metric,
  MetricBoundaries,
  Option,
  PubSub,
  Random,
  Ref,
  Schedule,
  Schema,
  Scope,
  Stream
} from "effect"
import * as Descriptor from "./Descriptor.js"
import { type Engine, interruptedReason, makeEngine, pluginName, privacyRefusal, type RunEvent, SchedulerError, version } from "./Engine.js"
import * as Settings from "./Settings.js"
import * as State from "./State.js"

export * from "./Engine.js"

export const RunJob = JobKind.simple({
  plugin: pluginName,
  name: "run",
  payload: Schema.Struct({
    test: Schema.String,
    params: Schema.Record({ key: Schema.String, value: Schema.String }),
    origin: Schema.Literal("schedule", "api", "cli"),
    /** For a scheduled run, the time it was due (epoch ms). */
    scheduledAt: Schema.optional(Schema.Number)
  }),
  result: Schema.Struct({
    status: Schema.Literal("ok", "failed"),
    timestampMsec: Schema.Number,
    reason: Schema.optional(Schema.String)
  }),
  // a failed test is a stored result, not a reason to run it again
  retry: { maxAttempts: 1 }
})

/** A claimed run. */
export type RunJobOf = Job<JobKind.Payload<typeof RunJob>, JobKind.Result<typeof RunJob>, JobKind.State<typeof RunJob>>

export const scheduleLag = Metric.histogram(
  "orch_scheduler_schedule_lag_seconds",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 18 }),
  "Delay from a scheduled run's due time to its start, in seconds"
)

/** Neubot's `test_latency`, `test_download` and `test_upload` strings from a result. */
export const figures = (result: unknown): { latency: string; download: string; upload: string } => {
  const r = (result ?? {}) as Record<string, unknown>
  const num = (key: string) => (typeof r[key] === "number" && Number.isFinite(r[key]) ? (r[key] as number) : undefined)
  const latency = num("latency")
  const download = num("download_speed")
  const upload = num("upload_speed")
  const speed = (v: number | undefined) => (v === undefined ? "---" : `${(v * 8 / 1e6).toFixed(2)} Mbit/s`)
  return {
    latency: latency === undefined ? "---" : `${(latency * 1000).toFixed(1)} ms`,
    download: speed(download),
    upload: speed(upload)
  }
}

/**
 * The core schedule for a descriptor. Neubot's period is the user's `agent.interval` (s)
 * when it is not 0, otherwise drawn once and then read back from the stored schedule.
 */
export const scheduleSpec = (
  choice: Descriptor.ScheduleChoice,
  stored: Schedules.ScheduleSpec | undefined,
  agentInterval = 0
): Effect.Effect<Schedules.ScheduleSpec> => {
  switch (choice.kind) {
    case "cron":
      return Effect.succeed(Schedules.cron(choice.expression, choice.timeZone))
    case "interval":
      return Effect.succeed(
        Schedules.interval(choice.everyMs, {
          jitterMs: choice.jitterMs,
          ...(choice.firstDelayMs === undefined ? {} : { firstDelayMs: choice.firstDelayMs })
        })
      )
    case "neubot": {
      if (agentInterval > 0) {
        return Effect.succeed(Schedules.interval(agentInterval * 1000, { jitterMs: 0, firstDelayMs: choice.firstDelayMs }))
      }
      const reuse = stored?._tag === "Interval" && (stored.jitterMs ?? 0) === 0 &&
        stored.everyMs >= Descriptor.neubotMinPeriodMs && stored.everyMs <= Descriptor.neubotMaxPeriodMs
      const drawn = reuse
        ? Effect.succeed(stored.everyMs)
        : Random.nextIntBetween(Descriptor.neubotMinPeriodMs / 1000, Descriptor.neubotMaxPeriodMs / 1000 + 1).pipe(
          Effect.map((seconds) => seconds * 1000)
        )
      return Effect.map(drawn, (everyMs) => Schedules.interval(everyMs, { jitterMs: 0, firstDelayMs: choice.firstDelayMs }))
    }
  }
}

const cadenceOf = (spec: Schedules.ScheduleSpec) =>
  spec._tag === "Cron" ? `cron ${spec.expression} ${spec.timeZone ?? ""}` : `every ${spec.everyMs} jitter ${spec.jitterMs ?? 0}`

/** This orch's own speed test endpoint, reached on loopback. */
export const ownSpeedTestUrl = (host: string, port: number): string => {
  const loopback = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "::1" : host
  const shown = loopback.includes(":") ? `[${loopback}]` : loopback
  return `http://${shown}:${port}${Plugin.basePath(pluginName)}/speedtest`
}


// -- the daemon's service -----------------------------------------------------

export interface SchedulerService {
  readonly engine: Engine
  readonly pid: number
  readonly startedAt: number
  readonly state: State.StateService
  /** Every run's log lines and ends, as they happen. */
  readonly events: PubSub.PubSub<RunEvent>
  /** Checks and enqueues a run; its job id. */
  readonly request: (
    test: string,
    params: Readonly<Record<string, string>>,
    origin: "api" | "cli"
  ) => Effect.Effect<number, SchedulerError>
  /**
   * Like `request`, and a stream of that run's log lines ending with its end; subscribed
   * before the run is enqueued, so no line is missed.
   */
  readonly requestStreaming: (
    test: string,
    params: Readonly<Record<string, string>>,
    origin: "api" | "cli"
  ) => Effect.Effect<Stream.Stream<RunEvent>, SchedulerError>
  /** The next scheduled run of each valid test (epoch ms). */
  readonly nextRuns: Effect.Effect<ReadonlyArray<{ readonly test: string; readonly nextRunAt: number; readonly spec: Schedules.ScheduleSpec }>>
  /** Reads the descriptors and (re)starts their schedules; what `/api/descriptors` shows. */
  readonly refresh: Effect.Effect<Descriptor.Catalog>
  readonly exit: Effect.Effect<void>
}

export interface DaemonOptions {
  readonly dataDir: string
  readonly speedTestUrl: string
  readonly uid?: number | undefined
  /** What `POST /api/exit` does; by default, SIGTERM to this process (a clean shutdown). */
  readonly exit?: Effect.Effect<void> | undefined
}

/**
 * Starts the scheduler in the current scope: the engine, the state, a schedule per valid
 * descriptor, and `run`, which the plugin's job worker calls for each queued run.
 */
export const make = (config: Settings.SchedulerConfig, options: DaemonOptions) =>
  Effect.gen(function*() {
    const engine = yield* makeEngine(config, options)
    const queue = yield* JobQueue
    const schedules = yield* Schedules.Schedules
    const startedAt = yield* Clock.currentTimeMillis
    const state = yield* State.make({ pid: process.pid, since: Math.floor(startedAt / 1000) })
    const events = yield* PubSub.unbounded<RunEvent>()
    const running = yield* Ref.make<Option.Option<{ readonly id: number; readonly test: string }>>(Option.none())

    // runs waiting: a run keeps the queued state while it runs (it holds the job's lease) and
    // until its worker records its end, so the running one and the one just done are left out
    const queuedBut = (done?: number) => Effect.gen(function*() {
      const jobs = yield* Effect.orDie(queue.list({ plugin: pluginName, kind: RunJob.name, state: "queued", limit: 1000 }))
      const current = yield* Ref.get(running)
      return jobs.filter((job) => job.id !== done && (Option.isNone(current) || job.id !== current.value.id)).length
    })
    const queued = queuedBut()

    const request = (test: string, params: Readonly<Record<string, string>>, origin: "api" | "cli") =>
      Effect.gen(function*() {
        const settings = yield* engine.settings
        // Neubot answered 200 and only logged the refusal; the web UI shows this message instead
        if (!Settings.allowedToRun(settings)) return yield* new SchedulerError({ message: privacyRefusal })
        if (settings["runner.refuse_when_busy"] === 1 && (Option.isSome(yield* Ref.get(running)) || (yield* queued) > 0)) {
          return yield* new SchedulerError({ message: "A test is already in progress, try again later" })
        }
        yield* engine.prepare(test, params)
        const { job } = yield* Effect.orDie(queue.enqueue(RunJob, { test, params: { ...params }, origin }))
        yield* engine.log("INFO", `runner: test ${test} queued (run ${job.id}, asked through ${origin})`)
        yield* state.publish({ events: { queue_len: yield* queued } })
        return job.id
      })

    const requestStreaming = (test: string, params: Readonly<Record<string, string>>, origin: "api" | "cli") =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const subscription = yield* Scope.extend(PubSub.subscribe(events), scope)
        const id = yield* Effect.onError(request(test, params, origin), () => Scope.close(scope, Exit.void))
        return Stream.fromQueue(subscription).pipe(
          Stream.filter((event) => event.runId === id),
          Stream.takeUntil((event) => event._tag === "Done"),
          Stream.ensuring(Scope.close(scope, Exit.void))
        )
      })

    // -- a run: the handler of the plugin's job worker (one at a time, oldest first)
    const run = (job: RunJobOf) =>
      Effect.gen(function*() {
        const { origin, params, scheduledAt, test } = job.payload
        const now = yield* Clock.currentTimeMillis
        if (scheduledAt !== undefined) yield* Metric.update(scheduleLag, Math.max(0, now - scheduledAt) / 1000)
        yield* Ref.set(running, Option.some({ id: job.id, test }))
        yield* state.publish({ current: "test", events: { test: test, test_name: test, test_progress: "0%", queue_len: yield* queued } })
        const outcome = yield* engine.execute(job.id, test, params, (event) => PubSub.publish(events, event)).pipe(
          Effect.ensuring(Ref.set(running, Option.none())),
          // orch stopping (or the lease lost) killed the test, whose failure the engine stored: the
          // job ends with it, as the worker would otherwise give it back to run again at the next start
          Effect.onInterrupt(() =>
            Effect.ignore(queue.transition(job, "succeeded", {
              reason: `${origin} run of ${test}: failed (${interruptedReason})`,
              result: { status: "failed", timestampMsec: now, reason: interruptedReason }
            }))
          )
        )
        const shown = figures(outcome.result)
        yield* state.publish({
          current: "idle",
          events: {
            test_latency: shown.latency,
            test_download: shown.download,
            test_upload: shown.upload,
            test_progress: "100%",
            test_status: outcome.status,
            queue_len: yield* queuedBut(job.id)
          }
        })
        return JobWorker.succeed(
          { status: outcome.status, timestampMsec: outcome.timestampMsec, ...(outcome.reason ? { reason: outcome.reason } : {}) },
          { reason: `${origin} run of ${test}: ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ""}` }
        )
      })

    // -- schedules: one per valid descriptor, restarted when its cadence changes
    const fibers = yield* FiberMap.make<string>()
    const cadences = new Map<string, string>()
    const fire = (test: string) => (scheduledAt: number) =>
      Effect.gen(function*() {
        const settings = yield* engine.settings
        if (settings.enabled !== 1) {
          yield* engine.log("INFO", `scheduler: automatic run of ${test} due at ${new Date(scheduledAt).toISOString()} skipped (enabled=0)`)
          return
        }
        if (!Settings.allowedToRun(settings)) {
          yield* engine.log("WARNING", `scheduler: automatic run of ${test} due at ${new Date(scheduledAt).toISOString()} skipped: ${privacyRefusal}`)
          return
        }
        yield* queue.enqueue(RunJob, { test, params: {}, origin: "schedule", scheduledAt }, {
          idempotencyKey: `${test}@${scheduledAt}`
        })
      })
    const refresh = Effect.gen(function*() {
      const read = yield* engine.catalog
      const agentInterval = Number((yield* engine.settings)["agent.interval"] ?? 0)
      const stored = new Map((yield* Effect.orDie(schedules.list(pluginName))).map((record) => [record.name, record]))
      const names = new Set(read.valid.map((d) => d.name))
      for (const descriptor of read.valid) {
        const spec = yield* scheduleSpec(descriptor.schedule, stored.get(descriptor.name)?.spec, agentInterval)
        const cadence = cadenceOf(spec)
        if (cadences.get(descriptor.name) === cadence && (yield* FiberMap.has(fibers, descriptor.name))) continue
        cadences.set(descriptor.name, cadence)
        // ensure first, so the next run is stored (and shown) before the loop's first sleep
        yield* Effect.orDie(schedules.ensure(pluginName, descriptor.name, spec, { missed: "once" }))
        yield* FiberMap.run(
          fibers,
          descriptor.name,
          schedules.run(pluginName, descriptor.name, spec, { missed: "once" }, fire(descriptor.name)).pipe(
            Effect.tapErrorCause((cause) => Effect.logWarning(`scheduler: schedule of ${descriptor.name} failed; retrying`, cause)),
            Effect.retry(Schedule.spaced("5 seconds"))
          )
        )
      }
      for (const [name] of cadences) {
        if (!names.has(name)) {
          cadences.delete(name)
          yield* FiberMap.remove(fibers, name)
          yield* Effect.ignore(schedules.remove(pluginName, name))
        }
      }
      return read
    })

    const nextRuns = Effect.gen(function*() {
      const records = yield* Effect.orDie(schedules.list(pluginName))
      return records.filter((record) => cadences.has(record.name)).map((record) => ({
        test: record.name,
        nextRunAt: record.nextRunAt,
        spec: record.spec
      }))
    })

    yield* Effect.logInfo(`scheduler: stores in ${engine.stores.dir}; tests run ${
      engine.identity._tag === "User" ? `as ${engine.identity.identity.user} (uid ${engine.identity.identity.uid})` :
      engine.identity._tag === "Root" ? "as root (allowRoot)" : "as orch's own user"
    }`)
    yield* engine.log("INFO", `scheduler ${version} started with pid ${process.pid}`)

    const service: SchedulerService = {
      engine,
      pid: process.pid,
      startedAt,
      state,
      events,
      request,
      requestStreaming,
      nextRuns,
      refresh,
      exit: options.exit ?? Effect.sync(() => process.kill(process.pid, "SIGTERM"))
    }

    return { service, run, refresh }
  })

/** The running scheduler (what `make` started), as the plugin's services provide it to its loops and routes. */
export class Scheduler extends Context.Tag("@orch/plugins-scheduler/Scheduler")<Scheduler, {
  readonly service: SchedulerService
  /** Runs a claimed run's test and stores its result: the handler of the plugin's job worker. */
  readonly run: (job: RunJobOf) => Effect.Effect<JobWorker.Transition<JobKind.Result<typeof RunJob>, "succeeded">>
  /** Reads the descriptors and (re)starts their schedules. */
  readonly refresh: Effect.Effect<Descriptor.Catalog>
}>() {}

/** The data dir from orch's config. */
export const dataDir = Effect.map(Config.Config, (config) => config.core.dataDir)
