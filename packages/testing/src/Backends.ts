/**
 * The two database engines a store test runs on: SQLite (a file per database) and
 * PostgreSQL (a schema per database, in a database of the test file's own that is
 * created on first use and dropped after the file). Use as
 * `describe.each(backends)("Jobs on $name", (backend) => …)` with `backend.database()`.
 *
 * Not in the package's index: it registers a vitest hook, so only test files import it
 * (`@orch/testing/Backends`).
 *
 * PostgreSQL is `ORCH_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test).
 * When it cannot be reached, its tests fail saying so if `CI` is set; otherwise they are
 * skipped, with a warning, so that a machine without PostgreSQL still runs the SQLite half.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { coreMigrations } from "@orch/core/sql/migrations"
import { Effect, Layer, Redacted } from "effect"
import * as path from "node:path"
import { afterAll, describe } from "vitest"
import { tempDir } from "./TempDir.js"

export interface Backend {
  readonly name: "sqlite" | "postgres"
  /** A new, empty database's place: a file, or a schema. */
  readonly place: () => string
  /** The database at `place` (default: a new one), opened, not migrated. */
  readonly open: (place?: string) => Layer.Layer<Database.Database | SqlClient.SqlClient>
  /** The database at `place` (default: a new one), opened and migrated like the daemon's. */
  readonly database: (place?: string) => Layer.Layer<Database.Database | SqlClient.SqlClient>
  /** Why this backend's tests are skipped on this machine (PostgreSQL unreachable, `CI` unset). */
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

export const postgresUrl = process.env.ORCH_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"

const withUrlDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Runs `statement` on the server's `url` database through core's own client. */
const run = (url: string, statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(Database.layerPostgres({ url: Redacted.make(url), connectTimeoutMs: 3_000, maxConnections: 1 })))

const unreachable = (cause: unknown) =>
  `PostgreSQL is not reachable at ${postgresUrl} (set ORCH_TEST_POSTGRES_URL to another server): ${
    (cause as { message?: string })?.message ?? String(cause)
  }`

/** Whether the server answers: probed once per test file, at import. */
const probe = await Effect.runPromise(Effect.either(run(postgresUrl, "SELECT 1")))
const reachable = probe._tag === "Right"
const skip = reachable || process.env.CI ? undefined : `${unreachable(probe._tag === "Left" ? probe.left : "")}; CI is unset, so its tests are skipped`
if (skip !== undefined) console.warn(skip)

// the test file's own database, made on first use and dropped after the file
const fileDatabase = `orch_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
let created: Promise<string> | undefined
let schemas = 0

const databaseUrl = (): Effect.Effect<string> =>
  Effect.promise(() => {
    created ??= Effect.runPromise(
      run(postgresUrl, `CREATE DATABASE ${fileDatabase}`).pipe(
        Effect.as(withUrlDatabase(postgresUrl, fileDatabase)),
        Effect.catchAll((cause) =>
          Effect.die(new Error(process.env.CI ? `${unreachable(cause)}; CI is set, so this test fails rather than skips` : unreachable(cause)))
        )
      )
    )
    return created
  })

afterAll(async () => {
  if (created === undefined) return
  const ok = await created.then(() => true, () => false)
  // WITH (FORCE): a layer a failed test left open must not keep the database alive
  if (ok) await Effect.runPromise(Effect.ignore(run(postgresUrl, `DROP DATABASE IF EXISTS ${fileDatabase} WITH (FORCE)`)))
})

export const postgres: Backend = {
  name: "postgres",
  place: () => `s${++schemas}`,
  open: (place = postgres.place()) =>
    Layer.unwrapEffect(Effect.gen(function*() {
      const url = yield* databaseUrl()
      // in a runtime of its own: nothing of it reaches the test's clock
      yield* Effect.promise(() => Effect.runPromise(run(url, `CREATE SCHEMA IF NOT EXISTS ${place}`)))
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
    const url = yield* databaseUrl()
    const schema = postgres.place()
    yield* Effect.promise(() => Effect.runPromise(run(url, `CREATE SCHEMA ${schema}`)))
    return { url: Redacted.make(url), schema }
  })

let databases = 0
const extraDatabases: Array<string> = []

/**
 * A new, empty PostgreSQL database of its own (for a child process that can be given a URL
 * but not a schema), dropped after the file; its URL. `icuLocale` (e.g. "en-US") gives it
 * a language's collation, which orders text unlike SQLite's bytes.
 */
export const postgresDatabase = (options: { readonly icuLocale?: string | undefined } = {}): Effect.Effect<string> =>
  Effect.gen(function*() {
    yield* databaseUrl()
    const name = `${fileDatabase}_${++databases}`
    const locale = options.icuLocale === undefined ? "" : ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale.replace(/'/g, "")}'`
    yield* Effect.promise(() => Effect.runPromise(run(postgresUrl, `CREATE DATABASE ${name}${locale}`)))
    extraDatabases.push(name)
    return withUrlDatabase(postgresUrl, name)
  })

afterAll(async () => {
  for (const name of extraDatabases) {
    await Effect.runPromise(Effect.ignore(run(postgresUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  }
})

/** Both engines, for `describe.each`. */
export const backends: ReadonlyArray<Backend> = [sqlite, postgres]

/**
 * `describe` once per engine, named `"<name> (<engine>)"`; an engine unreachable here
 * (and CI unset) shows as skipped with its reason rather than vanishing.
 */
export const describeBackends = (name: string, body: (backend: Backend) => void): void => {
  for (const backend of backends) {
    describe.skipIf(backend.skip !== undefined)(`${name} (${backend.name})`, () => body(backend))
  }
}
