/**
 * The scheduler's SQL: the schema of its three stores (each its own SQLite file, as
 * Neubot's spec has them, so each is measured and vacuumed alone) and one query per
 * operation. Times are epoch ms. The stores stay SQLite files whatever engine core's
 * database is (PostgreSQL included): each is capped by its bytes on disk and pruned with
 * SQLite's checkpoint and VACUUM, so this SQL is SQLite's alone (no PostgreSQL variant).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import type { Migrations } from "@orch/core/Migrations"

export const configMigrations: Migrations = {
  "1_config": `CREATE TABLE scheduler_config (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL            -- every value as a string; integers are cast back when read
)`
}

export const dataMigrations: Migrations = {
  "1_data": `CREATE TABLE scheduler_data (
  timestamp_msec INTEGER PRIMARY KEY,  -- when the test started
  test_name TEXT NOT NULL,
  json TEXT NOT NULL                   -- the test's result, or {"status":"failed","reason":…}
)`
}

// the spec keys log rows by timestamp alone; two lines in one millisecond would collide,
// so rows get their own id and the timestamp beside it
export const logMigrations: Migrations = {
  "1_log": `CREATE TABLE scheduler_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp INTEGER NOT NULL,
  severity TEXT NOT NULL,        -- DEBUG, INFO, WARNING or ERR (ERROR since 2_error)
  message TEXT NOT NULL
);
CREATE INDEX scheduler_log_timestamp ON scheduler_log (timestamp)`,
  // the 2015 spec said ERR; Neubot 0.4's code and web UI say ERROR
  "2_error": `UPDATE scheduler_log SET severity = 'ERROR' WHERE severity = 'ERR'`
}

// -- config -------------------------------------------------------------------

export interface ConfigRow {
  readonly name: string
  readonly value: string
}

export const listConfig = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<ConfigRow>, SqlError> =>
  sql<ConfigRow>`SELECT name, value FROM scheduler_config ORDER BY name`

export const putConfig = (sql: SqlClient.SqlClient, row: ConfigRow): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql`INSERT INTO scheduler_config (name, value) VALUES (${row.name}, ${row.value})
    ON CONFLICT (name) DO UPDATE SET value = excluded.value`)

// -- data ---------------------------------------------------------------------

export interface DataRow {
  readonly timestamp_msec: number
  readonly test_name: string
  readonly json: string
}

/**
 * Inserts a result at its start time, or 1 ms after the newest row at or past it when
 * that millisecond is taken (runs are sequential, so this is rare); returns the key used.
 */
export const insertData = (
  sql: SqlClient.SqlClient,
  row: DataRow
): Effect.Effect<number, SqlError> =>
  Effect.map(
    sql<{ timestamp_msec: number }>`INSERT INTO scheduler_data (timestamp_msec, test_name, json)
      SELECT coalesce((SELECT max(timestamp_msec) + 1 FROM scheduler_data WHERE timestamp_msec >= ${row.timestamp_msec}), ${row.timestamp_msec}),
        ${row.test_name}, ${row.json}
      RETURNING timestamp_msec`,
    (rows) => Number(rows[0]!.timestamp_msec)
  )

/** Newest first; `since` inclusive, `until` exclusive (epoch ms). */
export const selectData = (
  sql: SqlClient.SqlClient,
  filter: { readonly test?: string | undefined; readonly since?: number | undefined; readonly until?: number | undefined; readonly limit: number }
): Effect.Effect<ReadonlyArray<DataRow>, SqlError> =>
  sql<DataRow>`SELECT timestamp_msec, test_name, json FROM scheduler_data
    WHERE ${filter.test === undefined ? sql`1=1` : sql`test_name = ${filter.test}`}
      AND timestamp_msec >= ${filter.since ?? 0}
      AND ${filter.until === undefined ? sql`1=1` : sql`timestamp_msec < ${filter.until}`}
    ORDER BY timestamp_msec DESC
    LIMIT ${filter.limit}`

/** The newest result of each test, for the status page. */
export const latestPerTest = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<DataRow>, SqlError> =>
  sql<DataRow>`SELECT d.timestamp_msec, d.test_name, d.json FROM scheduler_data d
    JOIN (SELECT test_name, max(timestamp_msec) AS newest FROM scheduler_data GROUP BY test_name) n
      ON n.test_name = d.test_name AND n.newest = d.timestamp_msec
    ORDER BY d.timestamp_msec DESC`

// -- log ----------------------------------------------------------------------

export interface LogRow {
  readonly timestamp: number
  readonly severity: string
  readonly message: string
}

export const insertLog = (sql: SqlClient.SqlClient, row: LogRow): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql`INSERT INTO scheduler_log (timestamp, severity, message) VALUES (${row.timestamp}, ${row.severity}, ${row.message})`)

/** Oldest first unless `newestFirst`; only the given severities. */
export const selectLog = (
  sql: SqlClient.SqlClient,
  filter: { readonly severities: ReadonlyArray<string>; readonly newestFirst: boolean; readonly limit: number }
): Effect.Effect<ReadonlyArray<LogRow>, SqlError> =>
  sql<LogRow>`SELECT timestamp, severity, message FROM (
      SELECT id, timestamp, severity, message FROM scheduler_log
      WHERE ${sql.in("severity", filter.severities)}
      ORDER BY id DESC LIMIT ${filter.limit}
    ) ORDER BY id ${filter.newestFirst ? sql`DESC` : sql`ASC`}`

// -- pruning (any store) ------------------------------------------------------

export interface StoreTable {
  readonly table: string
  /** The column that orders rows from oldest to newest. */
  readonly order: string
}

export const countRows = (sql: SqlClient.SqlClient, store: StoreTable): Effect.Effect<number, SqlError> =>
  Effect.map(sql.unsafe<{ n: number }>(`SELECT count(*) AS n FROM ${store.table}`), (rows) => Number(rows[0]!.n))

/** Deletes the oldest `count` rows by the store's order column. */
export const deleteOldest = (sql: SqlClient.SqlClient, store: StoreTable, count: number): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql.unsafe(
    `DELETE FROM ${store.table} WHERE ${store.order} IN (SELECT ${store.order} FROM ${store.table} ORDER BY ${store.order} LIMIT ?)`,
    [count]
  ))

/** Copies the WAL into the file and truncates the WAL, so the file's size is the whole store. */
export const checkpoint = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql.unsafe("PRAGMA wal_checkpoint(TRUNCATE)"))

/** Rewrites the file without its free pages (it cannot run inside a transaction). */
export const vacuum = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> => Effect.asVoid(sql.unsafe("VACUUM"))
