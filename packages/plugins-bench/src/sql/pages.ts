/**
 * The read-only SQL behind the bench pages and their JSON (`Pages.ts`, `ReadApi.ts`): one query
 * per thing a page shows, over migration 0001's tables. Nothing here writes.
 */
import type { SqlError } from "@effect/sql/SqlError"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Effect } from "effect"
import type { AlertMetricRow } from "./analysis.js"
import type { CommitRow as StoredCommit, RunRow } from "./index.js"

export type { AlertMetricRow, RunRow }

type Query<A> = Effect.Effect<ReadonlyArray<A>, SqlError>

export interface CommitRow extends StoredCommit {
  readonly reachable: number
}

export interface RefRow {
  readonly name: string
  readonly hash: string
  readonly tracked: number
  readonly updated_at: number
  readonly message: string
  readonly committer_date: number
  /** The newest run of the ref's commit, if it has one. */
  readonly run_id: string | null
}

export interface MeasurementRow {
  readonly metric: string
  readonly value: number
  readonly lower_value: number | null
  readonly upper_value: number | null
  readonly samples: string | null
  readonly unit: string | null
  readonly direction: number
}

export interface AlertRow {
  readonly id: number
  readonly good_hash: string
  readonly bad_hash: string
  readonly blamed_hash: string | null
  readonly state: string
  readonly created_at: number
  readonly updated_at: number
}

export interface WorkerRow {
  readonly name: string
  readonly info: string | null
  readonly fingerprint: string | null
  readonly status: string
  readonly run_id: string | null
  readonly first_seen: number
  readonly last_seen: number
}

export interface QueueRow {
  readonly hash: string
  readonly priority: number
  readonly reason: string
  readonly queued_at: number
  readonly message: string
  readonly committer_date: number
  /** The worker it was handed to, if any. */
  readonly worker: string | null
}

export interface MetricRow {
  readonly name: string
  readonly unit: string | null
  readonly direction: number
}

export interface SeriesRow {
  readonly hash: string
  readonly committer_date: number
  readonly value: number
}

export const getCommit = (sql: SqlClient.SqlClient, hash: string): Query<CommitRow> =>
  sql<CommitRow>`SELECT hash, author, author_date, committer, committer_date, message, reachable FROM bench_commits WHERE hash = ${hash}`

/** Commits whose hash starts with `prefix` (two are enough to call it ambiguous). */
export const commitsByPrefix = (sql: SqlClient.SqlClient, prefix: string): Query<{ hash: string }> =>
  // a range on the primary key rather than LIKE, which SQLite would not answer from the index
  sql<{ hash: string }>`SELECT hash FROM bench_commits WHERE hash >= ${prefix} AND hash < ${prefix + "g"} ORDER BY hash LIMIT 2`

export const getRef = (sql: SqlClient.SqlClient, name: string): Query<{ name: string; hash: string }> =>
  sql<{ name: string; hash: string }>`SELECT name, hash FROM bench_refs WHERE name = ${name}`

export const listRefs = (sql: SqlClient.SqlClient): Query<RefRow> =>
  sql<RefRow>`SELECT r.name, r.hash, r.tracked, r.updated_at, c.message, c.committer_date,
    (SELECT id FROM bench_runs WHERE hash = r.hash ORDER BY ended_at DESC, id DESC LIMIT 1) AS run_id
  FROM bench_refs r JOIN bench_commits c ON c.hash = r.hash
  ORDER BY r.tracked DESC, r.name`

export const parentsOf = (sql: SqlClient.SqlClient, hash: string): Query<{ hash: string; message: string }> =>
  sql<{ hash: string; message: string }>`SELECT c.hash, c.message FROM bench_commit_edges e JOIN bench_commits c ON c.hash = e.parent
  WHERE e.child = ${hash} ORDER BY e.position`

export const childrenOf = (sql: SqlClient.SqlClient, hash: string): Query<{ hash: string; message: string }> =>
  sql<{ hash: string; message: string }>`SELECT c.hash, c.message FROM bench_commit_edges e JOIN bench_commits c ON c.hash = e.child
  WHERE e.parent = ${hash} ORDER BY c.committer_date, c.hash`

export const refsAt = (sql: SqlClient.SqlClient, hash: string): Query<{ name: string; tracked: number }> =>
  sql<{ name: string; tracked: number }>`SELECT name, tracked FROM bench_refs WHERE hash = ${hash} ORDER BY name`

export const runsOfCommit = (sql: SqlClient.SqlClient, hash: string): Query<RunRow> =>
  sql<RunRow>`SELECT * FROM bench_runs WHERE hash = ${hash} ORDER BY ended_at DESC, id DESC`

/** The run a commit stands for in a compare: its newest. */
export const newestRunOf = (sql: SqlClient.SqlClient, hash: string): Query<{ id: string }> =>
  sql<{ id: string }>`SELECT id FROM bench_runs WHERE hash = ${hash} ORDER BY ended_at DESC, id DESC LIMIT 1`

export const queueEntry = (sql: SqlClient.SqlClient, hash: string): Query<{ priority: number; reason: string; queued_at: number }> =>
  sql<{ priority: number; reason: string; queued_at: number }>`SELECT priority, reason, queued_at FROM bench_queue WHERE hash = ${hash}`

export const getRun = (sql: SqlClient.SqlClient, id: string): Query<RunRow> =>
  sql<RunRow>`SELECT * FROM bench_runs WHERE id = ${id}`

export const measurementsOfRun = (sql: SqlClient.SqlClient, id: string): Query<MeasurementRow> =>
  sql<MeasurementRow>`SELECT m.metric, m.value, m.lower_value, m.upper_value, m.samples, k.unit, k.direction
  FROM bench_measurements m JOIN bench_metrics k ON k.name = m.metric
  WHERE m.run_id = ${id} ORDER BY m.metric`

export const outputOfRun = (sql: SqlClient.SqlClient, id: string): Query<{ line: number; source: number; text: string }> =>
  sql<{ line: number; source: number; text: string }>`SELECT line, source, text FROM bench_run_output WHERE run_id = ${id} ORDER BY line`

export const recentAlerts = (sql: SqlClient.SqlClient, limit: number): Query<AlertRow> =>
  sql<AlertRow>`SELECT * FROM bench_alerts ORDER BY updated_at DESC, id DESC LIMIT ${limit}`

export const metricsOfAlerts = (sql: SqlClient.SqlClient, ids: ReadonlyArray<number>): Query<AlertMetricRow> =>
  ids.length === 0
    ? sql<AlertMetricRow>`SELECT * FROM bench_alert_metrics WHERE 1 = 0`
    : sql<AlertMetricRow>`SELECT * FROM bench_alert_metrics WHERE ${sql.in("alert_id", ids)} ORDER BY alert_id, metric`

export const listWorkers = (sql: SqlClient.SqlClient): Query<WorkerRow> =>
  sql<WorkerRow>`SELECT name, info, fingerprint, status, run_id, first_seen, last_seen FROM bench_workers ORDER BY name`

/** The queue in the order workers get it (as the server's `listQueue`), with the worker each commit was handed to. */
export const listQueue = (sql: SqlClient.SqlClient, limit: number): Query<QueueRow> =>
  sql<QueueRow>`SELECT q.hash, q.priority, q.reason, q.queued_at, c.message, c.committer_date,
    (SELECT MIN(w.name) FROM bench_workers w WHERE w.run_hash = q.hash) AS worker
  FROM bench_queue q JOIN bench_commits c ON c.hash = q.hash
  ORDER BY q.priority DESC, q.queued_at DESC, c.committer_date DESC, q.hash LIMIT ${limit}`

export const countQueue = (sql: SqlClient.SqlClient): Query<{ n: number }> => sql<{ n: number }>`SELECT count(*) AS n FROM bench_queue`

export const listMetrics = (sql: SqlClient.SqlClient): Query<MetricRow> =>
  sql<MetricRow>`SELECT name, unit, direction FROM bench_metrics ORDER BY name`

export const recentRuns = (sql: SqlClient.SqlClient, limit: number): Query<RunRow & { message: string }> =>
  sql<RunRow & { message: string }>`SELECT r.*, c.message FROM bench_runs r JOIN bench_commits c ON c.hash = r.hash
  ORDER BY r.ended_at DESC, r.id DESC LIMIT ${limit}`

/**
 * One metric's values between two committer dates, a row per run, oldest commit first (a
 * commit's runs together): the caller takes the mean per commit, which spares SQLite a
 * grouping pass over every row. Reads the metric's measurements through `bench_measurements_metric`.
 */
export const seriesRows = (sql: SqlClient.SqlClient, metric: string, since: number, until: number): Query<SeriesRow> =>
  sql<SeriesRow>`SELECT c.hash, c.committer_date, m.value
  FROM bench_measurements m
  JOIN bench_runs r ON r.id = m.run_id
  JOIN bench_commits c ON c.hash = r.hash
  WHERE m.metric = ${metric} AND c.committer_date >= ${since} AND c.committer_date <= ${until}
  ORDER BY c.committer_date, c.hash`
