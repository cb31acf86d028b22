/**
 * Retention: removes history older or more plentiful than `core.retention` allows, in
 * small batches, one short transaction each, so SQLite's single writer is never held
 * for long. Run by the daemon as the supervised loop `core:retention` and once by
 * `orch db prune`.
 *
 * What it removes (the SQL is in `sql/retention.ts`):
 *
 * - finished jobs (a final state of their kind, no lease) with their `orch_job_history`;
 * - ended leases (`ended_at` set); an open lease is never touched;
 * - resource events, but the newest of each resource;
 * - with each job or lease, the rows a plugin keeps for it in its own tables (declared in
 *   its contract as `retention`), in the same transaction, so none is left behind.
 *
 * Jobs of kinds no plugin of this build declares are left alone: their final states are not known.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Duration, Effect, Metric, Random } from "effect"
import { transaction } from "./Database.js"
import type { Plugin } from "./Plugin.js"
import { type Category, limitsFor, overrideKeys, type RetentionSection } from "./RetentionPolicy.js"
import * as Sql from "./sql/retention.js"
import type { SupervisorService } from "./Supervisor.js"

/**
 * A table of a plugin whose rows belong to core's jobs or leases: `column` holds the
 * job's id (`orch_jobs.id`) or the lease's (`orch_resource_leases.id`). Retention
 * removes them with their job or lease. The table must be the plugin's (`<name>_…`).
 */
export interface ChildTable {
  readonly table: string
  readonly column: string
  readonly belongsTo: "job" | "lease"
}

/** What one pass works on: the limits, the job kinds (with their final states), the plugins' child tables. */
export interface Target {
  readonly settings: RetentionSection
  readonly jobKinds: ReadonlyArray<Sql.JobScope>
  readonly children: ReadonlyArray<ChildTable & { readonly plugin: string }>
}

export const targetOf = (plugins: ReadonlyArray<Plugin>, settings: RetentionSection): Target => ({
  settings,
  jobKinds: plugins.flatMap((plugin) => (plugin.jobKinds ?? []).map((kind) => ({ plugin: kind.plugin, kind: kind.name, final: kind.final }))),
  children: plugins.flatMap((plugin) => (plugin.retention ?? []).map((child) => ({ ...child, plugin: plugin.name })))
})

export interface PruneOptions {
  /** Count what would go, remove nothing. */
  readonly dryRun?: boolean | undefined
  /** Checked between batches: true stops the pass (shutdown). */
  readonly stop?: Effect.Effect<boolean> | undefined
}

export interface PruneReport {
  readonly dryRun: boolean
  /** Rows removed (or, dry, that would be) per table, every table considered listed. */
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number }>
  readonly transactions: number
  readonly longestTransactionMs: number
}

export const prunedRows = Metric.counter("orch_pruned_rows_total", {
  description: "Rows removed by retention, by table",
  incremental: true
})

/** The tables a pass over `target` considers, core's first. */
export const tablesOf = (target: Target): ReadonlyArray<string> => [
  "orch_jobs",
  Sql.jobHistory.table,
  "orch_resource_leases",
  "orch_resource_events",
  ...new Set(target.children.map((child) => child.table))
]

/** What goes: older than maxAge, or past the maxCount newest (whichever reaches further). Undefined: nothing. */
const cutoffOf = (
  settings: RetentionSection,
  category: Category,
  scope: Sql.KindScope,
  now: number,
  count: Effect.Effect<number, SqlError>,
  boundaryAt: (offset: number) => Effect.Effect<Sql.Cutoff | undefined, SqlError>
) =>
  Effect.gen(function*() {
    const limits = limitsFor(settings, category, scope.plugin, scope.kind)
    const byAge: Sql.Cutoff | undefined = limits.maxAgeMs === undefined ? undefined : { time: now - limits.maxAgeMs }
    if (limits.maxCount === undefined || (yield* count) <= limits.maxCount) return byAge
    const byCount = yield* boundaryAt(limits.maxCount)
    return byCount === undefined || (byAge !== undefined && byAge.time > byCount.time) ? byAge : byCount
  })

export const prune = (target: Target, options: PruneOptions = {}): Effect.Effect<PruneReport, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const batch = target.settings.batchSize
    const dryRun = options.dryRun === true
    const stop = options.stop ?? Effect.succeed(false)
    const removed = new Map(tablesOf(target).map((table) => [table, 0]))
    let transactions = 0
    let longestTransactionMs = 0
    const add = (table: string, rows: number) =>
      Effect.suspend(() => {
        removed.set(table, (removed.get(table) ?? 0) + rows)
        return dryRun || rows === 0 ? Effect.void : Metric.incrementBy(Metric.tagged(prunedRows, "table", table), rows)
      })

    /**
     * Removes what `pick` finds, a batch per transaction, until nothing more is due or the
     * pass is stopped. Each transaction picks one row more than a batch and removes a
     * batch (with `remove`, children first): the extra row says whether another is
     * needed, so 2,500 rows take 5 transactions, not 6. Counted once committed.
     */
    const inBatches = <Id>(
      pick: (limit: number) => Effect.Effect<ReadonlyArray<Id>, SqlError>,
      remove: (ids: ReadonlyArray<Id>) => Effect.Effect<ReadonlyArray<readonly [string, number]>, SqlError>
    ) =>
      Effect.gen(function*() {
        // a read first: a kind with nothing due never takes the write lock
        if ((yield* pick(1)).length === 0) return
        while (true) {
          const started = performance.now()
          const { more, counts } = yield* transaction(Effect.gen(function*() {
            const picked = yield* pick(batch + 1)
            const ids = picked.slice(0, batch)
            return { more: picked.length > batch, counts: ids.length === 0 ? [] : yield* remove(ids) }
          }))
          longestTransactionMs = Math.max(longestTransactionMs, performance.now() - started)
          transactions++
          for (const [table, rows] of counts) yield* add(table, rows)
          if (!more || (yield* stop)) return
          // a turn of the event loop in between: requests and other writers get in
          yield* nextTurn
        }
      })

    /** `[table, rows]` for each statement of `deletes`, run in order. */
    const each = <Id>(ids: ReadonlyArray<Id>, deletes: ReadonlyArray<readonly [string, (ids: ReadonlyArray<Id>) => Effect.Effect<number, SqlError>]>) =>
      Effect.forEach(deletes, ([table, run]) => Effect.map(run(ids), (rows) => [table, rows] as const))

    const now = yield* Clock.currentTimeMillis

    for (const scope of target.jobKinds) {
      if (scope.final.length === 0 || (yield* stop)) continue
      const cutoff = yield* cutoffOf(target.settings, "jobs", scope, now, Sql.countFinishedJobs(sql, scope), (offset) =>
        Sql.finishedJobAt(sql, scope, offset))
      if (cutoff === undefined) continue
      const children = [Sql.jobHistory, ...target.children.filter((c) => c.plugin === scope.plugin && c.belongsTo === "job")]
      if (dryRun) {
        yield* add("orch_jobs", yield* Sql.countFinishedJobsBefore(sql, scope, cutoff))
        for (const child of children) yield* add(child.table, yield* Sql.countJobChildrenBefore(sql, child, scope, cutoff))
        continue
      }
      yield* inBatches((limit) => Sql.selectFinishedJobs(sql, scope, cutoff, limit), (ids) =>
        each(ids, [
          ...children.map((child) => [child.table, (ids: ReadonlyArray<number>) => Sql.deleteChildren(sql, child, ids)] as const),
          ["orch_jobs", (ids) => Sql.deleteJobs(sql, ids)]
        ]))
    }

    const kinds = yield* Sql.resourceKinds(sql)
    for (const scope of kinds) {
      if (yield* stop) break
      const cutoff = yield* cutoffOf(target.settings, "leases", scope, now, Sql.countEndedLeases(sql, scope), (offset) =>
        Sql.endedLeaseAt(sql, scope, offset))
      if (cutoff === undefined) continue
      const children = target.children.filter((c) => c.plugin === scope.plugin && c.belongsTo === "lease")
      if (dryRun) {
        yield* add("orch_resource_leases", yield* Sql.countEndedLeasesBefore(sql, scope, cutoff))
        for (const child of children) yield* add(child.table, yield* Sql.countLeaseChildrenBefore(sql, child, scope, cutoff))
        continue
      }
      yield* inBatches((limit) => Sql.selectEndedLeases(sql, scope, cutoff, limit), (ids) =>
        each(ids, [
          ...children.map((child) => [child.table, (ids: ReadonlyArray<string>) => Sql.deleteChildren(sql, child, ids)] as const),
          ["orch_resource_leases", (ids) => Sql.deleteLeases(sql, ids)]
        ]))
    }

    for (const scope of kinds) {
      if (yield* stop) break
      const cutoff = yield* cutoffOf(target.settings, "events", scope, now, Sql.countEvents(sql, scope), (offset) =>
        Sql.eventAt(sql, scope, offset))
      if (cutoff === undefined) continue
      if (dryRun) {
        yield* add("orch_resource_events", yield* Sql.countEventsBefore(sql, scope, cutoff))
        continue
      }
      yield* inBatches((limit) => Sql.selectEvents(sql, scope, cutoff, limit), (ids) =>
        each(ids, [["orch_resource_events", (ids) => Sql.deleteEvents(sql, ids)]]))
    }

    return {
      dryRun,
      tables: [...removed].map(([table, rows]) => ({ table, rows })),
      transactions,
      longestTransactionMs
    }
  })

/** Resumes after pending I/O callbacks have run (not a clock sleep: the test clock would hold it). */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** "orch_jobs 2500, orch_job_history 7500": the tables that lost rows. */
export const describe = (report: PruneReport): string =>
  report.tables.filter((t) => t.rows > 0).map((t) => `${t.table} ${t.rows}`).join(", ") || "nothing"

/** Override keys that name no plugin or kind of this build: a typo prunes by the defaults, so say so. */
export const unknownOverrides = (target: Target, plugins: ReadonlyArray<Plugin>): ReadonlyArray<string> =>
  overrideKeys(target.settings).flatMap(([category, key]) => {
    const [plugin, kind] = key.split("/") as [string, string | undefined]
    const owner = plugins.find((p) => p.name === plugin)
    const kinds = category === "jobs" ? owner?.jobKinds ?? [] : owner?.resourceKinds ?? []
    const known = owner !== undefined && (kind === undefined || kinds.some((k) => k.name === kind))
    return known ? [] : [`core.retention.${category}.overrides "${key}"`]
  })

/**
 * One pass of the daemon's loop: waits up to a tenth of `every` at random (so processes
 * sharing the file spread out; cut short by shutdown), prunes, stops between batches
 * once shutdown begins, and logs what it removed.
 */
export const iteration = (target: Target, supervisor: SupervisorService) =>
  Effect.gen(function*() {
    const jitterMs = Duration.toMillis(Duration.decode(target.settings.every as Duration.DurationInput)) / 10
    const wait = yield* Random.nextIntBetween(0, Math.max(1, Math.floor(jitterMs)))
    if (yield* Effect.raceFirst(Effect.as(Effect.sleep(Duration.millis(wait)), false), Effect.as(supervisor.drained, true))) return
    const report = yield* prune(target, { stop: supervisor.isDraining })
    if (report.tables.some((t) => t.rows > 0)) {
      yield* Effect.logInfo(`retention removed ${describe(report)}`).pipe(
        Effect.annotateLogs({ transactions: report.transactions, longestTransactionMs: Math.round(report.longestTransactionMs) })
      )
    }
  })

/** Starts `core:retention` under `supervisor` (when enabled), pausing `every` between passes. */
export const run = (target: Target, plugins: ReadonlyArray<Plugin>, supervisor: SupervisorService) =>
  Effect.gen(function*() {
    if (!target.settings.enabled) return yield* Effect.logInfo("retention is disabled (core.retention.enabled: false): history is kept")
    for (const key of unknownOverrides(target, plugins)) {
      yield* Effect.logWarning(`${key} names no plugin or kind of this build; it changes nothing`)
    }
    // every table's series shows from the start, at 0 until rows go
    for (const table of tablesOf(target)) yield* Metric.incrementBy(Metric.tagged(prunedRows, "table", table), 0)
    yield* supervisor.loop("core:retention", iteration(target, supervisor), { every: target.settings.every as Duration.DurationInput })
  })
