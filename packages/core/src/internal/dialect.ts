/**
 * Every statement that only SQLite understands lives here, so that a PostgreSQL
 * backend (`@effect/sql-pg`) has one file to provide instead of a hunt.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/** Per-connection settings: WAL is set by the client; these make sharing the file safe. */
export const configureConnection = (
  sql: SqlClient.SqlClient,
  options: { readonly busyTimeoutMs: number; readonly synchronous: "normal" | "full" }
): Effect.Effect<void, SqlError> =>
  Effect.all([
    sql.unsafe(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`),
    sql.unsafe("PRAGMA foreign_keys = ON"),
    sql.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`),
    // the write lock row must exist before any transaction can take it
    sql.unsafe("CREATE TABLE IF NOT EXISTS orch_write_lock (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)"),
    sql.unsafe("INSERT INTO orch_write_lock (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
  ], { discard: true })

/**
 * The first statement of every write transaction: a write that makes SQLite take its
 * write lock now (waiting out busy_timeout) rather than at the transaction's first
 * real write, when a stale read snapshot would fail at once. It matches no row: an
 * UPDATE takes the lock when it starts, whatever it then changes, so no page is dirtied.
 * PostgreSQL needs nothing here: its row locks wait.
 */
export const takeWriteLock = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql.unsafe("UPDATE orch_write_lock SET n = n + 1 WHERE id = 0"))
