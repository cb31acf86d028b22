/**
 * The watcher's SQL, all of it. Results are kept per endpoint up to a count (the newest
 * `keepResults`); uptime comes from hourly counts kept 8 days, so the 7-day uptime does
 * not need a week of rows; states and their changes (events) are one row per endpoint and
 * one per change.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export const migrations = {
  "0001_watcher": `
CREATE TABLE watcher_results (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  scheduled_at BIGINT NOT NULL,      -- the run's due time (cron time plus the endpoint's offset)
  started_at BIGINT NOT NULL,
  lag_ms BIGINT NOT NULL,            -- started_at - scheduled_at
  duration_ms DOUBLE PRECISION NOT NULL,
  success INTEGER NOT NULL,
  status INTEGER,                    -- HTTP status, when there was a response
  reasons TEXT NOT NULL,             -- JSON array of why it failed
  extracted TEXT NOT NULL,           -- JSON object of the response_json_values
  phases TEXT NOT NULL,              -- JSON object of ms per phase
  certificate_expires_at BIGINT
);
CREATE INDEX watcher_results_endpoint ON watcher_results (endpoint, id);
CREATE TABLE watcher_states (
  endpoint TEXT PRIMARY KEY,
  state TEXT NOT NULL,               -- unknown, up, down
  failures INTEGER NOT NULL,         -- consecutive failures (0 after a success)
  successes INTEGER NOT NULL,        -- consecutive successes (0 after a failure)
  changed_at BIGINT,
  checked_at BIGINT NOT NULL
);
CREATE TABLE watcher_events (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL,
  at BIGINT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX watcher_events_endpoint ON watcher_events (endpoint, id);
CREATE TABLE watcher_uptime (
  endpoint TEXT NOT NULL,
  hour BIGINT NOT NULL,              -- epoch ms of the hour's start
  checks INTEGER NOT NULL,
  successes INTEGER NOT NULL,
  PRIMARY KEY (endpoint, hour)
);`,
  // jobsets shared by the workers (every orch process running the watcher on this database)
  "0002_watcher_jobsets": `
CREATE TABLE watcher_jobsets (
  id INTEGER PRIMARY KEY,            -- the bucket: a hash of the endpoint key modulo watcher.jobsets
  owner TEXT,                        -- host:pid:watcher of the worker holding it; NULL when free
  version BIGINT NOT NULL,           -- bumped by every change (etcd's modifiedIndex): what each compare-and-set compares
  token BIGINT NOT NULL,             -- the version at the owner's claim (kept by renewals): the fencing token of its writes
  expires_at BIGINT NOT NULL,        -- the lease: past it, any worker may take the jobset over
  changed_at BIGINT NOT NULL
);
CREATE TABLE watcher_workers (
  owner TEXT PRIMARY KEY,            -- host:pid:watcher
  seen_at BIGINT NOT NULL,           -- its heartbeat: live while within a lease of now
  jobsets INTEGER NOT NULL           -- how many it held at that heartbeat (for people)
);`,
  // the status page's newest failures, found without walking every result (20,000 endpoints keep 10 million)
  "0003_watcher_failures": `CREATE INDEX watcher_results_failures ON watcher_results (id) WHERE success = 0;`,
  // the self-monitor's episode ("scaling limit hit" until "scaling limit cleared"), kept across restarts
  "0004_watcher_self_episode": `
CREATE TABLE watcher_self_episode (
  id INTEGER PRIMARY KEY CHECK (id = 1), -- one: the episode of the watcher on this database
  state TEXT NOT NULL,               -- down (behind) or up
  owner TEXT NOT NULL,               -- the worker that last changed it (host:pid:watcher)
  changed_at BIGINT NOT NULL
);`
}

export interface ResultRow {
  readonly endpoint: string
  readonly scheduled_at: number
  readonly started_at: number
  readonly lag_ms: number
  readonly duration_ms: number
  readonly success: number
  readonly status: number | null
  readonly reasons: string
  readonly extracted: string
  readonly phases: string
  readonly certificate_expires_at: number | null
}

export interface StateRow {
  readonly endpoint: string
  readonly state: "unknown" | "up" | "down"
  readonly failures: number
  readonly successes: number
  readonly changed_at: number | null
  readonly checked_at: number
}

export interface EventRow {
  readonly id: number
  readonly endpoint: string
  readonly at: number
  readonly from_state: string
  readonly to_state: string
  readonly reason: string
}

const hourMs = 3_600_000
/** Hourly counts older than this are deleted: the status page shows 7 days. */
export const uptimeKeepMs = 8 * 24 * hourMs

export const insertResult = (sql: SqlClient.SqlClient, row: ResultRow) => sql`INSERT INTO watcher_results ${sql.insert({ ...row })}`

/** Deletes all but the newest `keep` results of `endpoint` (by the index on (endpoint, id)). */
export const pruneResults = (sql: SqlClient.SqlClient, endpoint: string, keep: number) =>
  sql`DELETE FROM watcher_results WHERE endpoint = ${endpoint} AND id <= (
    SELECT id FROM watcher_results WHERE endpoint = ${endpoint} ORDER BY id DESC LIMIT 1 OFFSET ${keep}
  )`

export const countUptime = (sql: SqlClient.SqlClient, endpoint: string, at: number, success: boolean) => {
  const hour = Math.floor(at / hourMs) * hourMs
  const s = success ? 1 : 0
  return sql`INSERT INTO watcher_uptime (endpoint, hour, checks, successes) VALUES (${endpoint}, ${hour}, 1, ${s})
    ON CONFLICT (endpoint, hour) DO UPDATE SET checks = watcher_uptime.checks + 1, successes = watcher_uptime.successes + ${s}`
}

export const pruneUptime = (sql: SqlClient.SqlClient, now: number) => sql`DELETE FROM watcher_uptime WHERE hour < ${now - uptimeKeepMs}`

export const getState = (sql: SqlClient.SqlClient, endpoint: string): Effect.Effect<StateRow | undefined, SqlError> =>
  Effect.map(sql<StateRow>`SELECT * FROM watcher_states WHERE endpoint = ${endpoint}`, (rows) => rows[0])

export const putState = (sql: SqlClient.SqlClient, row: StateRow) =>
  sql`INSERT INTO watcher_states ${sql.insert({ ...row })}
    ON CONFLICT (endpoint) DO UPDATE SET state = ${row.state}, failures = ${row.failures}, successes = ${row.successes},
      changed_at = ${row.changed_at}, checked_at = ${row.checked_at}`

export const insertEvent = (sql: SqlClient.SqlClient, row: Omit<EventRow, "id">) => sql`INSERT INTO watcher_events ${sql.insert({ ...row })}`

export const listStates = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<StateRow>, SqlError> => sql<StateRow>`SELECT * FROM watcher_states`

/**
 * The newest `perEndpoint` results of each of `endpoints`, newest first within each (the
 * status page's chart, newest check and the failures among them). Driven by the endpoints'
 * state rows (every checked endpoint has one; CROSS JOIN keeps SQLite from scanning every
 * result instead), each read as a range of its (endpoint, id) index from its
 * perEndpoint-th newest id: the rows read are endpoints × perEndpoint, however many are kept.
 */
export const newestResultsOf = (sql: SqlClient.SqlClient, endpoints: ReadonlyArray<string>, perEndpoint: number): Effect.Effect<ReadonlyArray<ResultRow & { id: number }>, SqlError> =>
  endpoints.length === 0 ? Effect.succeed([]) : sql<ResultRow & { id: number }>`SELECT r.*
    FROM watcher_states s CROSS JOIN watcher_results r
    WHERE s.endpoint IN ${sql.in(endpoints)} AND r.endpoint = s.endpoint AND r.id >= COALESCE(
      (SELECT id FROM watcher_results WHERE endpoint = s.endpoint ORDER BY id DESC LIMIT 1 OFFSET ${perEndpoint - 1}), 0)
    ORDER BY r.endpoint, r.id DESC`

/**
 * The durations of the newest `perEndpoint` results of each of `endpoints`, newest first
 * within each (the TUI's latency sparklines): `newestResultsOf`'s bounded read (one range of
 * the (endpoint, id) index per endpoint) without the result's text columns.
 */
export const newestDurationsOf = (sql: SqlClient.SqlClient, endpoints: ReadonlyArray<string>, perEndpoint: number): Effect.Effect<ReadonlyArray<{ endpoint: string; id: number; duration_ms: number; success: number }>, SqlError> =>
  endpoints.length === 0 ? Effect.succeed([]) : sql<{ endpoint: string; id: number; duration_ms: number; success: number }>`SELECT r.endpoint, r.id, r.duration_ms, r.success
    FROM watcher_states s CROSS JOIN watcher_results r
    WHERE s.endpoint IN ${sql.in(endpoints)} AND r.endpoint = s.endpoint AND r.id >= COALESCE(
      (SELECT id FROM watcher_results WHERE endpoint = s.endpoint ORDER BY id DESC LIMIT 1 OFFSET ${perEndpoint - 1}), 0)
    ORDER BY r.endpoint, r.id DESC`

/** The newest `perEndpoint` failed results of each of `endpoints`, newest first within each. */
export const newestFailuresOf = (sql: SqlClient.SqlClient, endpoints: ReadonlyArray<string>, perEndpoint: number): Effect.Effect<ReadonlyArray<ResultRow & { id: number }>, SqlError> =>
  endpoints.length === 0 ? Effect.succeed([]) : sql<ResultRow & { id: number }>`SELECT * FROM (
      SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.endpoint ORDER BY r.id DESC) AS newest
      FROM watcher_results r WHERE r.endpoint IN ${sql.in(endpoints)} AND r.success = 0
    ) failed WHERE newest <= ${perEndpoint} ORDER BY endpoint, id DESC`

/** Checks and successes of each of `endpoints` since `since` (through the (endpoint, hour) key). */
export const uptimeOf = (sql: SqlClient.SqlClient, endpoints: ReadonlyArray<string>, since: number): Effect.Effect<ReadonlyArray<{ endpoint: string; checks: number; successes: number }>, SqlError> =>
  endpoints.length === 0 ? Effect.succeed([]) : sql<{ endpoint: string; checks: number; successes: number }>`SELECT endpoint, SUM(checks) AS checks, SUM(successes) AS successes
    FROM watcher_uptime WHERE endpoint IN ${sql.in(endpoints)} AND hour >= ${Math.floor(since / hourMs) * hourMs} GROUP BY endpoint`

export const recentEvents = (sql: SqlClient.SqlClient, limit: number): Effect.Effect<ReadonlyArray<EventRow>, SqlError> =>
  sql<EventRow>`SELECT * FROM watcher_events ORDER BY id DESC LIMIT ${limit}`

// ---- the self-monitor's episode

/** The episode's state: down while the watcher is behind; undefined before the first one. */
export const getEpisode = (sql: SqlClient.SqlClient): Effect.Effect<"up" | "down" | undefined, SqlError> =>
  Effect.map(sql<{ state: "up" | "down" }>`SELECT state FROM watcher_self_episode WHERE id = 1`, (rows) => rows[0]?.state)

/** Starts an episode unless one is on (raised before a restart, or by another worker): true when this call started it. */
export const startEpisode = (sql: SqlClient.SqlClient, owner: string, now: number): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`INSERT INTO watcher_self_episode (id, state, owner, changed_at) VALUES (1, 'down', ${owner}, ${now})
      ON CONFLICT (id) DO UPDATE SET state = 'down', owner = ${owner}, changed_at = ${now} WHERE watcher_self_episode.state <> 'down'
      RETURNING id`,
    (rows) => rows.length > 0
  )

/**
 * Ends the episode if it is on and `owner` started it, or its starter is no longer live
 * (no heartbeat since `liveSince`: this process before a restart): true when this call
 * ended it. Another live worker's episode is its own to end.
 */
export const endEpisode = (sql: SqlClient.SqlClient, owner: string, liveSince: number, now: number): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`UPDATE watcher_self_episode SET state = 'up', owner = ${owner}, changed_at = ${now}
      WHERE id = 1 AND state = 'down' AND (owner = ${owner} OR owner NOT IN (SELECT owner FROM watcher_workers WHERE seen_at >= ${liveSince}))
      RETURNING id`,
    (rows) => rows.length > 0
  )

// ---- jobsets: every claim, renewal and release is a compare-and-set on `version` in its own statement,
// so it is correct with several writers whatever the engine's locking (PostgreSQL later, unchanged).

export interface JobsetRow {
  readonly id: number
  readonly owner: string | null
  readonly version: number
  readonly token: number
  readonly expires_at: number
}

const jobsetRow = (raw: Record<string, unknown>): JobsetRow => ({
  id: Number(raw.id),
  owner: (raw.owner as string | null) ?? null,
  version: Number(raw.version),
  token: Number(raw.token),
  expires_at: Number(raw.expires_at)
})

/** Creates jobsets 0..count-1 that do not exist yet, free (several workers may run it at once: existing rows are left alone). */
export const ensureJobsets = (sql: SqlClient.SqlClient, count: number, now: number) =>
  sql`INSERT INTO watcher_jobsets ${
    sql.insert(Array.from({ length: count }, (_, id) => ({ id, owner: null, version: 0, token: 0, expires_at: 0, changed_at: now })))
  } ON CONFLICT (id) DO NOTHING`

/** The worker's heartbeat: its row says it is live (and how many jobsets it holds) as of `now`. */
export const heartbeat = (sql: SqlClient.SqlClient, owner: string, now: number, jobsets: number) =>
  sql`INSERT INTO watcher_workers (owner, seen_at, jobsets) VALUES (${owner}, ${now}, ${jobsets})
    ON CONFLICT (owner) DO UPDATE SET seen_at = ${now}, jobsets = ${jobsets}`

/** Workers whose heartbeat is at or after `since` (the live ones, this one included). */
export const liveWorkers = (sql: SqlClient.SqlClient, since: number): Effect.Effect<number, SqlError> =>
  Effect.map(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM watcher_workers WHERE seen_at >= ${since}`, (rows) => Number(rows[0]!.n))

/** Forgets workers silent since before `before` (a stopped worker deletes its own row). */
export const forgetWorkers = (sql: SqlClient.SqlClient, before: number) => sql`DELETE FROM watcher_workers WHERE seen_at < ${before}`

export const deleteWorker = (sql: SqlClient.SqlClient, owner: string) => sql`DELETE FROM watcher_workers WHERE owner = ${owner}`

/** Jobsets 0..count-1 (rows past `count` belong to another setting of watcher.jobsets and are ignored). */
export const listJobsets = (sql: SqlClient.SqlClient, count: number): Effect.Effect<ReadonlyArray<JobsetRow>, SqlError> =>
  Effect.map(sql<Record<string, unknown>>`SELECT id, owner, version, token, expires_at FROM watcher_jobsets WHERE id < ${count} ORDER BY id`, (rows) => rows.map(jobsetRow))

/**
 * Claims a free or expired jobset seen at `version`: matches nothing if anyone changed it
 * since (another worker claimed it first). The new version is the owner's fencing token.
 */
export const claimJobset = (sql: SqlClient.SqlClient, id: number, version: number, owner: string, expiresAt: number, now: number) =>
  Effect.map(
    sql<{ version: unknown }>`UPDATE watcher_jobsets SET owner = ${owner}, version = version + 1, token = version + 1, expires_at = ${expiresAt}, changed_at = ${now}
      WHERE id = ${id} AND version = ${version} AND (owner IS NULL OR expires_at <= ${now}) RETURNING version`,
    (rows) => rows.length === 0 ? undefined : Number(rows[0]!.version)
  )

/** Extends the owner's lease if the jobset is still as it left it: no row back means it was taken over (a partition, a stall). */
export const renewJobset = (sql: SqlClient.SqlClient, id: number, version: number, owner: string, expiresAt: number, now: number) =>
  Effect.map(
    sql<{ version: unknown }>`UPDATE watcher_jobsets SET version = version + 1, expires_at = ${expiresAt}, changed_at = ${now}
      WHERE id = ${id} AND owner = ${owner} AND version = ${version} RETURNING version`,
    (rows) => rows.length === 0 ? undefined : Number(rows[0]!.version)
  )

/** Hands a jobset back (free at once, for any worker to claim), if the owner still holds it as it left it. */
export const releaseJobset = (sql: SqlClient.SqlClient, id: number, version: number, owner: string, now: number) =>
  Effect.map(
    sql<{ version: unknown }>`UPDATE watcher_jobsets SET owner = NULL, version = version + 1, expires_at = 0, changed_at = ${now}
      WHERE id = ${id} AND owner = ${owner} AND version = ${version} RETURNING version`,
    (rows) => rows.length > 0
  )

/**
 * The fence, first in a result's transaction: does `owner` still hold jobset `id` under
 * `token`? A stale owner (taken over since) finds no row and its write is refused. In
 * PostgreSQL the row is share-locked, so a takeover waits for this transaction's commit.
 */
export const holdsJobset = (sql: SqlClient.SqlClient, id: number, owner: string, token: number): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql<{ id: unknown }>`SELECT id FROM watcher_jobsets WHERE id = ${id} AND owner = ${owner} AND token = ${token}${
      sql.onDialectOrElse({ pg: () => sql` FOR SHARE`, orElse: () => sql`` })
    }`,
    (rows) => rows.length > 0
  )

/** Every worker's heartbeat row (for the jobsets API). */
export const listWorkers = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<{ owner: string; seen_at: number; jobsets: number }>, SqlError> =>
  Effect.map(sql<Record<string, unknown>>`SELECT owner, seen_at, jobsets FROM watcher_workers ORDER BY owner`, (rows) =>
    rows.map((row) => ({ owner: String(row.owner), seen_at: Number(row.seen_at), jobsets: Number(row.jobsets) })))
