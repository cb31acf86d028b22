/**
 * "The database of this test", on the engine of the pass (see `TestBackend`): a real SQLite
 * file, or in the postgres pass the PostgreSQL database that stands for that file (see
 * `Postgres.databaseFor`), which is also what a daemon started on the same file gets.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import type { DatabaseError } from "@orch/core/Errors"
import * as Migrations from "@orch/core/Migrations"
import { coreMigrations } from "@orch/core/sql/migrations"
import { Effect, Layer, Redacted } from "effect"
import * as path from "node:path"
import { databaseFor, execute, fileDatabase } from "./Postgres.js"
import { tempDir } from "./TempDir.js"
import { testBackend } from "./TestBackend.js"

let schemas = 0

/**
 * Opens, not migrated, the database of `filename`: that SQLite file, or its PostgreSQL
 * database. Without `filename`, a new database (in the postgres pass a schema of the test
 * file's database, as no one else can name it).
 */
export const openTestDatabase = (filename?: string): Layer.Layer<Database.Database | SqlClient.SqlClient> =>
  testBackend === "sqlite"
    ? Layer.orDie(Database.layer({ filename: filename ?? path.join(tempDir(), "orch.sqlite") }))
    : Layer.unwrapEffect(
      // in a runtime of its own: nothing of it reaches the test's clock
      Effect.promise(async () => {
        if (filename !== undefined) return Database.layerPostgres({ url: Redacted.make(await databaseFor(filename)) })
        const url = await fileDatabase()
        const schema = `t${++schemas}`
        await execute(url, `CREATE SCHEMA ${schema}`)
        return Database.layerPostgres({ url: Redacted.make(url), schema })
      })
    ).pipe(Layer.orDie)

/** Opens the database of `filename` (default: a new one) and applies core's migrations, like the daemon. */
export const testDatabase = (filename?: string) =>
  Layer.effectDiscard(Migrations.apply("core", coreMigrations)).pipe(
    Layer.provideMerge(openTestDatabase(filename)),
    Layer.orDie
  )

/**
 * `Config.load`'s environment for a daemon built in the test's process with its data in
 * `dataDir`: `{}` in the sqlite pass, the `ORCH_DATABASE_URL` of the database standing for
 * `dataDir/orch.sqlite` in the postgres pass (`startDaemon` and `run` do this for child
 * processes themselves).
 */
export const testDaemonEnv = (dataDir: string): Effect.Effect<Record<string, string>> =>
  testBackend === "sqlite"
    ? Effect.succeed({})
    : Effect.promise(() => databaseFor(path.join(dataDir, "orch.sqlite"))).pipe(Effect.map((url) => ({ ORCH_DATABASE_URL: url })))

/**
 * How a child process of the test (a fixture) is told the database of `filename`: that
 * path, or in the postgres pass its PostgreSQL URL. The child opens it with `openDatabaseAt`.
 */
export const testDatabasePlace = async (filename: string): Promise<string> =>
  testBackend === "sqlite" ? filename : await databaseFor(filename)

/** In a fixture process: opens what `testDatabasePlace` gave it, a SQLite path or a PostgreSQL URL. */
export const openDatabaseAt = (place: string): Layer.Layer<Database.Database | SqlClient.SqlClient, DatabaseError> =>
  /^postgres(ql)?:\/\//.test(place) ? Database.layerPostgres({ url: Redacted.make(place) }) : Database.layer({ filename: place })

/**
 * Runs one statement on the database of `filename` (see `openTestDatabase`) and closes it:
 * how a test reads what a daemon wrote, as an operator's tool would. `statement` is one
 * text for both engines, or one per engine.
 */
export const queryTestDatabase = <A extends object = Record<string, unknown>>(
  filename: string,
  statement: string | { readonly sqlite: string; readonly pg: string }
): Promise<ReadonlyArray<A>> =>
  Effect.runPromise(
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql.unsafe<A>(typeof statement === "string" ? statement : testBackend === "sqlite" ? statement.sqlite : statement.pg)
    ).pipe(Effect.provide(openTestDatabase(filename)), Effect.orDie)
  )
