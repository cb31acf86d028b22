/**
 * The SQL of change detection (`Analysis.ts`): a metric's history along the first-parent chain
 * of a tracked ref, the queue rows for more samples and for bisection, and the alerts with their
 * metrics. Portable: SQLite and PostgreSQL both run it (no SQLite-only functions, BIGINT ms times).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

type Sql = SqlClient.SqlClient

export interface RunRow {
  readonly id: string
  readonly hash: string
  readonly exit_code: number
}

export const getRun = (sql: Sql, runId: string): Effect.Effect<RunRow | undefined, SqlError> =>
  sql<RunRow>`SELECT id, hash, exit_code FROM bench_runs WHERE id = ${runId}`.pipe(Effect.map((rows) => rows[0]))

/** Runs change detection has not seen yet, oldest first: the analysis loop's work. */
export const unanalysedRuns = (sql: Sql, limit: number): Effect.Effect<ReadonlyArray<{ readonly id: string }>, SqlError> =>
  sql<{ id: string }>`SELECT id FROM bench_runs WHERE analysed = 0 ORDER BY ended_at, id LIMIT ${limit}`

export const markAnalysed = (sql: Sql, runId: string): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql`UPDATE bench_runs SET analysed = 1 WHERE id = ${runId}`)

export const trackedRefs = (sql: Sql): Effect.Effect<ReadonlyArray<{ readonly name: string; readonly hash: string }>, SqlError> =>
  sql<{ name: string; hash: string }>`SELECT name, hash FROM bench_refs WHERE tracked = 1 ORDER BY name`

/** A commit of the chain (`depth` 0 at the tip) with one of its runs, or with none (null run). */
export interface ChainRunRow {
  readonly hash: string
  readonly depth: number
  readonly run_id: string | null
  readonly exit_code: number | null
}

// the first-parent chain of a ref from its tip back `maxCommits` commits
const chain = (sql: Sql, ref: string, maxCommits: number) =>
  sql`
WITH RECURSIVE chain (hash, depth) AS (
  SELECT hash, 0 FROM bench_refs WHERE name = ${ref}
  UNION ALL
  SELECT e.parent, c.depth + 1 FROM chain c
  JOIN bench_commit_edges e ON e.child = c.hash AND e.position = 0
  WHERE c.depth + 1 < ${maxCommits}
)`

/** Every commit of `ref`'s first-parent chain with each of its runs, in no particular order. */
export const chainRuns = (sql: Sql, ref: string, maxCommits: number): Effect.Effect<ReadonlyArray<ChainRunRow>, SqlError> =>
  sql<ChainRunRow>`${chain(sql, ref, maxCommits)}
SELECT c.hash, c.depth, r.id AS run_id, r.exit_code FROM chain c LEFT JOIN bench_runs r ON r.hash = c.hash`

/** Every measurement of the successful runs on `ref`'s first-parent chain (three columns: the bulk of a pass's reading). */
export const chainMeasurements = (
  sql: Sql,
  ref: string,
  maxCommits: number
): Effect.Effect<ReadonlyArray<{ readonly run_id: string; readonly metric: string; readonly value: number }>, SqlError> =>
  sql<{ run_id: string; metric: string; value: number }>`${chain(sql, ref, maxCommits)}
SELECT m.run_id, m.metric, m.value FROM chain c
JOIN bench_runs r ON r.hash = c.hash AND r.exit_code = 0
JOIN bench_measurements m ON m.run_id = r.id`

export const metricDirections = (sql: Sql): Effect.Effect<ReadonlyArray<{ readonly name: string; readonly direction: number }>, SqlError> =>
  sql<{ name: string; direction: number }>`SELECT name, direction FROM bench_metrics`

export const successfulRuns = (sql: Sql, hash: string): Effect.Effect<number, SqlError> =>
  sql<{ runs: number }>`SELECT COUNT(*) AS runs FROM bench_runs WHERE hash = ${hash} AND exit_code = 0`.pipe(
    Effect.map((rows) => Number(rows[0]?.runs ?? 0))
  )

/**
 * Queues `hash`, or raises its queued row to `priority` (with `reason`) when that is higher:
 * a commit is queued once, at the most urgent of the reasons it has.
 */
export const queueCommit = (
  sql: Sql,
  row: { readonly hash: string; readonly priority: number; readonly reason: string; readonly queuedAt: number }
): Effect.Effect<void, SqlError> =>
  sql`
INSERT INTO bench_queue (hash, priority, reason, queued_at) VALUES (${row.hash}, ${row.priority}, ${row.reason}, ${row.queuedAt})
ON CONFLICT (hash) DO UPDATE SET
  reason = CASE WHEN excluded.priority > bench_queue.priority THEN excluded.reason ELSE bench_queue.reason END,
  priority = CASE WHEN excluded.priority > bench_queue.priority THEN excluded.priority ELSE bench_queue.priority END`.pipe(Effect.asVoid)

/**
 * Serialises the alert writes of concurrent analysis passes. SQLite: the write transaction
 * already holds the one write lock. PostgreSQL: a transaction-scoped advisory lock (any constant
 * key; this one spells "bnch"), since two passes there would otherwise both insert one alert.
 */
export const lockAlerts = (sql: Sql): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql`SELECT pg_advisory_xact_lock(1651401576)`),
    orElse: () => Effect.void
  })

export interface AlertRow {
  readonly id: number
  readonly good_hash: string
  readonly bad_hash: string
  readonly blamed_hash: string | null
  readonly state: "bisecting" | "blamed" | "dismissed"
  readonly created_at: number
  readonly updated_at: number
}

export const allAlerts = (sql: Sql): Effect.Effect<ReadonlyArray<AlertRow>, SqlError> =>
  sql<AlertRow>`SELECT id, good_hash, bad_hash, blamed_hash, state, created_at, updated_at FROM bench_alerts ORDER BY id`

export const insertAlert = (
  sql: Sql,
  row: { readonly good: string; readonly bad: string; readonly at: number }
): Effect.Effect<number, SqlError> =>
  sql<{ id: number }>`
INSERT INTO bench_alerts (good_hash, bad_hash, blamed_hash, state, created_at, updated_at)
VALUES (${row.good}, ${row.bad}, NULL, 'bisecting', ${row.at}, ${row.at})
RETURNING id`.pipe(Effect.map((rows) => Number(rows[0].id)))

export const updateAlert = (
  sql: Sql,
  row: {
    readonly id: number
    readonly good: string
    readonly bad: string
    readonly blamed: string | null
    readonly state: AlertRow["state"]
    readonly at: number
  }
): Effect.Effect<void, SqlError> =>
  sql`
UPDATE bench_alerts SET good_hash = ${row.good}, bad_hash = ${row.bad}, blamed_hash = ${row.blamed}, state = ${row.state}, updated_at = ${row.at}
WHERE id = ${row.id}`.pipe(Effect.asVoid)

/** Dismisses an alert (a person judged it false or accepted); analysis leaves it alone after. */
export const dismissAlert = (sql: Sql, id: number, at: number): Effect.Effect<boolean, SqlError> =>
  sql<{ id: number }>`UPDATE bench_alerts SET state = 'dismissed', updated_at = ${at} WHERE id = ${id} RETURNING id`.pipe(
    Effect.map((rows) => rows.length > 0)
  )

export interface AlertMetricRow {
  readonly alert_id: number
  readonly metric: string
  readonly before_mean: number
  readonly after_mean: number
  readonly change: number
  readonly p_value: number
  readonly regression: number
}

/** Records (or refreshes, on a later pass) what the alert's change did to one metric. */
export const upsertAlertMetric = (sql: Sql, row: AlertMetricRow): Effect.Effect<void, SqlError> =>
  sql`
INSERT INTO bench_alert_metrics (alert_id, metric, before_mean, after_mean, change, p_value, regression)
VALUES (${row.alert_id}, ${row.metric}, ${row.before_mean}, ${row.after_mean}, ${row.change}, ${row.p_value}, ${row.regression})
ON CONFLICT (alert_id, metric) DO UPDATE SET
  before_mean = excluded.before_mean, after_mean = excluded.after_mean, change = excluded.change,
  p_value = excluded.p_value, regression = excluded.regression`.pipe(Effect.asVoid)

export const alertMetrics = (sql: Sql, alertIds: ReadonlyArray<number>): Effect.Effect<ReadonlyArray<AlertMetricRow & { readonly unit: string | null; readonly direction: number }>, SqlError> =>
  alertIds.length === 0
    ? Effect.succeed([])
    : sql<AlertMetricRow & { unit: string | null; direction: number }>`
SELECT am.alert_id, am.metric, am.before_mean, am.after_mean, am.change, am.p_value, am.regression, m.unit, m.direction
FROM bench_alert_metrics am JOIN bench_metrics m ON m.name = am.metric
WHERE ${sql.in("am.alert_id", alertIds)}
ORDER BY am.alert_id, am.metric`

/** The newest alerts not dismissed, newest first. */
export const openAlerts = (sql: Sql, limit: number): Effect.Effect<ReadonlyArray<AlertRow>, SqlError> =>
  sql<AlertRow>`
SELECT id, good_hash, bad_hash, blamed_hash, state, created_at, updated_at FROM bench_alerts
WHERE state <> 'dismissed' ORDER BY updated_at DESC, id DESC LIMIT ${limit}`

/** How many alerts there are per state, and how many of them moved some metric its worse way. */
export const countAlerts = (
  sql: Sql
): Effect.Effect<ReadonlyArray<{ readonly state: string; readonly regression: number; readonly n: number }>, SqlError> =>
  sql<{ state: string; regression: number; n: number }>`
SELECT a.state,
  CASE WHEN EXISTS (SELECT 1 FROM bench_alert_metrics am WHERE am.alert_id = a.id AND am.regression = 1) THEN 1 ELSE 0 END AS regression,
  COUNT(*) AS n
FROM bench_alerts a GROUP BY a.state, 2`
