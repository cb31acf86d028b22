/**
 * What the database engines disagree on beyond single queries: a connection's settings,
 * the write lock a transaction takes first, typed parameters. Each is written with
 * `sql.onDialectOrElse` (a `pg` branch, SQLite as the else), as are the few clauses that
 * differ inside the SQL modules (`FOR UPDATE SKIP LOCKED` on claims), so the PostgreSQL
 * backend adds tests of the `pg` branches rather than a hunt.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Effect, Option } from "effect"

/** The engines orch runs on. */
export type Dialect = "sqlite" | "pg"

export const dialectOf = (sql: SqlClient.SqlClient): Dialect =>
  sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })

/**
 * Per-connection settings. SQLite: WAL is set by the client; these make sharing the file
 * safe. PostgreSQL needs none of them.
 */
export const configureConnection = (
  sql: SqlClient.SqlClient,
  options: { readonly busyTimeoutMs: number; readonly synchronous: "normal" | "full" }
): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({ pg: () => Effect.void, orElse: () => configureSqlite(sql, options) })

const configureSqlite = (
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
 * PostgreSQL takes none: writers run side by side, each change a compare-and-set, and
 * claimers lock the rows they read (`FOR UPDATE SKIP LOCKED`).
 */
export const takeWriteLock = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.void,
    orElse: () => Effect.asVoid(sql.unsafe("UPDATE orch_write_lock SET n = n + 1 WHERE id = 0"))
  })

/**
 * The first statement of a migration's transaction. PostgreSQL: nodes that start at once
 * would each run the same DDL (and two `CREATE TABLE IF NOT EXISTS` side by side can fail
 * on a unique violation in the catalog), so one transaction-scoped advisory lock, on a key
 * of orch's own ("orch" in ASCII), lines them up: the next one re-reads and finds the
 * migration applied. It is let go at commit or rollback, so no crash can leave it held.
 * SQLite: the write lock `Database.transaction` takes does the same.
 */
export const lockMigrations = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql.unsafe("SELECT pg_advisory_xact_lock(1869767528)")),
    orElse: () => Effect.void
  })

/**
 * BIGINT parameters where the engine cannot infer the type from a column: PostgreSQL
 * types an untyped parameter in `CASE … THEN $n` as text, which a BIGINT column refuses.
 * SQLite takes the plain parameter. Choose once per statement, use per value.
 */
export const bigintParam = (sql: SqlClient.SqlClient): (value: number) => Statement.Fragment | number =>
  sql.onDialectOrElse({ pg: () => (value: number) => sql`CAST(${value} AS BIGINT)`, orElse: () => (value: number) => value })

/** PostgreSQL's codes for a transaction it aborted so that others could go on: a deadlock, a serialization conflict. */
const abortedCodes = new Set(["40P01", "40001"])

const isAborted = (error: unknown): boolean =>
  error instanceof SqlError && abortedCodes.has(String((error.cause as { readonly code?: unknown } | undefined)?.code))

/**
 * Runs an outermost transaction again, up to 5 times, when
 * PostgreSQL aborted it to break a deadlock between writers (two batches of releases
 * touching the same resources in different orders, say): its documentation asks the
 * client to retry, and orch's transactions are SQL and clock reads that can run again.
 * A nested transaction (a savepoint) is left to its outermost one; SQLite never aborts so.
 */
export const retryAborted = <A, E, R>(sql: SqlClient.SqlClient, transaction: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) =>
        Option.isSome(outer)
          ? transaction
          // at once: the other side went on when this one was aborted (and no clock to wait on, test clocks included)
          : Effect.retry(transaction, { while: isAborted, times: 5 })),
    orElse: () => transaction
  })
