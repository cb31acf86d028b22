/**
 * The running watcher: it reads the endpoint files (again when they change), keeps the
 * timetable in step with them, runs each check, records it and keeps the newest outcome
 * of each endpoint in memory for `/metrics`.
 */
import type { ConfigError } from "@orch/core/Errors"
import * as Plugin from "@orch/core/Plugin"
import { Schedules } from "@orch/core/Schedules"
import { Cause, Clock, Context, Duration, Effect, Metric, MetricBoundaries, Schedule } from "effect"
import * as path from "node:path"
import type { Endpoint } from "./Endpoint.js"
import * as EndpointFiles from "./EndpointFiles.js"
import * as Jobsets from "./Jobsets.js"
import { probe, type ProbeResult } from "./Probe.js"
import * as Results from "./Results.js"
import * as Timetable from "./Timetable.js"
import { judge, type Verdict } from "./Verdict.js"
import type { WatcherConfig } from "./WatcherConfig.js"

export const checks = Metric.counter("orch_watcher_checks_total", {
  description: "Checks run, by result (success, failure)",
  incremental: true
})

export const missedRuns = Metric.counter("orch_watcher_missed_runs_total", {
  description: "Scheduled runs not made, by reason (busy: the endpoint's previous check was still running; behind: the watcher fell a period behind)",
  incremental: true
})

export const fileErrors = Metric.counter("orch_watcher_file_errors_total", {
  description: "Endpoint files skipped because of a problem, counted each time a changed directory is read",
  incremental: true
})

export const recordErrors = Metric.counter("orch_watcher_record_errors_total", {
  description: "Checks whose result could not be recorded",
  incremental: true
})

export const fencedWrites = Metric.counter("orch_watcher_fenced_writes_total", {
  description: "Check results refused because this worker no longer held the endpoint's jobset (taken over by another)",
  incremental: true
})

export const lagSeconds = Metric.histogram(
  "orch_watcher_check_lag_seconds",
  MetricBoundaries.fromIterable([0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60]),
  "How late checks started after their scheduled time, in seconds"
)

/** The newest outcome of an endpoint in this process. */
export interface Latest {
  readonly endpoint: Endpoint
  readonly at: number
  readonly lagMs: number
  /** Without its body. */
  readonly result: ProbeResult
  readonly verdict: Verdict
}

export interface WatcherService {
  readonly config: WatcherConfig
  /** The endpoints directory, absolute. */
  readonly directory: string
  /** The last read of the directory. */
  readonly load: Effect.Effect<EndpointFiles.DirectoryLoad>
  readonly endpoint: (key: string) => Endpoint | undefined
  /** Reads the directory again when a file was added, changed or removed; true when it did. */
  readonly refresh: Effect.Effect<boolean, ConfigError>
  readonly latest: Effect.Effect<ReadonlyMap<string, Latest>>
  readonly timetable: Timetable.Timetable
  /** The jobsets this worker holds (shared with the other processes on the database). */
  readonly jobsets: Jobsets.Jobsets
  /**
   * Checks one endpoint now, out of its schedule, and records it as a run due now: its
   * outcome, or why not (no such endpoint; its jobset is another worker's, which checks it).
   */
  readonly checkOne: (key: string) => Effect.Effect<Latest | "unknown" | "elsewhere">
}

export class Watcher extends Context.Tag("@orch/plugins-watcher/Watcher")<Watcher, WatcherService>() {}

const listingKey = (directory: string) =>
  JSON.stringify(EndpointFiles.listFiles(directory)?.map((file) => [file.name, file.mtimeMs, file.size]) ?? null)

/** The header that tells an HTTP target which run a scheduled check is for (its due time, epoch ms), so a duplicate is visible there. */
export const scheduledAtHeader = "x-orch-scheduled-at"

/** Runs one check of `endpoint` now: probe and verdict, never failing; a scheduled run's HTTP request says its due time. */
export const checkNow = (endpoint: Endpoint, scheduledAt?: number) =>
  Effect.gen(function*() {
    const target = scheduledAt === undefined || endpoint.target._tag !== "Http"
      ? endpoint.target
      : { ...endpoint.target, headers: { ...endpoint.target.headers, [scheduledAtHeader]: String(scheduledAt) } }
    const result = yield* probe(target, { timeoutMs: endpoint.timeoutMs, insecure: endpoint.insecure })
    const endedAt = yield* Clock.currentTimeMillis
    return { result, verdict: judge(endpoint, result, endedAt), endedAt }
  })

/** Starts the watcher in the current scope: reads the directory, schedules, checks. */
export const make = (
  config: WatcherConfig,
  options: {
    readonly env?: Readonly<Record<string, string | undefined>>
    /** This worker's owner id (core's `PluginContext.ownerId`; `host:pid:watcher` by default). */
    readonly owner?: string
  } = {}
) =>
  Effect.gen(function*() {
    const schedules = yield* Schedules
    const directory = path.resolve(config.endpoints)
    const defaults = {
      timeoutMs: config.timeoutSeconds * 1000,
      failureThreshold: config.failureThreshold,
      successThreshold: config.successThreshold,
      timeZone: schedules.timeZone
    }
    const record = yield* Results.make({ keepResults: config.keepResults })
    const latest = new Map<string, Latest>()
    let load: EndpointFiles.DirectoryLoad = { directory, missing: true, files: [] }
    let byKey = new Map<string, Endpoint>()
    let listing: string | undefined

    const owner = options.owner ?? Plugin.ownerId("watcher")
    const heartbeatMs = config.heartbeatSeconds * 1000
    const leaseMs = config.leaseSeconds > config.heartbeatSeconds ? config.leaseSeconds * 1000 : 3 * heartbeatMs
    if (leaseMs !== config.leaseSeconds * 1000) {
      yield* Effect.logWarning(`watcher: leaseSeconds (${config.leaseSeconds}) must be longer than heartbeatSeconds (${config.heartbeatSeconds}): using ${leaseMs / 1000}`)
    }
    const lag = Jobsets.lagWatch(config.handBackLagSeconds * 1000, config.handBackAfterSeconds * 1000)

    const check = (endpoint: Endpoint, scheduledAt: number, lagMs: number) =>
      Effect.gen(function*() {
        const startedAt = scheduledAt + lagMs
        const jobset = Jobsets.jobsetOf(endpoint.key, config.jobsets)
        const token = jobsets.tokenAt(jobset, startedAt)
        // its lease ran out (a stall, a partition): another worker may own it now, so no check
        if (token === undefined) return
        lag.note(lagMs, startedAt)
        const { endedAt, result, verdict } = yield* checkNow(endpoint, scheduledAt)
        // without the body: 20,000 endpoints' bodies would be kept for nothing
        latest.set(endpoint.key, { endpoint, at: endedAt, lagMs, result: { ...result, body: undefined }, verdict })
        yield* Metric.increment(Metric.tagged(checks, "result", verdict.success ? "success" : "failure"))
        yield* Metric.update(lagSeconds, lagMs / 1000)
        const recorded = yield* Effect.either(record({ endpoint, scheduledAt, startedAt, endedAt, result, verdict, fence: { owner, jobset, token } }))
        if (recorded._tag === "Left" && recorded.left instanceof Results.StaleJobset) {
          yield* Metric.increment(fencedWrites)
          yield* Effect.logInfo(`watcher: the check of ${endpoint.key} was not recorded: ${recorded.left.message} (taken over by another worker)`)
        } else if (recorded._tag === "Left") {
          yield* Metric.increment(recordErrors)
          yield* Effect.logWarning(`watcher: the check of ${endpoint.key} could not be recorded: ${String(recorded.left)}`)
        } else if (recorded.right.change) {
          const { from, to } = recorded.right.change
          yield* Effect.logInfo(`watcher: ${endpoint.key} is ${to} (was ${from})${to === "down" ? `: ${verdict.reasons.join("; ")}` : ""}`)
        }
      })

    const timetable = yield* Timetable.make({ concurrency: config.concurrency, maxJitterMs: config.maxJitterSeconds * 1000 }, {
      check,
      missed: (endpoint, runs, reason) => Metric.incrementBy(Metric.tagged(missedRuns, "reason", reason), runs).pipe(
        Effect.zipRight(Effect.logDebug(`watcher: ${runs} run(s) of ${endpoint.key} missed (${reason})`))
      )
    })

    /** The endpoints of the jobsets this worker holds: the only ones it schedules. */
    const jobsetOf = new Map<string, number>() // a hash per key, once
    const mine = () => {
      const held = jobsets.held()
      return [...byKey.values()].filter((endpoint) => {
        let id = jobsetOf.get(endpoint.key)
        if (id === undefined) jobsetOf.set(endpoint.key, id = Jobsets.jobsetOf(endpoint.key, config.jobsets))
        return held.has(id)
      })
    }
    const jobsets: Jobsets.Jobsets = yield* Jobsets.make({
      owner,
      count: config.jobsets,
      leaseMs,
      handBackCooldownMs: config.handBackAfterSeconds * 1000,
      onChange: () => timetable.set(mine())
    })

    const heartbeat = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const lagging = lag.lagging(now)
      const changes = yield* jobsets.tick(lagging)
      if (lagging) lag.reset()
      // one line per kind of change: at start a worker claims all its jobsets at once
      for (const kind of new Set(changes.map((c) => c.change))) {
        const ids = changes.filter((c) => c.change === kind).map((c) => c.id).join(", ")
        const why = kind === "handed_back" ? ` (checks lagged over ${config.handBackLagSeconds}s for ${config.handBackAfterSeconds}s)` : kind === "lost" ? " (taken over by another worker)" : ""
        yield* (kind === "lost" ? Effect.logWarning : Effect.logInfo)(`watcher: jobset(s) ${kind.replace("_", " ")}: ${ids}${why}; holding ${jobsets.held().size} of ${config.jobsets}`)
      }
    })

    const refresh = Effect.gen(function*() {
      const key = listingKey(directory)
      if (key === listing) return false
      const next = yield* EndpointFiles.loadDirectory(directory, defaults, options.env, load)
      const wasMissing = listing === undefined ? undefined : load.missing
      listing = key
      load = next
      byKey = new Map(EndpointFiles.endpointsOf(next).map((endpoint) => [endpoint.key, endpoint]))
      for (const gone of [...latest.keys()].filter((k) => !byKey.has(k))) latest.delete(gone)
      for (const gone of [...jobsetOf.keys()].filter((k) => !byKey.has(k))) jobsetOf.delete(gone)
      if (next.missing && wasMissing !== true) yield* Effect.logInfo(`watcher: no endpoints directory at ${directory}, so no endpoints to check`)
      const problems = EndpointFiles.problemsOf(next)
      for (const problem of problems) yield* Effect.logError(`watcher: endpoint file skipped: ${String(problem)}`)
      const badFiles = next.files.filter((file) => file.problems.length > 0).length
      if (badFiles > 0) yield* Metric.incrementBy(fileErrors, badFiles)
      if (!next.missing) {
        yield* Effect.logInfo(`watcher: ${byKey.size} endpoint(s) from ${next.files.length - badFiles} file(s) in ${directory}${badFiles > 0 ? `; ${badFiles} file(s) skipped` : ""}`)
      }
      yield* timetable.set(mine())
      return true
    })
    yield* refresh
    // a failed heartbeat is rolled back and tried again at the next; the leases outlast a few
    const safeHeartbeat = Effect.catchAllCause(heartbeat, (cause) => Effect.logWarning(`watcher: jobsets heartbeat failed: ${Cause.pretty(cause)}`))
    yield* safeHeartbeat
    yield* Effect.forkScoped(Effect.repeat(safeHeartbeat, Schedule.spaced(Duration.millis(heartbeatMs))))
    // the others take this worker's jobsets over at once, not a lease later
    yield* Effect.addFinalizer(() => Effect.catchAllCause(jobsets.releaseAll, (cause) => Effect.logWarning(`watcher: releasing jobsets: ${Cause.pretty(cause)}`)))

    return {
      config,
      directory,
      load: Effect.sync(() => load),
      endpoint: (key) => byKey.get(key),
      refresh,
      latest: Effect.sync(() => latest as ReadonlyMap<string, Latest>),
      timetable,
      jobsets,
      checkOne: (key) =>
        Effect.gen(function*() {
          const endpoint = byKey.get(key)
          if (endpoint === undefined) return "unknown" as const
          const now = yield* Clock.currentTimeMillis
          if (jobsets.tokenAt(Jobsets.jobsetOf(key, config.jobsets), now) === undefined) return "elsewhere" as const
          yield* check(endpoint, now, 0)
          return latest.get(key) ?? ("elsewhere" as const)
        })
    } satisfies WatcherService
  })
