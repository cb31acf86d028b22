/**
 * Change detection on the database, after each stored run:
 *
 * 1. Reads the first-parent chain of every tracked ref with every run and measurement on it. A
 *    commit measured several times counts once, at the median of its runs (a re-run outvotes
 *    one bad run).
 * 2. The alert tier: change points in every metric of every tracked chain, with one false
 *    discovery cut-off over all of them (`detect/`). Change points of several metrics within
 *    `groupReach` measured commits of each other are one alert, over the union of their ranges.
 *    A group is matched to the stored alert within its reach, so a pass run again changes
 *    nothing, and a narrower range found later narrows the stored one; a dismissed alert stays so.
 * 3. The cheap tier: each metric the run measured, at its commit, against the newest values
 *    before it on the chain since the last change point found before it. Out of family → the
 *    commit is queued again (reason `suspect`) for another sample, up to `maxExtraSamples` extra
 *    runs per commit.
 * 4. Bisection: an alert whose range holds commits never run queues the one nearest the middle
 *    (reason `bisect`); commits measured inside the range side with the old or the new level
 *    (every metric of the alert votes) and narrow it, until one commit is left and is blamed. A
 *    commit whose values sit near the middle of the two levels is run again first (up to
 *    `maxExtraSamples` extra runs); an end of the range that sits on the other level, or near
 *    the middle, is judged like the commits inside. When the commits left cannot be measured
 *    (their runs failed), the alert is `blamed` with no single commit: the range is the answer.
 *
 * The history is read and analysed without a lock; the writes happen in one write transaction
 * that reads the stored alerts again, so two runs analysed at once cannot both raise one alert.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { transaction } from "@orch/core/Database"
import type { Sample } from "@orch/core/Metrics"
import { Clock, Data, Effect } from "effect"
import * as Sql from "./sql/analysis.js"
import {
  bisectStep,
  classifySide,
  type DetectedChange,
  detectChanges,
  type DetectOptions,
  type DirectionSign,
  groupByRange,
  median,
  type RangeCommit,
  type SuspectOptions,
  testSuspect
} from "./detect/index.js"

export interface AnalysisOptions {
  readonly detect: Partial<DetectOptions>
  readonly suspect: Partial<SuspectOptions>
  /** Runs beyond the first that a suspect commit may be given. */
  readonly maxExtraSamples: number
  /** Queue priorities (`new` commits are queued at 0). */
  readonly suspectPriority: number
  readonly bisectPriority: number
  /** How far back along each tracked ref's first parents the history is read. */
  readonly maxChainCommits: number
  /** Change points of different metrics this many measured commits apart are one alert. */
  readonly groupReach: number
}

export const defaultAnalysisOptions: AnalysisOptions = {
  detect: {},
  suspect: {},
  maxExtraSamples: 2,
  suspectPriority: 10,
  bisectPriority: 20,
  maxChainCommits: 10_000,
  groupReach: 2
}

export class AnalysisError extends Data.TaggedError("AnalysisError")<{ readonly message: string }> {}

export interface SuspectMetric {
  readonly metric: string
  readonly historyMean: number
  readonly value: number
  readonly relativeChange: number
  readonly pValue: number
}

export interface AlertChange {
  readonly id: number
  readonly good: string
  readonly bad: string
  readonly blamed: string | null
  readonly state: Sql.AlertRow["state"]
  /** Raised by this pass (else an existing alert this pass touched). */
  readonly created: boolean
}

/** What one pass did, for the log and for tests. */
export interface AnalysisSummary {
  readonly runId: string
  readonly hash: string
  readonly suspect: ReadonlyArray<SuspectMetric>
  /** The run's commit was queued again for another sample. */
  readonly resampled: boolean
  readonly alerts: ReadonlyArray<AlertChange>
  /** Commits queued to bisect an alert's range. */
  readonly bisect: ReadonlyArray<string>
}

/** One tracked chain: commits oldest first, and per commit its runs and per-metric value. */
interface Chain {
  readonly ref: string
  readonly hashes: ReadonlyArray<string>
  readonly position: ReadonlyMap<string, number>
  readonly tried: ReadonlySet<string>
  /** hash → how many of its runs succeeded. */
  readonly runs: ReadonlyMap<string, number>
  /** hash → metric → median over the commit's successful runs. */
  readonly values: ReadonlyMap<string, ReadonlyMap<string, number>>
}

const readChain = (sql: SqlClient.SqlClient, ref: string, maxCommits: number) =>
  Effect.gen(function*() {
    const runs = yield* Sql.chainRuns(sql, ref, maxCommits)
    const measurements = yield* Sql.chainMeasurements(sql, ref, maxCommits)
    const depth = new Map<string, number>()
    const tried = new Set<string>()
    const hashOfRun = new Map<string, string>()
    const succeeded = new Map<string, number>()
    for (const row of runs) {
      depth.set(row.hash, Number(row.depth))
      if (row.run_id === null) continue
      tried.add(row.hash)
      if (Number(row.exit_code) !== 0) continue
      hashOfRun.set(row.run_id, row.hash)
      succeeded.set(row.hash, (succeeded.get(row.hash) ?? 0) + 1)
    }
    const hashes: Array<string> = []
    const position = new Map<string, number>()
    // oldest first
    for (const [hash] of [...depth].sort((a, b) => b[1] - a[1])) {
      position.set(hash, hashes.length)
      hashes.push(hash)
    }
    const samples = new Map<string, Map<string, Array<number>>>()
    for (const row of measurements) {
      const hash = hashOfRun.get(row.run_id)
      if (hash === undefined || row.value === null) continue
      let byMetric = samples.get(hash)
      if (byMetric === undefined) samples.set(hash, byMetric = new Map())
      const list = byMetric.get(row.metric)
      if (list === undefined) byMetric.set(row.metric, [Number(row.value)])
      else list.push(Number(row.value))
    }
    const values = new Map<string, Map<string, number>>()
    for (const [hash, byMetric] of samples) {
      values.set(hash, new Map([...byMetric].map(([metric, list]) => [metric, median(list)])))
    }
    return { ref, hashes, position, tried, runs: succeeded, values } satisfies Chain
  })

/** A metric's series on a chain: the measured commits' positions and values, oldest first. */
const seriesOf = (chain: Chain, metric: string) => {
  const positions: Array<number> = []
  const values: Array<number> = []
  chain.hashes.forEach((hash, i) => {
    const value = chain.values.get(hash)?.get(metric)
    if (value !== undefined && Number.isFinite(value)) {
      positions.push(i)
      values.push(value)
    }
  })
  return { positions, values }
}

const directionSign = (direction: number | undefined): DirectionSign =>
  direction === undefined || direction === 0 ? 0 : direction < 0 ? -1 : 1

interface ChainChange {
  readonly chain: Chain
  readonly metric: string
  readonly good: number
  readonly bad: number
  /** The range widened by `groupReach` measured commits each way, for grouping. */
  readonly reachGood: number
  readonly reachBad: number
  readonly change: DetectedChange<unknown>
}

/**
 * Analyses the history after run `runId` was stored: the suspect test on its commit, change
 * points over every metric, alerts, and the next bisection steps.
 */
export const afterRun = (
  runId: string,
  options: Partial<AnalysisOptions> = {}
): Effect.Effect<AnalysisSummary, AnalysisError | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const o = { ...defaultAnalysisOptions, ...options }
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const run = yield* Sql.getRun(sql, runId)
    if (run === undefined) return yield* new AnalysisError({ message: `run ${runId} does not exist` })
    const directions = new Map((yield* Sql.metricDirections(sql)).map((row) => [row.name, directionSign(Number(row.direction))]))
    const chains: Array<Chain> = []
    for (const ref of yield* Sql.trackedRefs(sql)) chains.push(yield* readChain(sql, ref.name, o.maxChainCommits))

    // the alert tier: every metric of every tracked chain in one pass
    const keys: Array<{ chain: Chain; metric: string; positions: ReadonlyArray<number> }> = []
    const series = []
    const seriesByKey = new Map<string, ReturnType<typeof seriesOf>>()
    for (const chain of chains) {
      const metrics = new Set<string>()
      for (const byMetric of chain.values.values()) for (const metric of byMetric.keys()) metrics.add(metric)
      for (const metric of [...metrics].sort()) {
        const { positions, values } = seriesOf(chain, metric)
        seriesByKey.set(`${chain.ref}\u0000${metric}`, { positions, values })
        series.push({ key: keys.length, values, direction: directions.get(metric) ?? 0 })
        keys.push({ chain, metric, positions })
      }
    }
    const detection = detectChanges(series, o.detect)
    const changes: Array<ChainChange> = detection.changes.map((change) => {
      const { chain, metric, positions } = keys[change.key]
      const index = change.changePoint.index
      const reachGood = positions[Math.max(0, index - 1 - o.groupReach)]
      const reachBad = positions[Math.min(positions.length - 1, index + o.groupReach)]
      return { chain, metric, good: positions[index - 1], bad: positions[index], reachGood, reachBad, change }
    })

    // where each series' level changed (alerting or not yet), for the cheap tier's history
    const changePositions = new Map<string, Array<number>>()
    for (const change of [...detection.changes, ...detection.pending]) {
      const { chain, metric, positions } = keys[change.key]
      const key = `${chain.ref}\u0000${metric}`
      changePositions.set(key, [...(changePositions.get(key) ?? []), positions[change.changePoint.index]])
    }

    // the cheap tier, on the first tracked chain holding the run's commit
    const suspect: Array<SuspectMetric> = []
    const home = chains.find((chain) => chain.position.has(run.hash))
    const measured = home?.values.get(run.hash)
    if (home !== undefined && measured !== undefined && Number(run.exit_code) === 0) {
      const at = home.position.get(run.hash)!
      for (const [metric, value] of measured) {
        const { positions, values } = seriesByKey.get(`${home.ref}\u0000${metric}`)!
        // the history starts at the newest change point before the commit: a level already
        // found to have changed is not news
        const since = Math.max(0, ...(changePositions.get(`${home.ref}\u0000${metric}`) ?? []).filter((p) => p < at).map((p) => positions.indexOf(p)))
        const history = values.slice(since, positions.findIndex((p) => p >= at))
        const verdict = testSuspect(history, value, directions.get(metric) ?? 0, o.suspect)
        if (verdict.suspect) {
          suspect.push({ metric, value, historyMean: verdict.historyMean, relativeChange: verdict.relativeChange, pValue: verdict.pValue })
        }
      }
    }
    // the writes, under the write lock; the alerts are read again there, so that two passes at
    // once (two runs stored together) cannot both raise the same alert
    return yield* transaction(Effect.gen(function*() {
      yield* Sql.lockAlerts(sql)
      let resampled = false
      if (suspect.length > 0 && (yield* Sql.successfulRuns(sql, run.hash)) < 1 + o.maxExtraSamples) {
        yield* Sql.queueCommit(sql, { hash: run.hash, priority: o.suspectPriority, reason: "suspect", queuedAt: now })
        resampled = true
      }

      const alerts = new Map<number, AlertChange>()
      const stored = [...yield* Sql.allAlerts(sql)]
      for (const chain of chains) {
        const reach = (change: ChainChange) => ({ good: change.reachGood, bad: change.reachBad })
        for (const group of groupByRange(changes.filter((c) => c.chain === chain), reach)) {
          // the stored alert of the same change: its range within the group's reach
          const reachGood = Math.min(...group.members.map((m) => m.reachGood))
          const reachBad = Math.max(...group.members.map((m) => m.reachBad))
          const overlapping = stored.find((alert) => {
            const good = chain.position.get(alert.good_hash)
            const bad = chain.position.get(alert.bad_hash)
            return good !== undefined && bad !== undefined && Math.max(good, reachGood) < Math.min(bad, reachBad)
          })
          if (overlapping?.state === "dismissed") continue
          let id: number
          if (overlapping === undefined) {
            const good = chain.hashes[group.good]
            const bad = chain.hashes[group.bad]
            id = yield* Sql.insertAlert(sql, { good, bad, at: now })
            stored.push({ id, good_hash: good, bad_hash: bad, blamed_hash: null, state: "bisecting", created_at: now, updated_at: now })
            alerts.set(id, { id, good, bad, blamed: null, state: "bisecting", created: true })
          } else {
            id = overlapping.id
            if (overlapping.state === "bisecting") {
              // a narrower range found by detection narrows the stored one
              const from = Math.max(group.good, chain.position.get(overlapping.good_hash)!)
              const to = Math.min(group.bad, chain.position.get(overlapping.bad_hash)!)
              const good = chain.hashes[from]
              const bad = chain.hashes[to]
              if (from < to && (good !== overlapping.good_hash || bad !== overlapping.bad_hash)) {
                yield* Sql.updateAlert(sql, { id, good, bad, blamed: null, state: "bisecting", at: now })
                stored[stored.indexOf(overlapping)] = { ...overlapping, good_hash: good, bad_hash: bad, updated_at: now }
                alerts.set(id, { id, good, bad, blamed: null, state: "bisecting", created: false })
              }
            }
          }
          for (const member of group.members) {
            const point = member.change.changePoint
            yield* Sql.upsertAlertMetric(sql, {
              alert_id: id,
              metric: member.metric,
              before_mean: point.before.mean,
              after_mean: point.after.mean,
              change: Number.isFinite(point.change) ? point.change : 0,
              p_value: point.pValue,
              regression: member.change.regression ? 1 : 0
            })
          }
        }
      }

      // bisection of every alert still bisecting whose range lies on a tracked chain
      const bisect: Array<string> = []
      const bisecting = stored.filter((alert) => alert.state === "bisecting")
      const metricsOf = new Map<number, Array<{ metric: string; before: number; after: number }>>()
      for (const row of yield* Sql.alertMetrics(sql, bisecting.map((alert) => alert.id))) {
        const list = metricsOf.get(Number(row.alert_id)) ?? []
        list.push({ metric: row.metric, before: Number(row.before_mean), after: Number(row.after_mean) })
        metricsOf.set(Number(row.alert_id), list)
      }
      for (const alert of bisecting) {
        const chain = chains.find((c) => c.position.has(alert.good_hash) && c.position.has(alert.bad_hash))
        if (chain === undefined) continue
        const goodAt = chain.position.get(alert.good_hash)!
        const badAt = chain.position.get(alert.bad_hash)!
        if (goodAt >= badAt) continue
        const metrics = metricsOf.get(alert.id) ?? []
        const verdictAt = (i: number) => classifySide(chain.values.get(chain.hashes[i]) ?? new Map(), metrics)
        const canResample = (i: number) => (chain.runs.get(chain.hashes[i]) ?? 0) < 1 + o.maxExtraSamples
        const measured = (i: number) => metrics.some((m) => chain.values.get(chain.hashes[i])?.has(m.metric) === true)
        // noise may have put the split one measured commit off: an end that sits on the other
        // level, or near the middle and can be run again, is judged like the commits inside, with
        // the next measured commit beyond it as the end
        const goodEnd = verdictAt(goodAt)
        const badEnd = verdictAt(badAt)
        const goodWrong = goodEnd.side === "bad" && goodEnd.sure
        const badWrong = badEnd.side === "good" && badEnd.sure
        let from = goodAt
        let to = badAt
        if (goodWrong || (!goodEnd.sure && canResample(goodAt))) {
          for (let i = goodAt - 1; i >= 0; i--) {
            if (measured(i)) {
              from = i
              break
            }
          }
        }
        if (badWrong || (!badEnd.sure && canResample(badAt))) {
          for (let i = badAt + 1; i < chain.hashes.length; i++) {
            if (measured(i)) {
              to = i
              break
            }
          }
        }
        const commits = chain.hashes.slice(from, to + 1).map((hash, i): RangeCommit => {
          if (i === 0) return { hash, tried: true, side: "good" }
          if (i === to - from) return { hash, tried: true, side: "bad" }
          const verdict = classifySide(chain.values.get(hash) ?? new Map(), metrics)
          // values near the middle of the two levels: another sample before they decide anything
          if (verdict.side !== undefined && !verdict.sure && (chain.runs.get(hash) ?? 0) < 1 + o.maxExtraSamples) {
            return { hash, tried: false }
          }
          return { hash, tried: chain.tried.has(hash), side: verdict.side }
        })
        const found = bisectStep(commits)
        // the range widens past a stored end only when that end was judged to be on the other level
        const step = {
          ...found,
          good: !goodWrong && chain.position.get(found.good)! < goodAt ? alert.good_hash : found.good,
          bad: !badWrong && chain.position.get(found.bad)! > badAt ? alert.bad_hash : found.bad
        }
        const blamed = step._tag === "Blamed" ? step.hash : null
        const state = step._tag === "Queue" ? "bisecting" : "blamed"
        if (step._tag === "Queue") {
          yield* Sql.queueCommit(sql, { hash: step.hash, priority: o.bisectPriority, reason: "bisect", queuedAt: now })
          bisect.push(step.hash)
        }
        if (step.good !== alert.good_hash || step.bad !== alert.bad_hash || state !== alert.state) {
          yield* Sql.updateAlert(sql, { id: alert.id, good: step.good, bad: step.bad, blamed, state, at: now })
          alerts.set(alert.id, { id: alert.id, good: step.good, bad: step.bad, blamed, state, created: alerts.get(alert.id)?.created ?? false })
        }
      }

      return { runId, hash: run.hash, suspect, resampled, alerts: [...alerts.values()], bisect }
    }))
  })

/** An alert with what it did to each metric, for `/metrics` and the pages. */
export interface Alert {
  readonly id: number
  /** The last commit measured on the old level. */
  readonly goodHash: string
  /** The first commit measured on the new level (the one to blame once bisection is done). */
  readonly badHash: string
  /** Set when bisection left one commit; null while bisecting or when the range could not be narrowed. */
  readonly blamedHash: string | null
  readonly state: "bisecting" | "blamed" | "dismissed"
  readonly createdAt: number
  readonly updatedAt: number
  /** Some metric moved its worse way. */
  readonly regression: boolean
  readonly metrics: ReadonlyArray<{
    readonly metric: string
    readonly unit: string | null
    /** -1 less is better, 1 more is better, 0 not known. */
    readonly direction: number
    readonly beforeMean: number
    readonly afterMean: number
    /** Relative: (after − before) / |before|. */
    readonly change: number
    readonly pValue: number
    readonly regression: boolean
  }>
}


/**
 * Analyses the stored runs change detection has not seen, oldest first, and marks each seen: the
 * plugin's `analysis` loop. Kept in the database rather than forked per submit, so a run stored
 * just before a crash is still analysed, and passes never overlap within a process.
 */
export const analysePending = (
  limit = 20,
  options: Partial<AnalysisOptions> = {}
): Effect.Effect<number, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pending = yield* Sql.unanalysedRuns(sql, limit)
    for (const { id } of pending) {
      yield* afterRun(id, options).pipe(
        Effect.tap((summary) =>
          summary.alerts.length + summary.suspect.length + summary.bisect.length === 0
            ? Effect.void
            : Effect.logInfo(`bench: run ${id}: ${summary.suspect.length} suspect metric(s), ${summary.alerts.length} alert(s), ${summary.bisect.length} commit(s) queued to bisect`)),
        // a run gone since (its commit left the repository) has nothing to analyse
        Effect.catchTag("AnalysisError", (error) => Effect.logWarning(`bench: run ${id} not analysed: ${error.message}`))
      )
      yield* Sql.markAnalysed(sql, id)
    }
    return pending.length
  })

/** The newest `limit` alerts that are not dismissed (bisecting or blamed), newest first. */
export const openAlerts = (limit = 100): Effect.Effect<ReadonlyArray<Alert>, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* Sql.openAlerts(sql, Math.max(0, Math.floor(Number.isFinite(limit) ? limit : 100)))
    const metrics = yield* Sql.alertMetrics(sql, rows.map((row) => Number(row.id)))
    return rows.map((row): Alert => {
      const own = metrics.filter((m) => Number(m.alert_id) === Number(row.id)).map((m) => ({
        metric: m.metric,
        unit: m.unit,
        direction: Number(m.direction),
        beforeMean: Number(m.before_mean),
        afterMean: Number(m.after_mean),
        change: Number(m.change),
        pValue: Number(m.p_value),
        regression: Number(m.regression) === 1
      }))
      return {
        id: Number(row.id),
        goodHash: row.good_hash,
        badHash: row.bad_hash,
        blamedHash: row.blamed_hash,
        state: row.state,
        createdAt: Number(row.created_at),
        updatedAt: Number(row.updated_at),
        regression: own.some((m) => m.regression),
        metrics: own
      }
    })
  })

/** Marks an alert dismissed; false when there is no such alert. Later passes leave it alone. */
export const dismissAlert = (id: number): Effect.Effect<boolean, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(Effect.all([SqlClient.SqlClient, Clock.currentTimeMillis]), ([sql, now]) => Sql.dismissAlert(sql, id, now))

/**
 * The alerts at `/metrics`: `orch_bench_alerts{state, kind}`, kind `regression` when the alert
 * moved some metric its worse way, else `change`; every state and kind is present, 0 when none.
 */
export const alertSamples: Effect.Effect<ReadonlyArray<Sample>, SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const counts = yield* Sql.countAlerts(sql)
  return (["bisecting", "blamed", "dismissed"] as const).flatMap((state) =>
    (["regression", "change"] as const).map((kind): Sample => ({
      name: "orch_bench_alerts",
      help: "Change-point alerts by state; kind regression: some metric moved its worse way",
      type: "gauge",
      labels: { state, kind },
      value: counts
        .filter((row) => row.state === state && (Number(row.regression) === 1) === (kind === "regression"))
        .reduce((sum, row) => sum + Number(row.n), 0)
    }))
  )
})
