/**
 * The shared database: one SQLite file opened through `@effect/sql-sqlite-node`,
 * with the pragmas that let several `orch` processes share it safely.
 *
 * Queries go through `SqlClient` as usual; writes that span several statements go
 * through `Database.transaction`, which takes SQLite's write lock up front.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseError } from "./Errors.js"
import * as Dialect from "./internal/dialect.js"

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

export interface DatabaseInfo {
  readonly filename: string
}

/** Where the database lives; the SQL itself goes through `SqlClient`. */
export class Database extends Context.Tag("@orch/core/Database")<Database, DatabaseInfo>() {}

/**
 * Runs `effect` in one transaction that owns the write lock from its first
 * statement: a deferred SQLite transaction that reads first can fail at once with
 * SQLITE_BUSY when another process commits, instead of waiting its busy timeout.
 * On PostgreSQL no lock is taken (see `internal/dialect.ts`): the SQL modules'
 * compare-and-sets and row locks make the changes safe side by side.
 */
export const transaction = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(Effect.zipRight(Dialect.takeWriteLock(sql), effect)))

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
      Context.add(Database, { filename })
    )
  })

/** Opens (creating if needed) the SQLite file; closes it when the layer's scope ends. */
export const layer = (
  options: DatabaseOptions
): Layer.Layer<Database | SqlClient.SqlClient | SqliteClient.SqliteClient, DatabaseError> =>
  Layer.scopedContext(open(options)).pipe(Layer.provide(Reactivity.layer))
