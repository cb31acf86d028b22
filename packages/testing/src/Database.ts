/**
 * "The database of this test", on the engine of the pass (see `TestBackend`): a real SQLite
 * file, or in the postgres pass the PostgreSQL database that stands for that file (see
 * `Postgres.databaseFor`), which is also what a daemon started on the same file gets.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
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
 * The environment that points a daemon whose SQLite file would be `file` at the database of
 * this test: `{}` in the sqlite pass, `ORCH_DATABASE_URL` in the postgres pass. For daemons
 * built in the test's process (`Config.load`'s environment); `startDaemon` and `run` add it
 * to child processes themselves.
 */
export const testDatabaseEnv = async (file: string): Promise<Record<string, string>> =>
  testBackend === "sqlite" ? {} : { ORCH_DATABASE_URL: await databaseFor(file) }
