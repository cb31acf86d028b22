/**
 * The engine: the stores, the descriptors and the runner, which run a test and store its
 * result and its lines; what the daemon's scheduler and a command-line run without a
 * daemon share. No test runs without the user's consent (Neubot's privacy settings).
 */
import { Clock, Data, Effect, Either, Metric, MetricBoundaries, Queue, Ref, type Scope } from "effect"
import * as crypto from "node:crypto"
import * as path from "node:path"
import * as Descriptor from "./Descriptor.js"
import * as Results from "./Results.js"
import * as Runner from "./Runner.js"
import * as Settings from "./Settings.js"
import * as SpeedTest from "./SpeedTest.js"
import * as Stores from "./Stores.js"

export const pluginName = "scheduler"
export const version = "0.5.0.0"

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

// -- run events ---------------------------------------------------------------

export type RunEvent =
  | { readonly _tag: "Line"; readonly runId: number; readonly severity: Stores.Severity; readonly message: string }
  | { readonly _tag: "Done"; readonly runId: number; readonly status: "ok" | "failed"; readonly reason: string | undefined }

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
