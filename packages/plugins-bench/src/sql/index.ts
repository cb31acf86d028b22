/**
 * The bench plugin's SQL, all in this folder: here the schema and the server's queries (repository,
 * queue, workers, runs); `analysis.ts` change detection's, `pages.ts` the pages' (read only).
 *
 * Migration 0001 is the plugin's data model (tablejohn's, with times as
 * epoch milliseconds and what change detection and bisection need), written per engine only
 * where SQLite's rowid ids become identity columns:
 *
 * - commits and their parent edges, refs and whether each is tracked (from the `git` binary);
 * - the queue of commits to benchmark, with why each is there;
 * - workers as they last reported themselves, with the secret that pins a name to one process;
 * - runs (one benchmark of one commit by one worker, or one import), their measurements and the
 *   last lines of their output;
 * - metrics with their unit and direction (set once);
 * - alerts: one per commit range, with every metric it moved.
 *
 * The queries below are the server's (repository import, queue, worker protocol, runs); each
 * is named for what it does. They are plain SQL that SQLite and PostgreSQL both take.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Migrations } from "@orch/core/Migrations"
import { Effect } from "effect"

/** 0001 on SQLite: alert ids are rowids. */
const schema = `
CREATE TABLE bench_commits (
  hash TEXT PRIMARY KEY,
  author TEXT NOT NULL,
  author_date BIGINT NOT NULL,       -- epoch ms
  committer TEXT NOT NULL,
  committer_date BIGINT NOT NULL,    -- epoch ms
  message TEXT NOT NULL,             -- the whole message; its first line is the subject
  reachable INTEGER NOT NULL DEFAULT 0, -- 0: from no ref, 1: from some ref, 2: from a tracked ref (tablejohn's)
  new INTEGER NOT NULL DEFAULT 1,    -- imported and not yet considered for the queue
  seen_at BIGINT NOT NULL            -- when orch first imported it
);
CREATE INDEX bench_commits_committer_date ON bench_commits (committer_date);
-- the few commits not yet considered for the queue, without scanning the history
CREATE INDEX bench_commits_new ON bench_commits (hash) WHERE new = 1;
CREATE TABLE bench_commit_edges (
  child TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  parent TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  position INTEGER NOT NULL,         -- 0 for the first parent
  PRIMARY KEY (child, parent)
);
CREATE INDEX bench_commit_edges_parent ON bench_commit_edges (parent, child);
CREATE TABLE bench_refs (
  name TEXT PRIMARY KEY,             -- refs/heads/main, refs/tags/v1.0, ...
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  tracked INTEGER NOT NULL DEFAULT 0,
  tracked_chosen INTEGER NOT NULL DEFAULT 0, -- 1 once chosen (by a person; HEAD's branch at the first import): bench.trackedRefs no longer changes it
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_queue (
  hash TEXT PRIMARY KEY REFERENCES bench_commits (hash) ON DELETE CASCADE,
  priority INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,              -- new, manual, suspect (more samples), bisect, import
  queued_at BIGINT NOT NULL
);
-- what a worker asking for work gets: the highest priority, then the newest commit
CREATE INDEX bench_queue_order ON bench_queue (priority DESC, queued_at DESC, hash);
CREATE TABLE bench_workers (
  name TEXT PRIMARY KEY,
  secret TEXT NOT NULL,              -- chosen by the worker; a status with another one is refused while this one is live
  info TEXT,                         -- free-form, as tablejohn's worker sends it
  fingerprint TEXT,                  -- JSON: cpu model, cores, kernel, governor, noise self-test
  status TEXT NOT NULL,              -- JSON: tablejohn's WorkerStatus (idle, busy, working with its run)
  run_id TEXT,                       -- the run it is working on or was handed, for this server
  run_hash TEXT,                     -- that run's commit: no other live worker is handed it
  run_start BIGINT,                  -- that run's start: of two live workers on one commit, the earlier keeps it
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL
);
CREATE TABLE bench_runs (
  id TEXT PRIMARY KEY,               -- chosen by the server when it hands the run out; idempotency key of the submit
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  bench_method TEXT NOT NULL,        -- "internal" or "bench repo, hash <hash>" (tablejohn's display form)
  worker_name TEXT,                  -- NULL for an import
  worker_info TEXT,
  fingerprint TEXT,                  -- JSON, copied from the worker at submit: compare checks the two match
  started_at BIGINT NOT NULL,
  ended_at BIGINT NOT NULL,
  exit_code INTEGER NOT NULL,
  source TEXT NOT NULL,              -- worker or import
  analysed INTEGER NOT NULL DEFAULT 0 -- 1 once change detection has seen it (Analysis.afterRun)
);
CREATE INDEX bench_runs_hash ON bench_runs (hash, ended_at);
CREATE INDEX bench_runs_unanalysed ON bench_runs (ended_at) WHERE analysed = 0;
CREATE TABLE bench_metrics (
  name TEXT PRIMARY KEY,             -- <benchmark>/<measure>
  unit TEXT,
  direction INTEGER NOT NULL DEFAULT 0 -- -1 less is better, 1 more is better, 0 not known yet; set once
);
CREATE TABLE bench_measurements (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  value DOUBLE PRECISION NOT NULL,
  lower_value DOUBLE PRECISION,
  upper_value DOUBLE PRECISION,
  samples TEXT,                      -- JSON array, when the tool reported them
  PRIMARY KEY (run_id, metric)
);
-- a metric's history (graph, detection) without reading every run
CREATE INDEX bench_measurements_metric ON bench_measurements (metric, run_id);
CREATE TABLE bench_run_output (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  source INTEGER NOT NULL,           -- 1 stdout, 2 stderr (tablejohn's Source)
  text TEXT NOT NULL,
  PRIMARY KEY (run_id, line)
);
CREATE TABLE bench_alerts (
  id INTEGER PRIMARY KEY,
  good_hash TEXT NOT NULL,           -- the last commit before the change that was measured
  bad_hash TEXT NOT NULL,            -- the first commit after it that was measured
  blamed_hash TEXT,                  -- the one commit found by bisection (or the only one in the range)
  state TEXT NOT NULL,               -- bisecting, blamed, dismissed
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_alert_metrics (
  alert_id INTEGER NOT NULL REFERENCES bench_alerts (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  before_mean DOUBLE PRECISION NOT NULL,
  after_mean DOUBLE PRECISION NOT NULL,
  change DOUBLE PRECISION NOT NULL,  -- relative: (after - before) / before
  p_value DOUBLE PRECISION NOT NULL,
  regression INTEGER NOT NULL,       -- 1 when the change goes the metric's worse way
  PRIMARY KEY (alert_id, metric)
);`

/** 0001 on PostgreSQL: the same tables, with an identity id for the alerts (and BIGINT references to it). */
const schemaPg = `
CREATE TABLE bench_commits (
  hash TEXT PRIMARY KEY,
  author TEXT NOT NULL,
  author_date BIGINT NOT NULL,       -- epoch ms
  committer TEXT NOT NULL,
  committer_date BIGINT NOT NULL,    -- epoch ms
  message TEXT NOT NULL,             -- the whole message; its first line is the subject
  reachable INTEGER NOT NULL DEFAULT 0, -- 0: from no ref, 1: from some ref, 2: from a tracked ref (tablejohn's)
  new INTEGER NOT NULL DEFAULT 1,    -- imported and not yet considered for the queue
  seen_at BIGINT NOT NULL            -- when orch first imported it
);
CREATE INDEX bench_commits_committer_date ON bench_commits (committer_date);
-- the few commits not yet considered for the queue, without scanning the history
CREATE INDEX bench_commits_new ON bench_commits (hash) WHERE new = 1;
CREATE TABLE bench_commit_edges (
  child TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  parent TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  position INTEGER NOT NULL,         -- 0 for the first parent
  PRIMARY KEY (child, parent)
);
CREATE INDEX bench_commit_edges_parent ON bench_commit_edges (parent, child);
CREATE TABLE bench_refs (
  name TEXT PRIMARY KEY,             -- refs/heads/main, refs/tags/v1.0, ...
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  tracked INTEGER NOT NULL DEFAULT 0,
  tracked_chosen INTEGER NOT NULL DEFAULT 0, -- 1 once chosen (by a person; HEAD's branch at the first import): bench.trackedRefs no longer changes it
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_queue (
  hash TEXT PRIMARY KEY REFERENCES bench_commits (hash) ON DELETE CASCADE,
  priority INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,              -- new, manual, suspect (more samples), bisect, import
  queued_at BIGINT NOT NULL
);
-- what a worker asking for work gets: the highest priority, then the newest commit
CREATE INDEX bench_queue_order ON bench_queue (priority DESC, queued_at DESC, hash);
CREATE TABLE bench_workers (
  name TEXT PRIMARY KEY,
  secret TEXT NOT NULL,              -- chosen by the worker; a status with another one is refused while this one is live
  info TEXT,                         -- free-form, as tablejohn's worker sends it
  fingerprint TEXT,                  -- JSON: cpu model, cores, kernel, governor, noise self-test
  status TEXT NOT NULL,              -- JSON: tablejohn's WorkerStatus (idle, busy, working with its run)
  run_id TEXT,                       -- the run it is working on or was handed, for this server
  run_hash TEXT,                     -- that run's commit: no other live worker is handed it
  run_start BIGINT,                  -- that run's start: of two live workers on one commit, the earlier keeps it
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL
);
CREATE TABLE bench_runs (
  id TEXT PRIMARY KEY,               -- chosen by the server when it hands the run out; idempotency key of the submit
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  bench_method TEXT NOT NULL,        -- "internal" or "bench repo, hash <hash>" (tablejohn's display form)
  worker_name TEXT,                  -- NULL for an import
  worker_info TEXT,
  fingerprint TEXT,                  -- JSON, copied from the worker at submit: compare checks the two match
  started_at BIGINT NOT NULL,
  ended_at BIGINT NOT NULL,
  exit_code INTEGER NOT NULL,
  source TEXT NOT NULL,              -- worker or import
  analysed INTEGER NOT NULL DEFAULT 0 -- 1 once change detection has seen it (Analysis.afterRun)
);
CREATE INDEX bench_runs_hash ON bench_runs (hash, ended_at);
CREATE INDEX bench_runs_unanalysed ON bench_runs (ended_at) WHERE analysed = 0;
CREATE TABLE bench_metrics (
  name TEXT PRIMARY KEY,             -- <benchmark>/<measure>
  unit TEXT,
  direction INTEGER NOT NULL DEFAULT 0 -- -1 less is better, 1 more is better, 0 not known yet; set once
);
CREATE TABLE bench_measurements (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  value DOUBLE PRECISION NOT NULL,
  lower_value DOUBLE PRECISION,
  upper_value DOUBLE PRECISION,
  samples TEXT,                      -- JSON array, when the tool reported them
  PRIMARY KEY (run_id, metric)
);
-- a metric's history (graph, detection) without reading every run
CREATE INDEX bench_measurements_metric ON bench_measurements (metric, run_id);
CREATE TABLE bench_run_output (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  source INTEGER NOT NULL,           -- 1 stdout, 2 stderr (tablejohn's Source)
  text TEXT NOT NULL,
  PRIMARY KEY (run_id, line)
);
CREATE TABLE bench_alerts (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  good_hash TEXT NOT NULL,           -- the last commit before the change that was measured
  bad_hash TEXT NOT NULL,            -- the first commit after it that was measured
  blamed_hash TEXT,                  -- the one commit found by bisection (or the only one in the range)
  state TEXT NOT NULL,               -- bisecting, blamed, dismissed
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_alert_metrics (
  alert_id BIGINT NOT NULL REFERENCES bench_alerts (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  before_mean DOUBLE PRECISION NOT NULL,
  after_mean DOUBLE PRECISION NOT NULL,
  change DOUBLE PRECISION NOT NULL,  -- relative: (after - before) / before
  p_value DOUBLE PRECISION NOT NULL,
  regression INTEGER NOT NULL,       -- 1 when the change goes the metric's worse way
  PRIMARY KEY (alert_id, metric)
);`

export const migrations: Migrations = {
  "0001_bench": { sqlite: schema, pg: schemaPg }
}


// -- repository -------------------------------------------------------------------

export interface CommitRow {
  readonly hash: string
  readonly author: string
  readonly author_date: number
  readonly committer: string
  readonly committer_date: number
  readonly message: string
}

/** Bound parameters per multi-row INSERT: SQLite takes at most 32,766. */
const maxParameters = 30_000
const insertChunk = 1000

const chunks = <A>(rows: ReadonlyArray<A>, size = insertChunk): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size))
  return out
}

export const countCommits = (sql: SqlClient.SqlClient) =>
  Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM bench_commits`, (rows) => Number(rows[0]?.n ?? 0))

/** Inserts commits as new (an already known one is left as it is). */
export const insertCommits = (sql: SqlClient.SqlClient, rows: ReadonlyArray<CommitRow>, now: number) =>
  Effect.forEach(chunks(rows, Math.floor(maxParameters / 9)), (chunk) =>
    sql`INSERT INTO bench_commits ${sql.insert(chunk.map((row) => ({
      hash: row.hash,
      author: row.author,
      author_date: row.author_date,
      committer: row.committer,
      committer_date: row.committer_date,
      message: row.message,
      reachable: 0,
      new: 1,
      seen_at: now
    })))}
      ON CONFLICT (hash) DO NOTHING`, { discard: true })

export const insertEdges = (sql: SqlClient.SqlClient, rows: ReadonlyArray<{ child: string; parent: string; position: number }>) =>
  Effect.forEach(chunks(rows, Math.floor(maxParameters / 3)), (chunk) =>
    sql`INSERT INTO bench_commit_edges ${sql.insert(chunk.map((row) => ({ ...row })))} ON CONFLICT (child, parent) DO NOTHING`, { discard: true })

/** Which of `hashes` are stored commits. */
export const knownCommits = (sql: SqlClient.SqlClient, hashes: ReadonlyArray<string>): Effect.Effect<Set<string>, SqlError> =>
  Effect.map(
    Effect.forEach(chunks(hashes, 500), (chunk) => sql<{ hash: string }>`SELECT hash FROM bench_commits WHERE ${sql.in("hash", chunk)}`),
    (lists) => new Set(lists.flat().map((row) => row.hash))
  )

export const commitExists = (sql: SqlClient.SqlClient, hash: string) =>
  Effect.map(sql<{ hash: string }>`SELECT hash FROM bench_commits WHERE hash = ${hash}`, (rows) => rows.length > 0)

/** Stored commits whose hash starts with `prefix` (at most 2: enough to tell an ambiguous one). */
export const commitsByPrefix = (sql: SqlClient.SqlClient, prefix: string) =>
  Effect.map(
    sql<{ hash: string }>`SELECT hash FROM bench_commits WHERE hash >= ${prefix} AND hash < ${prefix + "g"} ORDER BY hash LIMIT 2`,
    (rows) => rows.map((row) => row.hash)
  )

export interface RefRow {
  readonly name: string
  readonly hash: string
  readonly tracked: number
  readonly tracked_chosen: number
  readonly updated_at: number
}

export const listRefs = (sql: SqlClient.SqlClient) => sql<RefRow>`SELECT * FROM bench_refs ORDER BY name`

export const deleteRef = (sql: SqlClient.SqlClient, name: string) => sql`DELETE FROM bench_refs WHERE name = ${name}`

/** Sets a ref's commit; `tracked` applies unless a person chose for this ref (tracked_chosen). */
export const upsertRef = (sql: SqlClient.SqlClient, name: string, hash: string, tracked: boolean, now: number) =>
  sql`INSERT INTO bench_refs (name, hash, tracked, tracked_chosen, updated_at) VALUES (${name}, ${hash}, ${tracked ? 1 : 0}, 0, ${now})
    ON CONFLICT (name) DO UPDATE SET
      tracked = CASE WHEN bench_refs.tracked_chosen = 1 THEN bench_refs.tracked ELSE excluded.tracked END,
      updated_at = CASE WHEN bench_refs.hash = excluded.hash THEN bench_refs.updated_at ELSE excluded.updated_at END,
      hash = excluded.hash`

/** A choice for a ref (a person's; HEAD's branch at the first import): kept from now on whatever bench.trackedRefs says. */
export const setRefTracked = (sql: SqlClient.SqlClient, name: string, tracked: boolean) =>
  Effect.map(
    sql<{ name: string }>`UPDATE bench_refs SET tracked = ${tracked ? 1 : 0}, tracked_chosen = 1 WHERE name = ${name} RETURNING name`,
    (rows) => rows.length > 0
  )

/** tablejohn's reachability: 2 from a tracked ref, 1 from any ref, 0 from none (force-pushed away, a deleted branch). */
export const updateReachable = (sql: SqlClient.SqlClient) =>
  sql`WITH RECURSIVE
      tracked (hash) AS (
        SELECT hash FROM bench_refs WHERE tracked = 1
        UNION
        SELECT e.parent FROM bench_commit_edges e JOIN tracked t ON e.child = t.hash
      ),
      reachable (hash) AS (
        SELECT hash FROM bench_refs
        UNION
        SELECT e.parent FROM bench_commit_edges e JOIN reachable r ON e.child = r.hash
      )
    UPDATE bench_commits SET reachable = CASE
      WHEN hash IN (SELECT hash FROM tracked) THEN 2
      WHEN hash IN (SELECT hash FROM reachable) THEN 1
      ELSE 0
    END`

/** On a first import: the history is not queued, only what the caller picks. */
export const markAllCommitsOld = (sql: SqlClient.SqlClient) => sql`UPDATE bench_commits SET new = 0 WHERE new = 1`

/**
 * Queues the new commits on tracked refs and marks them old. New commits on untracked refs
 * stay new: when a tracked ref later reaches them (a merge, a fast-forward), they are queued then.
 */
export const queueNewTrackedCommits = (sql: SqlClient.SqlClient, now: number) =>
  Effect.zipRight(
    sql`INSERT INTO bench_queue (hash, priority, reason, queued_at)
      SELECT hash, 0, 'new', ${now} FROM bench_commits WHERE new = 1 AND reachable = 2
      ON CONFLICT (hash) DO NOTHING`,
    Effect.map(sql<{ hash: string }>`UPDATE bench_commits SET new = 0 WHERE new = 1 AND reachable = 2 RETURNING hash`, (rows) => rows.length)
  )

/** Commits queued because they were new on a tracked ref that no tracked ref reaches any more (force-pushed away). */
export const dropUntrackedNewFromQueue = (sql: SqlClient.SqlClient) =>
  sql`DELETE FROM bench_queue WHERE reason = 'new' AND hash IN (SELECT hash FROM bench_commits WHERE reachable < 2)`

// -- queue ------------------------------------------------------------------------

export interface QueueRow {
  readonly hash: string
  readonly priority: number
  readonly reason: string
  readonly queued_at: number
  readonly committer_date: number
  readonly message: string
  /** The live worker working on it, if any. */
  readonly worker: string | null
}

/** Queues `hash`, or changes its priority and reason when it is queued already. */
export const enqueue = (sql: SqlClient.SqlClient, hash: string, priority: number, reason: string, now: number) =>
  sql`INSERT INTO bench_queue (hash, priority, reason, queued_at) VALUES (${hash}, ${priority}, ${reason}, ${now})
    ON CONFLICT (hash) DO UPDATE SET priority = excluded.priority, reason = excluded.reason`

export const dequeue = (sql: SqlClient.SqlClient, hash: string) =>
  Effect.map(sql<{ hash: string }>`DELETE FROM bench_queue WHERE hash = ${hash} RETURNING hash`, (rows) => rows.length > 0)

/** The queue in the order workers get it: priority, then newest queued, then newest commit. */
export const listQueue = (sql: SqlClient.SqlClient, liveSince: number) =>
  sql<QueueRow>`SELECT q.hash, q.priority, q.reason, q.queued_at, c.committer_date, c.message,
      (SELECT MIN(w.name) FROM bench_workers w WHERE w.run_hash = q.hash AND w.last_seen >= ${liveSince}) AS worker
    FROM bench_queue q JOIN bench_commits c ON c.hash = q.hash
    ORDER BY q.priority DESC, q.queued_at DESC, c.committer_date DESC, q.hash`

export const queueDepth = (sql: SqlClient.SqlClient) =>
  Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM bench_queue`, (rows) => Number(rows[0]?.n ?? 0))

export const isQueued = (sql: SqlClient.SqlClient, hash: string) =>
  Effect.map(sql<{ hash: string }>`SELECT hash FROM bench_queue WHERE hash = ${hash}`, (rows) => rows.length > 0)

/** The first queued commit no other live worker holds (tablejohn's find_and_reserve_run). */
export const nextQueued = (sql: SqlClient.SqlClient, worker: string, liveSince: number) =>
  Effect.map(
    sql<{ hash: string }>`SELECT q.hash FROM bench_queue q JOIN bench_commits c ON c.hash = q.hash
      WHERE NOT EXISTS (
        SELECT 1 FROM bench_workers w WHERE w.run_hash = q.hash AND w.name <> ${worker} AND w.last_seen >= ${liveSince}
      )
      ORDER BY q.priority DESC, q.queued_at DESC, c.committer_date DESC, q.hash LIMIT 1`,
    (rows) => rows[0]?.hash
  )

// -- workers ----------------------------------------------------------------------

/**
 * The first statement of a worker status's transaction (`Workers.status`), which reads who
 * holds what (a name's secret, the commits live workers hold) and then writes its own claim.
 * SQLite: the write transaction holds the one write lock already. PostgreSQL: a
 * transaction-scoped advisory lock (this key spells "bwrk"), since two statuses there would
 * otherwise both be handed one commit, or both pin one name.
 */
export const lockWorkers = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql`SELECT pg_advisory_xact_lock(1651995243)`),
    orElse: () => Effect.void
  })

export interface WorkerRow {
  readonly name: string
  readonly secret: string
  readonly info: string | null
  readonly fingerprint: string | null
  readonly status: string
  readonly run_id: string | null
  readonly run_hash: string | null
  readonly run_start: number | null
  readonly first_seen: number
  readonly last_seen: number
}

export const getWorker = (sql: SqlClient.SqlClient, name: string) =>
  Effect.map(sql<WorkerRow>`SELECT * FROM bench_workers WHERE name = ${name}`, (rows) => rows[0])

export const listWorkers = (sql: SqlClient.SqlClient) => sql<WorkerRow>`SELECT * FROM bench_workers ORDER BY name`

/** The worker as its status says it is now; `first_seen` restarts when a new secret takes the name. */
export const putWorker = (sql: SqlClient.SqlClient, row: WorkerRow) =>
  sql`INSERT INTO bench_workers ${sql.insert({ ...row })}
    ON CONFLICT (name) DO UPDATE SET
      first_seen = CASE WHEN bench_workers.secret = excluded.secret THEN bench_workers.first_seen ELSE excluded.first_seen END,
      secret = excluded.secret, info = excluded.info,
      fingerprint = COALESCE(excluded.fingerprint, bench_workers.fingerprint),
      status = excluded.status, run_id = excluded.run_id, run_hash = excluded.run_hash, run_start = excluded.run_start,
      last_seen = excluded.last_seen`

/** Another live worker on `hash` that started before (`start`, `name`): the one that keeps the commit. */
export const earlierWorkerOn = (sql: SqlClient.SqlClient, hash: string, name: string, start: number, liveSince: number) =>
  Effect.map(
    sql<{ name: string }>`SELECT name FROM bench_workers
      WHERE run_hash = ${hash} AND name <> ${name} AND last_seen >= ${liveSince}
        AND (run_start < ${start} OR (run_start = ${start} AND name < ${name}))
      LIMIT 1`,
    (rows) => rows[0]?.name
  )

export const countLiveWorkers = (sql: SqlClient.SqlClient, liveSince: number) =>
  Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM bench_workers WHERE last_seen >= ${liveSince}`, (rows) => Number(rows[0]?.n ?? 0))

/** Forgets workers unseen since `before` (their runs keep their name). */
export const pruneWorkers = (sql: SqlClient.SqlClient, before: number) => sql`DELETE FROM bench_workers WHERE last_seen < ${before}`

// -- runs -------------------------------------------------------------------------

export interface RunRow {
  readonly id: string
  readonly hash: string
  readonly bench_method: string
  readonly worker_name: string | null
  readonly worker_info: string | null
  readonly fingerprint: string | null
  readonly started_at: number
  readonly ended_at: number
  readonly exit_code: number
  readonly source: string
}

export const runExists = (sql: SqlClient.SqlClient, id: string) =>
  Effect.map(sql<{ id: string }>`SELECT id FROM bench_runs WHERE id = ${id}`, (rows) => rows.length > 0)

/** Stores a run; false when a run of that id is stored already (a retried submit: nothing is stored twice). */
export const insertRun = (sql: SqlClient.SqlClient, row: RunRow) =>
  Effect.map(
    sql<{ id: string }>`INSERT INTO bench_runs ${sql.insert({ ...row })} ON CONFLICT (id) DO NOTHING RETURNING id`,
    (rows) => rows.length > 0
  )

/**
 * Creates the metrics a run measured. The unit is kept from the first run that gave one; the
 * direction is set once, when first known, and never changed by a later run.
 */
export const upsertMetrics = (
  sql: SqlClient.SqlClient,
  rows: ReadonlyArray<{ name: string; unit: string | null; direction: number }>
) =>
  Effect.forEach(chunks(rows), (chunk) =>
    sql`INSERT INTO bench_metrics ${sql.insert(chunk.map((row) => ({ ...row })))}
      ON CONFLICT (name) DO UPDATE SET
        unit = COALESCE(bench_metrics.unit, excluded.unit),
        direction = CASE WHEN bench_metrics.direction = 0 THEN excluded.direction ELSE bench_metrics.direction END`, { discard: true })

export interface MeasurementRow {
  readonly run_id: string
  readonly metric: string
  readonly value: number
  readonly lower_value: number | null
  readonly upper_value: number | null
  readonly samples: string | null
}

export const insertMeasurements = (sql: SqlClient.SqlClient, rows: ReadonlyArray<MeasurementRow>) =>
  Effect.forEach(chunks(rows), (chunk) => sql`INSERT INTO bench_measurements ${sql.insert(chunk.map((row) => ({ ...row })))}`, { discard: true })

export const insertOutput = (sql: SqlClient.SqlClient, rows: ReadonlyArray<{ run_id: string; line: number; source: number; text: string }>) =>
  Effect.forEach(chunks(rows), (chunk) => sql`INSERT INTO bench_run_output ${sql.insert(chunk.map((row) => ({ ...row })))}`, { discard: true })

export interface RunListRow extends RunRow {
  readonly measurements: number
}

/** The newest runs (of one commit, when `hash` is given). */
export const listRuns = (sql: SqlClient.SqlClient, options: { hash?: string | undefined; limit: number }) =>
  sql<RunListRow>`SELECT r.*, (SELECT COUNT(*) FROM bench_measurements m WHERE m.run_id = r.id) AS measurements
    FROM bench_runs r
    ${options.hash === undefined ? sql`` : sql`WHERE r.hash = ${options.hash}`}
    ORDER BY r.ended_at DESC, r.id LIMIT ${options.limit}`

export const countRuns = (sql: SqlClient.SqlClient) =>
  Effect.map(sql<{ n: number }>`SELECT COUNT(*) AS n FROM bench_runs`, (rows) => Number(rows[0]?.n ?? 0))
