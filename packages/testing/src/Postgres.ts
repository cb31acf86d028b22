/**
 * The PostgreSQL server the tests use, and the databases a test file makes on it: one of
 * the file's own (for schemas), and one per SQLite file path a test names in the postgres
 * pass (see `TestBackend`), so that a daemon, its restart, a second daemon and the test
 * that reads what they wrote all meet in one database. Made on first use, dropped by
 * `dropDatabases` after the file (the vitest setup file `setup.ts` calls it).
 *
 * No vitest import and no work at import: the benches import `@orch/testing` too.
 *
 * The server is `ORCH_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import { Effect, Redacted } from "effect"
import * as path from "node:path"

export const postgresUrl = process.env.ORCH_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** `url` pointing at `database` on the same server. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Runs `statement` on the `url` database through core's own client, in a runtime of its own. */
export const execute = (url: string, statement: string): Promise<void> =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(
      Effect.asVoid,
      Effect.provide(Database.layerPostgres({ url: Redacted.make(url), connectTimeoutMs: 3_000, maxConnections: 1 }))
    )
  )

export const unreachableMessage = (cause: unknown): string =>
  `PostgreSQL is not reachable at ${postgresUrl} (set ORCH_TEST_POSTGRES_URL to another server): ${
    (cause as { message?: string })?.message ?? String(cause)
  }`

/** The error a test gets when it needs PostgreSQL and the server does not answer. */
const unreachable = (cause: unknown): Error =>
  new Error(
    process.env.CI
      ? `${unreachableMessage(cause)}; CI is set, so this test fails rather than skips`
      : unreachableMessage(cause)
  )

let probed: Promise<string | undefined> | undefined

/** Undefined when the server answers, else why not; asked once per test file. */
export const unreachableReason = (): Promise<string | undefined> => {
  probed ??= execute(postgresUrl, "SELECT 1").then(() => undefined, unreachableMessage)
  return probed
}

const prefix = `orch_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
const made = new Map<string, Promise<string>>()

/** Creates `name` once (`clauses`: e.g. a collation); its URL. */
const create = (name: string, clauses = ""): Promise<string> => {
  let url = made.get(name)
  if (url === undefined) {
    url = execute(postgresUrl, `CREATE DATABASE ${name}${clauses}`).then(
      () => withDatabase(postgresUrl, name),
      (cause) => Promise.reject(unreachable(cause))
    )
    made.set(name, url)
  }
  return url
}

/** The URL of the test file's own database, for schemas of its tests. */
export const fileDatabase = (): Promise<string> => create(prefix)

let fresh = 0

/**
 * A new, empty database of its own, whatever the pass (for a child process that can be
 * given a URL but not a schema); its URL. `icuLocale` (e.g. "en-US") gives it a language's
 * collation, which orders text unlike SQLite's bytes.
 */
export const newDatabase = (options: { readonly icuLocale?: string | undefined } = {}): Promise<string> =>
  create(
    `${prefix}_new${++fresh}`,
    options.icuLocale === undefined ? "" : ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale.replace(/'/g, "")}'`
  )

const keyed = new Map<string, string>()

/**
 * The URL of the database that stands for the SQLite file `file` in the postgres pass:
 * the same database for the same path (resolved), a new one for a path not seen before.
 */
export const databaseFor = (file: string): Promise<string> => {
  const key = path.resolve(file)
  let name = keyed.get(key)
  if (name === undefined) {
    name = `${prefix}_${keyed.size + 1}`
    keyed.set(key, name)
  }
  return create(name)
}

/** Drops every database this file made; WITH (FORCE), as a daemon a failed test left running must not keep one alive. */
export const dropDatabases = async (): Promise<void> => {
  const names = [...made.entries()]
  made.clear()
  keyed.clear()
  for (const [name, url] of names) {
    const ok = await url.then(() => true, () => false)
    if (ok) await execute(postgresUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
  }
}
