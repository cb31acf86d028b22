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

/** The newest result of every endpoint (the id index finds each endpoint's maximum). */
export const latestResults = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<ResultRow & { id: number }>, SqlError> =>
  sql<ResultRow & { id: number }>`SELECT r.* FROM watcher_results r
    JOIN (SELECT endpoint, MAX(id) AS id FROM watcher_results GROUP BY endpoint) latest ON latest.id = r.id`

/** The newest failures of `endpoint`, newest first. */
export const recentFailures = (sql: SqlClient.SqlClient, endpoint: string, limit: number): Effect.Effect<ReadonlyArray<ResultRow>, SqlError> =>
  sql<ResultRow>`SELECT * FROM watcher_results WHERE endpoint = ${endpoint} AND success = 0 ORDER BY id DESC LIMIT ${limit}`

/** The newest results of `endpoint`, newest first (for its response-time history). */
export const recentResults = (sql: SqlClient.SqlClient, endpoint: string, limit: number): Effect.Effect<ReadonlyArray<ResultRow>, SqlError> =>
  sql<ResultRow>`SELECT * FROM watcher_results WHERE endpoint = ${endpoint} ORDER BY id DESC LIMIT ${limit}`

/** The newest `perEndpoint` response times and outcomes of every endpoint, newest first (for the status page's chart). */
export const responseHistory = (sql: SqlClient.SqlClient, perEndpoint: number): Effect.Effect<ReadonlyArray<{ endpoint: string; duration_ms: number; success: number; started_at: number }>, SqlError> =>
  sql<{ endpoint: string; duration_ms: number; success: number; started_at: number }>`SELECT endpoint, duration_ms, success, started_at FROM (
    SELECT endpoint, duration_ms, success, started_at, ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY id DESC) AS n FROM watcher_results
  ) ranked WHERE n <= ${perEndpoint} ORDER BY endpoint, started_at DESC`

/** Checks and successes of every endpoint since `since`. */
export const uptimeSince = (sql: SqlClient.SqlClient, since: number): Effect.Effect<ReadonlyArray<{ endpoint: string; checks: number; successes: number }>, SqlError> =>
  sql<{ endpoint: string; checks: number; successes: number }>`SELECT endpoint, SUM(checks) AS checks, SUM(successes) AS successes
    FROM watcher_uptime WHERE hour >= ${Math.floor(since / hourMs) * hourMs} GROUP BY endpoint`

export const recentEvents = (sql: SqlClient.SqlClient, limit: number): Effect.Effect<ReadonlyArray<EventRow>, SqlError> =>
  sql<EventRow>`SELECT * FROM watcher_events ORDER BY id DESC LIMIT ${limit}`
