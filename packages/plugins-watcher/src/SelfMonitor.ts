/**
 * Self-monitoring: every `interval` of the `self:` block the watcher reports its own
 * health (checks made, lag p50 and p99, missed runs) to the block's sinks, as send jobs
 * like an endpoint's. When its checks fall behind (lag p99 over `max_lag_p99`, or more than
 * `max_missed` runs missed in the interval) it raises the seed's "scaling limit hit" event
 * once, and "scaling limit cleared" when an interval is fine again: the episode is the
 * self block's `down` state, so a `state_change` sink gets just those two. The episode is
 * a row of the database: a restart in the middle of one neither raises it again nor
 * misses its end; with several workers, one's episode is ended by it (or, once it is
 * silent, by any), not by another that is fine.
 *
 * The figures are the differences of the watcher's own series between two reports
 * (`orch_watcher_check_lag_seconds`, `orch_watcher_missed_runs_total`), the lag quantiles
 * read from the histogram's buckets as Prometheus' `histogram_quantile` does.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { JobQueue } from "@orch/core/Jobs"
import * as Plugin from "@orch/core/Plugin"
import { Clock, Effect, Metric } from "effect"
import type { SelfBlock } from "./Self.js"
import * as Sinks from "./Sinks.js"
import * as Sql from "./sql.js"
import type { State } from "./State.js"
import * as Watcher from "./Watcher.js"

export const scalingLimitHit = "scaling limit hit"
export const scalingLimitCleared = "scaling limit cleared"

export const behindGauge = Metric.gauge("orch_watcher_behind", {
  description: "1 while the watcher's checks are behind (the self: block's scaling limit hit), else 0"
})

/** The running totals a window is the difference of. */
export interface Totals {
  /** Cumulative counts by upper bound, in seconds (the last one +Inf). */
  readonly lagBuckets: ReadonlyArray<readonly [number, number]>
  readonly missed: number
}

export interface Window {
  readonly checks: number
  readonly lagP50Ms: number
  readonly lagP99Ms: number
  readonly missed: number
}

export const totals: Effect.Effect<Totals> = Effect.gen(function*() {
  const lag = yield* Metric.value(Watcher.lagSeconds)
  let missed = 0
  for (const reason of ["busy", "behind"]) missed += (yield* Metric.value(Metric.tagged(Watcher.missedRuns, "reason", reason))).count
  return { lagBuckets: lag.buckets, missed }
})

/** The `q` quantile of cumulative bucket counts, interpolated within its bucket; 0 without observations. */
export const quantile = (q: number, buckets: ReadonlyArray<readonly [number, number]>): number => {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return 0
  const rank = q * total
  let lower = 0
  let below = 0
  for (const [bound, count] of buckets) {
    if (count >= rank && count > below) {
      // the open last bucket has no upper edge: its lower edge is all that is known
      if (!Number.isFinite(bound)) return lower
      return lower + (bound - lower) * (rank - below) / (count - below)
    }
    lower = Number.isFinite(bound) ? bound : lower
    below = count
  }
  return lower
}

export const windowOf = (from: Totals, to: Totals): Window => {
  const buckets = to.lagBuckets.map(([bound, count], index) => [bound, count - (from.lagBuckets[index]?.[1] ?? 0)] as const)
  return {
    checks: buckets.at(-1)?.[1] ?? 0,
    lagP50Ms: quantile(0.5, buckets) * 1000,
    lagP99Ms: quantile(0.99, buckets) * 1000,
    missed: to.missed - from.missed
  }
}

export interface SelfMonitor {
  /**
   * Makes a report when `self`'s interval has passed since the last one (the first
   * interval starts at the first tick): its sends are enqueued and it is returned.
   */
  readonly tick: (self: SelfBlock | undefined, endpoints: number) => Effect.Effect<Sinks.Report | undefined, unknown, JobQueue | SqlClient.SqlClient>
}

export interface Options {
  /** This worker (`host:pid:watcher`): the episode's starter. */
  readonly owner?: string
  /** How long a worker counts as live after its heartbeat (the jobsets' lease): a silent starter's episode is anyone's to end. */
  readonly liveMs?: number
  readonly sample?: Effect.Effect<Totals>
}

export const make = (options: Options = {}): SelfMonitor => {
  const owner = options.owner ?? Plugin.ownerId("watcher")
  const liveMs = options.liveMs ?? 10_000
  const sample = options.sample ?? totals
  let previous: Totals | undefined
  let nextAt: number | undefined
  let state: State | undefined
  return {
    tick: (self, endpoints) =>
      Effect.gen(function*() {
        if (self === undefined) {
          previous = undefined
          nextAt = undefined
          return undefined
        }
        const now = yield* Clock.currentTimeMillis
        if (previous === undefined || nextAt === undefined) {
          previous = yield* sample
          nextAt = now + self.everyMs
          return undefined
        }
        if (now < nextAt) return undefined
        const current = yield* sample
        const window = windowOf(previous, current)
        previous = current
        nextAt = now + self.everyMs
        const reasons: Array<string> = []
        if (window.lagP99Ms > self.maxLagP99Ms) reasons.push(`check lag p99 ${Math.round(window.lagP99Ms)} ms is over ${self.maxLagP99Ms} ms`)
        if (window.missed > self.maxMissed) reasons.push(`${window.missed} scheduled run(s) missed (at most ${self.maxMissed})`)
        const to: State = reasons.length > 0 ? "down" : "up"
        // the episode is a row, so a restart neither raises it again nor misses its end
        const sql = yield* SqlClient.SqlClient
        state ??= (yield* Sql.getEpisode(sql)) ?? "unknown"
        const changed = to === "down" ? yield* Sql.startEpisode(sql, owner, now) : yield* Sql.endEpisode(sql, owner, now - liveMs, now)
        // (an episode started here was not on, whatever this process last saw)
        const change = changed ? { from: to === "up" ? "down" as const : state === "down" ? "up" as const : state, to } : undefined
        state = to
        const headline = change?.to === "down" ? scalingLimitHit : change !== undefined ? scalingLimitCleared : to === "down" ? "watcher behind" : "watcher health ok"
        const report: Sinks.Report = {
          endpoint: self,
          at: now,
          success: to === "up",
          state: to,
          change,
          status: undefined,
          responseTimeMs: window.lagP99Ms,
          reasons,
          values: {
            event: headline,
            endpoints,
            checks: window.checks,
            lag_p50_ms: Math.round(window.lagP50Ms),
            lag_p99_ms: Math.round(window.lagP99Ms),
            missed: window.missed
          },
          headline: `orch watcher: ${headline}`,
          metrics: [
            { name: "Checks", value: window.checks, unit: "Count" },
            { name: "LagP50", value: Math.round(window.lagP50Ms), unit: "Milliseconds" },
            { name: "LagP99", value: Math.round(window.lagP99Ms), unit: "Milliseconds" },
            { name: "MissedRuns", value: window.missed, unit: "Count" },
            { name: "Behind", value: to === "down" ? 1 : 0, unit: "None" }
          ]
        }
        yield* Metric.set(behindGauge, to === "down" ? 1 : 0)
        if (change?.to === "down") yield* Effect.logWarning(`watcher: ${scalingLimitHit}: ${reasons.join("; ")}`)
        else if (change !== undefined) yield* Effect.logInfo(`watcher: ${scalingLimitCleared}`)
        const sends = Sinks.sendsFor(report)
        if (sends.length > 0) yield* (yield* JobQueue).enqueueMany(Sinks.SendJob, sends.map((payload) => ({ payload })))
        return report
      })
  }
}
