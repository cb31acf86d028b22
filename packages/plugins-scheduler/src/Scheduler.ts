/**
 * The scheduler: descriptors, the runner, the stores, the state, and the queue that
 * puts them together. A run (asked for, or fired by a descriptor's schedule) is a job of
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
  Data,
  Effect,
  Either,
  Exit,
  FiberMap,
  Metric,
  MetricBoundaries,
  Option,
  PubSub,
  Queue,
  Random,
  Ref,
  Schedule,
  Schema,
  Scope,
  Stream
} from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import * as Descriptor from "./Descriptor.js"
import * as Results from "./Results.js"
import * as Runner from "./Runner.js"
import * as Settings from "./Settings.js"
import * as SpeedTest from "./SpeedTest.js"
import * as State from "./State.js"
import * as Stores from "./Stores.js"

export const pluginName = "scheduler"
export const version = "0.5.0.0"

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

/** The stored failure of a run whose test orch killed as it stopped. */
export const interruptedReason = "interrupted: orch stopped while the test ran"

/** Why nothing runs (Neubot's privacy.complain, with orch's ways to give consent). */
export const privacyRefusal =
  "Tests are disabled because privacy settings are not OK: set privacy.informed, privacy.can_collect and privacy.can_publish to 1 (privacy.html, POST /api/config or orch scheduler config set)"

export class SchedulerError extends Data.TaggedError("SchedulerError")<{ readonly message: string }> {}

// -- metrics ------------------------------------------------------------------

export const runsTotal = Metric.counter("orch_scheduler_runs_total", {
  description: "Test runs by test and outcome (ok, failed)",
  incremental: true
})
export const runDuration = Metric.histogram(
  "orch_scheduler_run_duration_seconds",
  MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 14 }),
  "Test run duration in seconds, by test"
)
export const scheduleLag = Metric.histogram(
  "orch_scheduler_schedule_lag_seconds",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 18 }),
  "Delay from a scheduled run's due time to its start, in seconds"
)

// -- run events ---------------------------------------------------------------

export type RunEvent =
  | { readonly _tag: "Line"; readonly runId: number; readonly severity: Stores.Severity; readonly message: string }
  | { readonly _tag: "Done"; readonly runId: number; readonly status: "ok" | "failed"; readonly reason: string | undefined }

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

// -- the engine: stores, descriptors, runner (what a CLI run needs too) -----

export interface Engine {
  readonly config: Settings.SchedulerConfig
  readonly stores: Stores.StoresService
  readonly identity: Runner.RunIdentity
  readonly catalog: Effect.Effect<Descriptor.Catalog>
  readonly settings: Effect.Effect<Settings.SettingValues>
  /** Validates and stores `name=value` pairs, all or none. */
  readonly updateSettings: (pairs: ReadonlyArray<readonly [string, string]>) => Effect.Effect<Settings.SettingValues, SchedulerError>
  /** Finds `test` and checks `params` against it. */
  readonly prepare: (test: string, params: Readonly<Record<string, string>>) => Effect.Effect<Descriptor.Descriptor, SchedulerError>
  /** Runs a test now and stores its result and log lines; `onEvent` sees them as they happen. */
  readonly execute: (
    runId: number,
    test: string,
    params: Readonly<Record<string, string>>,
    onEvent: (event: RunEvent) => Effect.Effect<void>
  ) => Effect.Effect<{ readonly status: "ok" | "failed"; readonly timestampMsec: number; readonly reason: string | undefined; readonly result: unknown }>
  readonly log: (severity: Stores.Severity, message: string) => Effect.Effect<void>
}

export const storesDir = (dataDir: string) => path.join(dataDir, pluginName)

/**
 * Opens the stores and checks who tests run as: when orch is root and `runAs` does not
 * exist, this fails with the reason (unless `allowRoot`).
 */
export const makeEngine = (
  config: Settings.SchedulerConfig,
  options: { readonly dataDir: string; readonly speedTestUrl: string; readonly uid?: number | undefined }
): Effect.Effect<Engine, SchedulerError | unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const identity = yield* Either.mapLeft(
      Runner.resolveIdentity({ runAs: config.runAs, allowRoot: config.allowRoot }, options.uid ?? process.getuid?.()),
      (error) => new SchedulerError({ message: error.message })
    )
    const stores = yield* Stores.make({ dir: storesDir(options.dataDir), maxBytes: config.maxDatabaseSize })
    const log = (severity: Stores.Severity, message: string) => Effect.orDie(stores.log.insert(severity, message))

    // the install's uuid is drawn once and kept in the config store
    if (!(yield* stores.config.all).some((row) => row.name === "uuid")) {
      yield* stores.config.put([{ name: "uuid", value: crypto.randomUUID() }])
    }
    const base = Settings.defaults(config, "")
    const settingsNow = Effect.map(Effect.orDie(stores.config.all), (all) => Settings.merge(base, all))
    yield* Ref.set(stores.maxBytes, Number((yield* settingsNow).max_database_size))

    const updateSettings = (pairs: ReadonlyArray<readonly [string, string]>) =>
      Effect.gen(function*() {
        const checked = Settings.validateUpdates(pairs)
        if ("error" in checked) return yield* new SchedulerError({ message: checked.error })
        yield* Effect.orDie(stores.config.put(Object.entries(checked.updates).map(([name, value]) => ({ name, value: String(value) }))))
        const now = yield* settingsNow
        yield* Ref.set(stores.maxBytes, Number(now.max_database_size))
        // a lower cap applies at once, not at the next write
        for (const store of Stores.storeNames) yield* Effect.orDie(stores.enforceCap(store))
        yield* log("INFO", `config: ${pairs.map(([name, value]) => `${name}=${value}`).join(", ")}`)
        return now
      })

    const bundled = config.bundled
      ? [SpeedTest.descriptor({
        url: config.speedtest.url ?? options.speedTestUrl,
        bytes: config.speedtest.bytes,
        firstDelayMs: config.speedtest.firstDelaySeconds * 1000
      })]
      : []
    let reported = new Set<string>()
    const catalog = Effect.gen(function*() {
      const read = yield* Descriptor.load(config.descriptors, bundled)
      // each broken file is reported once per distinct reason, not at every read
      const now = new Set(read.invalid.map((entry) => `${entry.file}\u0000${entry.reason}`))
      for (const entry of read.invalid) {
        if (!reported.has(`${entry.file}\u0000${entry.reason}`)) {
          yield* log("WARNING", `descriptor ${entry.file} skipped: ${entry.reason}`)
          yield* Effect.logWarning(`scheduler: descriptor ${entry.file} skipped: ${entry.reason}`)
        }
      }
      reported = now
      return read
    })

    const prepare = (test: string, params: Readonly<Record<string, string>>) =>
      Effect.gen(function*() {
        const { invalid, valid } = yield* catalog
        const descriptor = valid.find((d) => d.name === test)
        if (descriptor === undefined) {
          const broken = invalid.find((entry) => entry.name === test)
          return yield* new SchedulerError({
            message: broken
              ? `Test ${test} has an invalid descriptor (${broken.file}): ${broken.reason}`
              : `No such test: ${test} (tests: ${valid.map((d) => d.name).join(", ") || "none"})`
          })
        }
        const substituted = Descriptor.substitute(descriptor, params)
        if (Either.isLeft(substituted)) return yield* new SchedulerError({ message: substituted.left.message })
        return descriptor
      })

    const execute: Engine["execute"] = (runId, test, params, onEvent) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        const values = yield* settingsNow
        const verbose = values.verbose === 1
        // DEBUG lines are kept only with verbose=1; a streaming client sees them all the same
        const line = (severity: Stores.Severity, message: string) =>
          Effect.zipRight(
            severity === "DEBUG" && !verbose ? Effect.void : log(severity, message),
            onEvent({ _tag: "Line", runId, severity, message })
          )
        if (!Settings.allowedToRun(values)) {
          // no consent, nothing collected: not even a failed row (runner_core.py refused the same way)
          yield* line("WARNING", `runner: test ${test} not run: ${privacyRefusal}`)
          yield* onEvent({ _tag: "Done", runId, status: "failed", reason: privacyRefusal })
          return { status: "failed" as const, timestampMsec: started, reason: privacyRefusal, result: { status: "failed", reason: privacyRefusal } }
        }
        const prepared = yield* Effect.either(prepare(test, params))
        let outcome: Runner.RunOutcome
        if (Either.isLeft(prepared)) {
          outcome = { _tag: "Failed", reason: prepared.left.message, exitCode: null, signal: null }
        } else {
          const descriptor = prepared.right
          const { argv } = Either.getOrThrow(Descriptor.substitute(descriptor, params))
          if (identity._tag === "Root") {
            yield* line("WARNING", `runner: test ${test} runs as root (scheduler.allowRoot is set: ${identity.reason})`)
          }
          const who = identity._tag === "User" ? ` as ${identity.identity.user}` : ""
          yield* line("INFO", `runner: starting test ${test}${who}`)
          // stderr lines arrive as Node events: queued here, written in order by one fiber
          const lines = yield* Queue.unbounded<readonly [Stores.Severity, string] | null>()
          const writer = yield* Effect.fork(Effect.gen(function*() {
            for (;;) {
              const next = yield* Queue.take(lines)
              if (next === null) return
              yield* line(next[0], `${test}: ${next[1]}`)
            }
          }))
          outcome = yield* Runner.execute(
            { argv, cwd: descriptor.directory, maxRuntimeMs: descriptor.maxRuntimeMs, identity },
            (severity, message) => Queue.unsafeOffer(lines, [severity, message])
          ).pipe(
            // orch stopping mid-run (the test is killed): the attempt still shows in the results
            Effect.onInterrupt(() =>
              Effect.ignore(stores.data.insert({
                timestamp_msec: started,
                test_name: test,
                json: JSON.stringify(Results.stored(
                  { status: "failed", reason: interruptedReason, exit_code: null, signal: "SIGKILL" },
                  Results.stamp(values, version)
                ))
              }))
            )
          )
          yield* Queue.offer(lines, null)
          yield* Effect.fromFiber(writer)
        }
        const reported = outcome._tag === "Succeeded"
          ? outcome.result
          : { status: "failed", reason: outcome.reason, exit_code: outcome.exitCode, signal: outcome.signal }
        const json = JSON.stringify(
          typeof reported === "object" && reported !== null && !Array.isArray(reported)
            ? Results.stored(reported as Record<string, unknown>, Results.stamp(values, version))
            : reported
        )
        const timestampMsec = yield* Effect.orDie(stores.data.insert({ timestamp_msec: started, test_name: test, json }))
        const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
        const status = outcome._tag === "Succeeded" ? "ok" as const : "failed" as const
        const reason = outcome._tag === "Failed" ? outcome.reason : undefined
        yield* status === "ok"
          ? line("INFO", `runner: test ${test} done in ${seconds.toFixed(1)} s`)
          : line("ERROR", `runner: test ${test} failed: ${reason}`)
        yield* Metric.increment(Metric.tagged(Metric.tagged(runsTotal, "test", test), "outcome", status))
        yield* Metric.update(Metric.tagged(runDuration, "test", test), seconds)
        yield* onEvent({ _tag: "Done", runId, status, reason })
        return { status, timestampMsec, reason, result: outcome._tag === "Succeeded" ? outcome.result : JSON.parse(json) }
      })

    return {
      config,
      stores,
      identity,
      catalog,
      settings: settingsNow,
      updateSettings,
      prepare,
      execute,
      log
    } satisfies Engine
  })

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
