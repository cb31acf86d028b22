/**
 * The shared database: one SQLite file opened through `@effect/sql-sqlite-node`, with
 * the pragmas that let several `orch` processes share it safely, or one PostgreSQL
 * database through `@effect/sql-pg`, which several orch nodes share.
 *
 * Queries go through `SqlClient` as usual; writes that span several statements go
 * through `Database.transaction`, which takes SQLite's write lock up front.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Context, Effect, Layer, type Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseError } from "./Errors.js"
import * as Dialect from "./internal/dialect.js"
import * as Postgres from "./internal/postgres.js"

export interface DatabaseOptions {
  /** Path of the SQLite file; its folder is created when missing. */
  readonly filename: string
  /** How long a statement waits for another process's write lock, in ms. */
  readonly busyTimeoutMs?: number | undefined
  /**
   * `normal` (the default) survives any process crash in WAL mode; `full` also
   * survives power loss at the cost of an fsync per commit.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly url: Redacted.Redacted<string>
  /** How long opening a connection may take, in ms. */
  readonly connectTimeoutMs?: number | undefined
  /** Connections in the pool. */
  readonly maxConnections?: number | undefined
  /** A schema of its own (the search path of every connection), e.g. one per test. */
  readonly schema?: string | undefined
}

export interface DatabaseInfo {
  readonly dialect: Dialect.Dialect
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string
}

/** Where the database lives; the SQL itself goes through `SqlClient`. */
export class Database extends Context.Tag("@orch/core/Database")<Database, DatabaseInfo>() {}

/**
 * Runs `effect` in one transaction that owns the write lock from its first
 * statement: a deferred SQLite transaction that reads first can fail at once with
 * SQLITE_BUSY when another process commits, instead of waiting its busy timeout.
 * On PostgreSQL no lock is taken (see `internal/dialect.ts`): the SQL modules'
 * compare-and-sets and row locks make the changes safe side by side, at READ COMMITTED
 * (set per connection, see `internal/postgres.ts`), where a compare-and-set that waited
 * on another writer's row re-checks its condition on the committed row; a transaction
 * PostgreSQL aborts to break a deadlock runs again (`Dialect.retryAborted`).
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Dialect.retryAborted(sql, sql.withTransaction(Effect.zipRight(Dialect.takeWriteLock(sql), effect))))

const open = (options: DatabaseOptions) =>
  Effect.gen(function*() {
    const filename = path.resolve(options.filename)
    yield* Effect.try({
      try: () => fs.mkdirSync(path.dirname(filename), { recursive: true }),
      catch: (cause) => new DatabaseError({ message: `cannot create the folder of ${filename}: ${String(cause)}`, cause })
    })
    const client = yield* SqliteClient.make({ filename }).pipe(
      // better-sqlite3 throws from its constructor (a folder, no permission, not a database)
      Effect.catchAllDefect((cause) =>
        new DatabaseError({ message: `cannot open database ${filename}: ${String(cause)}`, cause })
      )
    )
    yield* Dialect.configureConnection(client, {
      busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
      synchronous: options.synchronous ?? "normal"
    }).pipe(
      Effect.mapError((cause) =>
        new DatabaseError({ message: `cannot use database ${filename}: ${cause.message} (${String(cause.cause)})`, cause })
      )
    )
    return Context.make(SqliteClient.SqliteClient, client).pipe(
      Context.add(SqlClient.SqlClient, client),
      Context.add(Database, { dialect: "sqlite", location: filename })
    )
  })

/** Opens (creating if needed) the SQLite file; closes it when the layer's scope ends. */
export const layer = (
  options: DatabaseOptions
): Layer.Layer<Database | SqlClient.SqlClient | SqliteClient.SqliteClient, DatabaseError> =>
  Layer.scopedContext(open(options)).pipe(Layer.provide(Reactivity.layer))

/**
 * Connects to the PostgreSQL database at `options.url`; fails with a DatabaseError naming
 * the server (never the password) when the URL is bad or the server cannot be reached.
 * Closes the pool when the layer's scope ends.
 */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<Database | SqlClient.SqlClient | PgClient.PgClient, DatabaseError> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const client = yield* Postgres.connect(options)
      return Context.make(PgClient.PgClient, client).pipe(
        Context.add(SqlClient.SqlClient, client),
        Context.add(Database, {
          dialect: "pg",
          location: `${Postgres.location(options.url)}${options.schema === undefined ? "" : ` (schema ${options.schema})`}`
        })
      )
    })
  ).pipe(Layer.provide(Reactivity.layer))

/** Where the database is: a SQLite file or a PostgreSQL URL. */
export type Target =
  | { readonly dialect: "sqlite"; readonly options: DatabaseOptions }
  | { readonly dialect: "pg"; readonly options: PostgresOptions }

/** The database `target` names, either engine, as the services see it. */
export const layerFor = (target: Target): Layer.Layer<Database | SqlClient.SqlClient, DatabaseError> =>
  target.dialect === "pg" ? layerPostgres(target.options) : layer(target.options)

