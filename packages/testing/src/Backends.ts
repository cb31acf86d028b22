/**
 * The two database engines a store test runs on: SQLite (a file per database) and
 * PostgreSQL (a schema per database, in a database of the test file's own that is
 * created on first use and dropped after the file). Use as
 * `describeBackends("Jobs", (backend) => …)` with `backend.database()`: each pass of the
 * suite runs its own engine (`ORCH_TEST_BACKEND`, see `TestBackend`).
 *
 * Not in the package's index: it registers a vitest hook, so only test files import it
 * (`@orch/testing/Backends`).
 *
 * PostgreSQL is `ORCH_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test, see `Postgres`).
 * When it cannot be reached, its tests fail saying so if `CI` is set; otherwise they are
 * skipped, with a warning, so that a machine without PostgreSQL still runs the SQLite half.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { coreMigrations } from "@orch/core/sql/migrations"
import { Effect, Layer, Redacted } from "effect"
import * as path from "node:path"
import { afterAll, describe } from "vitest"
import { dropDatabases, execute, fileDatabase, newDatabase, unreachableReason } from "./Postgres.js"
import { tempDir } from "./TempDir.js"
import { testBackend } from "./TestBackend.js"

export interface Backend {
  readonly name: "sqlite" | "postgres"
  /** A new, empty database's place: a file, or a schema. */
  readonly place: () => string
  /** The database at `place` (default: a new one), opened, not migrated. */
  readonly open: (place?: string) => Layer.Layer<Database.Database | SqlClient.SqlClient>
  /** The database at `place` (default: a new one), opened and migrated like the daemon's. */
  readonly database: (place?: string) => Layer.Layer<Database.Database | SqlClient.SqlClient>
  /** Why this backend's tests are skipped: not this pass's engine, or PostgreSQL unreachable with `CI` unset. */
  readonly skip: string | undefined
}

const migrated = (open: Layer.Layer<Database.Database | SqlClient.SqlClient>) =>
  Layer.effectDiscard(Effect.orDie(Migrations.apply("core", coreMigrations))).pipe(Layer.provideMerge(open))

export const sqlite: Backend = {
  name: "sqlite",
  place: () => path.join(tempDir(), "orch.sqlite"),
  open: (place = sqlite.place()) => Layer.orDie(Database.layer({ filename: place })),
  database: (place) => migrated(sqlite.open(place)),
  skip: undefined
}

const reason = testBackend === "postgres" ? await unreachableReason() : undefined
const skip = testBackend !== "postgres"
  ? "the sqlite pass runs SQLite alone (ORCH_TEST_BACKEND=postgres runs the PostgreSQL pass)"
  : reason === undefined || process.env.CI
  ? undefined
  : `${reason}; CI is unset, so its tests are skipped`
if (reason !== undefined && skip !== undefined) console.warn(skip)

// in case the vitest setup file (which drops them too) is not in the config that runs this file
afterAll(dropDatabases)

let schemas = 0

export const postgres: Backend = {
  name: "postgres",
  place: () => `s${++schemas}`,
  open: (place = postgres.place()) =>
    Layer.unwrapEffect(Effect.gen(function*() {
      // in a runtime of its own: nothing of it reaches the test's clock
      const url = yield* Effect.promise(fileDatabase)
      yield* Effect.promise(() => execute(url, `CREATE SCHEMA IF NOT EXISTS ${place}`))
      return Layer.orDie(Database.layerPostgres({ url: Redacted.make(url), schema: place }))
    })),
  database: (place) => migrated(postgres.open(place)),
  skip
}

/**
 * A new, empty schema in the test file's own PostgreSQL database, as the options of code
 * that connects by itself (`orch db copy`'s core); dropped with the database after the file.
 */
export const postgresSchema = (): Effect.Effect<{ readonly url: Redacted.Redacted<string>; readonly schema: string }> =>
  Effect.gen(function*() {
    const url = yield* Effect.promise(fileDatabase)
    const schema = postgres.place()
    yield* Effect.promise(() => execute(url, `CREATE SCHEMA ${schema}`))
    return { url: Redacted.make(url), schema }
  })

/** `Postgres.newDatabase` as an Effect: a new database's URL, dropped after the file. */
export const postgresDatabase = (options: { readonly icuLocale?: string | undefined } = {}): Effect.Effect<string> =>
  Effect.promise(() => newDatabase(options))

/** The engine of this test pass (`ORCH_TEST_BACKEND`, see `TestBackend`), for `describe.each`. */
export const backends: ReadonlyArray<Backend> = [testBackend === "postgres" ? postgres : sqlite]

/**
 * `describe` once per engine of this pass (the sqlite pass runs SQLite, the postgres pass
 * PostgreSQL), named `"<name> (<engine>)"`; an engine unreachable here (and CI unset)
 * shows as skipped with its reason rather than vanishing.
 */
export const describeBackends = (name: string, body: (backend: Backend) => void): void => {
  for (const backend of backends) {
    describe.skipIf(backend.skip !== undefined)(`${name} (${backend.name})`, () => body(backend))
  }
}
