/**
 * Per-owner migrations ("core" and each plugin): numbered plain-SQL scripts embedded
 * as a record, applied in order at start and by `orch db migrate`, recorded in
 * `orch_migrations`. Several processes may start at once: a lock (SQLite's write lock,
 * PostgreSQL's advisory lock, see `internal/dialect.ts`) makes one of them apply a script
 * and the others see it applied. A script whose SQL differs between the engines is given
 * per dialect, `{ sqlite, pg }`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect } from "effect"
import { createHash } from "node:crypto"
import { transaction } from "./Database.js"
import { MigrationError } from "./Errors.js"
import { type Dialect, dialectOf, lockMigrations } from "./internal/dialect.js"

/**
 * One script: split into statements at each `;` that ends a line; give a statement that
 * itself contains such lines (a trigger body) as its own element of an array.
 */
export type Script = string | ReadonlyArray<string>

/** A script written per engine, where their SQL differs (an identity column, a type). */
export interface DialectScripts {
  readonly sqlite: Script
  readonly pg: Script
}

/**
 * Scripts keyed `"<id>_<name>"`, e.g. `{ "0001_create_jobs": "CREATE TABLE …;" }`; a plain
 * script runs on both engines.
 */
export type Migrations = Readonly<Record<string, Script | DialectScripts>>

/** The script of `migration` for `dialect`. */
export const scriptFor = (script: Script | DialectScripts, dialect: Dialect): Script =>
  typeof script === "string" || !("pg" in script) ? script : script[dialect]

export interface Migration {
  readonly owner: string
  readonly id: number
  readonly name: string
  readonly statements: ReadonlyArray<string>
  readonly checksum: string
}

export interface MigrationStatus {
  readonly owner: string
  readonly id: number
  readonly name: string
  /** Epoch ms when applied; undefined while pending. */
  readonly appliedAt: number | undefined
  /** The applied script differs from the one this build embeds. */
  readonly changed: boolean
}

const createTable = `CREATE TABLE IF NOT EXISTS orch_migrations (
  owner TEXT NOT NULL,
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (owner, id)
)`

const splitStatements = (script: string): ReadonlyArray<string> =>
  script
    .split(/;[ \t]*(?:--[^\n]*)?$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/--[^\n]*/g, "").trim().length > 0)

/**
 * Parses a migration record for one engine, failing on keys that are not `<number>_<name>`
 * or repeat a number. The checksum is of that engine's statements.
 */
export const fromRecord = (
  owner: string,
  record: Migrations,
  dialect: Dialect = "sqlite"
): Effect.Effect<ReadonlyArray<Migration>, MigrationError> =>
  Effect.gen(function*() {
    const migrations: Array<Migration> = []
    for (const [key, script] of Object.entries(record)) {
      const match = /^(\d+)_(\w+)$/.exec(key)
      if (!match) {
        return yield* new MigrationError({ owner, id: 0, message: `migration key "${key}" is not "<number>_<name>"` })
      }
      const id = Number(match[1])
      if (migrations.some((m) => m.id === id)) {
        return yield* new MigrationError({ owner, id, message: `migration number ${id} is used twice` })
      }
      const chosen = scriptFor(script, dialect)
      const statements = typeof chosen === "string" ? splitStatements(chosen) : chosen.map((s) => s.trim())
      migrations.push({ owner, id, name: match[2], statements, checksum: createHash("sha256").update(statements.join(";\n")).digest("hex").slice(0, 16) })
    }
    return migrations.sort((a, b) => a.id - b.id)
  })

interface AppliedRow {
  readonly owner: string
  readonly id: number
  readonly name: string
  readonly checksum: string
  /** int8: read it with `Number`, whatever the driver's setting. */
  readonly applied_at: number | string
}

/** Creates `orch_migrations` when missing, under the migration lock (see `lockMigrations`). */
const ensureTable = (sql: SqlClient.SqlClient) =>
  transaction(Effect.zipRight(lockMigrations(sql), sql.unsafe(createTable)))

const readApplied = (sql: SqlClient.SqlClient, owner: string) =>
  sql<AppliedRow>`SELECT owner, id, name, checksum, applied_at FROM orch_migrations WHERE owner = ${owner} ORDER BY id`

/**
 * Applies the pending migrations of one owner, each in its own transaction, and returns
 * those it applied. Refuses a database that already has a later migration than this build
 * knows (it was written by a newer orch).
 */
export const apply = (
  owner: string,
  record: Migrations
): Effect.Effect<ReadonlyArray<Migration>, MigrationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const migrations = yield* fromRecord(owner, record, dialectOf(sql))
    const fail = (id: number, message: string) => (cause: unknown) =>
      new MigrationError({ owner, id, message: `${message}: ${String((cause as any)?.cause ?? cause)}`, cause })
    yield* ensureTable(sql).pipe(Effect.mapError(fail(0, "cannot create orch_migrations")))
    const applied: Array<Migration> = []
    for (const migration of migrations) {
      const didApply = yield* transaction(
        Effect.gen(function*() {
          // re-read under the lock: another process may have applied it meanwhile
          yield* lockMigrations(sql)
          const rows = yield* readApplied(sql, owner)
          const newest = rows.at(-1)
          const known = migrations.at(-1)!.id
          if (newest && newest.id > known) {
            return yield* new MigrationError({
              owner,
              id: newest.id,
              message: `the database has migration ${newest.id} (${newest.name}) but this orch knows only up to ${known}: it was written by a newer orch`
            })
          }
          if (rows.some((row) => row.id === migration.id)) return false
          for (const statement of migration.statements) {
            yield* sql.unsafe(statement).pipe(
              Effect.mapError(fail(migration.id, `migration ${owner}/${migration.id}_${migration.name} failed`))
            )
          }
          const now = yield* Clock.currentTimeMillis
          yield* sql`INSERT INTO orch_migrations (owner, id, name, checksum, applied_at)
            VALUES (${owner}, ${migration.id}, ${migration.name}, ${migration.checksum}, ${now})`
          return true
        })
      ).pipe(
        Effect.catchTag("SqlError", fail(migration.id, `migration ${owner}/${migration.id}_${migration.name} failed`))
      )
      if (didApply) applied.push(migration)
    }
    return applied
  })

/** Every known migration of the given owners, applied or pending. */
export const status = (
  owners: ReadonlyArray<readonly [owner: string, record: Migrations]>
): Effect.Effect<ReadonlyArray<MigrationStatus>, MigrationError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* ensureTable(sql).pipe(
      Effect.mapError((cause) => new MigrationError({ owner: "core", id: 0, message: String(cause), cause }))
    )
    const result: Array<MigrationStatus> = []
    for (const [owner, record] of owners) {
      const migrations = yield* fromRecord(owner, record, dialectOf(sql))
      const rows = yield* readApplied(sql, owner).pipe(
        Effect.mapError((cause) => new MigrationError({ owner, id: 0, message: String(cause), cause }))
      )
      for (const migration of migrations) {
        const row = rows.find((r) => r.id === migration.id)
        result.push({
          owner,
          id: migration.id,
          name: migration.name,
          appliedAt: row === undefined ? undefined : Number(row.applied_at),
          changed: row !== undefined && row.checksum !== migration.checksum
        })
      }
      for (const row of rows) {
        if (!migrations.some((m) => m.id === row.id)) {
          result.push({ owner, id: row.id, name: `${row.name} (unknown to this orch)`, appliedAt: Number(row.applied_at), changed: false })
        }
      }
    }
    return result
  })
