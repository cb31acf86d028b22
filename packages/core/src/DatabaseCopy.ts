/**
 * `orch db copy`: moves a SQLite database into an empty PostgreSQL one and checks the copy
 * row by row. The source is opened read-only and read in one transaction, a consistent
 * snapshot even while a daemon writes (WAL); the target gets orch's own PostgreSQL schema
 * from the same migration sets first, then every table both sides have, in one
 * transaction, parents before children; then every identity sequence continues after the
 * copied ids. Tables come from the two catalogs, so a plugin's tables are copied without
 * being named here.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Clock, Context, Data, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { PostgresOptions } from "./Database.js"
import type { DatabaseError, MigrationError } from "./Errors.js"
import * as Postgres from "./internal/postgres.js"
import * as Migrations from "./Migrations.js"
import * as Sql from "./sql/copy.js"

/** The copy cannot start or go on: the message says why and what to do. */
export class CopyError extends Data.TaggedError("CopyError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** One table done, for a progress line. */
export interface Progress {
  readonly step: "copy" | "verify"
  readonly table: string
  readonly rows: number
  readonly ms: number
}

export interface Endpoints {
  /** The SQLite file to copy from. */
  readonly from: string
  /** The PostgreSQL database to copy into. */
  readonly to: PostgresOptions
  /** Called after each table. */
  readonly onProgress?: ((progress: Progress) => Effect.Effect<void>) | undefined
  /** Rows per read and per INSERT (default 1,000). */
  readonly batchSize?: number | undefined
  /** Mismatches kept in the report, the first ones found (default 20). */
  readonly maxMismatches?: number | undefined
}

export interface CopyOptions extends Endpoints {
  /** Every migration set of this build (`Runtime.migrationSets`), core's first. */
  readonly migrations: ReadonlyArray<readonly [owner: string, record: Migrations.Migrations]>
}

export interface TableCopied {
  readonly table: string
  readonly rows: number
  readonly ms: number
}

/** A row that differs, is missing from the target, or is only in the target. */
export interface Mismatch {
  readonly table: string
  /** The row's primary key as JSON (the whole row for a table without one). */
  readonly key: string
  readonly problem: "differs" | "missing from the target" | "only in the target"
  readonly column?: string | undefined
  readonly source?: unknown
  readonly target?: unknown
}

export interface TableVerified {
  readonly table: string
  readonly sourceRows: number
  readonly targetRows: number
  readonly mismatches: number
}

export interface Verification {
  /** The SQLite file and the PostgreSQL database, never its password. */
  readonly source: string
  readonly target: string
  readonly ok: boolean
  readonly tables: ReadonlyArray<TableVerified>
  /** The first mismatches found (at most `maxMismatches`). */
  readonly mismatches: ReadonlyArray<Mismatch>
  readonly mismatchCount: number
}

export interface CopyReport {
  /** The SQLite file and the PostgreSQL database, never its password. */
  readonly source: string
  readonly target: string
  readonly tables: ReadonlyArray<TableCopied>
  /** Target tables the source has not (PostgreSQL-only ones): left empty. */
  readonly leftEmpty: ReadonlyArray<string>
  /** Identity and serial sequences moved past the copied ids. */
  readonly sequences: number
  readonly verification: Verification
}

type Failure = CopyError | DatabaseError | MigrationError

/** How one table is copied and compared. */
interface TablePlan {
  readonly table: string
  /** The columns both sides have, in the target's order. */
  readonly columns: ReadonlyArray<string>
  /** Each column's PostgreSQL `data_type`. */
  readonly types: ReadonlyMap<string, string>
  /** Each column's PostgreSQL type name, for an array of it. */
  readonly udts: ReadonlyMap<string, string>
  /** What the source is paged by: its primary key, or its rowid. */
  readonly sourceKey: ReadonlyArray<string>
  /** The target's primary key (empty: compared as a bag of rows). */
  readonly targetKey: ReadonlyArray<string>
  readonly overridingSystemValue: boolean
}

interface Opened {
  readonly source: SqlClient.SqlClient
  readonly target: SqlClient.SqlClient
  readonly sourceName: string
  readonly targetName: string
}

const defaultBatchSize = 1_000

const sqlFailure = (what: string) => (cause: SqlError) =>
  new CopyError({ message: `${what}: ${String((cause.cause as { message?: string } | undefined)?.message ?? cause.message)}`, cause })

/**
 * Runs a statement of the source outside the target's transaction: @effect/sql keeps one
 * transaction connection in the context for every client, which the SQLite client would
 * otherwise take for its own. Integers arrive as bigints, exact past 2^53.
 */
const onSource = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  effect.pipe(
    Effect.provideService(SqlClient.SafeIntegers, true),
    (self) => Effect.mapInputContext(self, (context: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<never>)
  )

/** Opens the source read-only, starts its snapshot (rolled back at the end) and connects to the target. */
const open = (endpoints: Endpoints) =>
  Effect.gen(function*() {
    const file = path.resolve(endpoints.from)
    if (!fs.existsSync(file)) {
      return yield* new CopyError({ message: `no SQLite database at ${file} (give --from, --data-dir or core.database.file)` })
    }
    const source = yield* SqliteClient.make({ filename: file, readonly: true, disableWAL: true }).pipe(
      Effect.catchAllDefect((cause) => new CopyError({ message: `cannot open ${file}: ${String(cause)}`, cause }))
    )
    // one read transaction for the whole copy and its check: a consistent snapshot under WAL
    yield* Effect.acquireRelease(
      onSource(Effect.zipRight(source.unsafe("BEGIN"), source.unsafe("SELECT count(*) FROM sqlite_master"))).pipe(
        Effect.mapError(sqlFailure(`cannot read ${file}`))
      ),
      () => Effect.ignore(onSource(source.unsafe("ROLLBACK")))
    )
    const tables = yield* onSource(Sql.sqliteTables(source)).pipe(Effect.mapError(sqlFailure(`cannot read ${file}`)))
    if (!tables.includes("orch_migrations")) {
      return yield* new CopyError({ message: `${file} is not an orch database (it has no orch_migrations table)` })
    }
    const target = yield* Postgres.connect({ ...endpoints.to, maxConnections: 2 })
    const schema = endpoints.to.schema === undefined ? "" : ` (schema ${endpoints.to.schema})`
    return { source, target, sourceName: file, targetName: `${Postgres.location(endpoints.to.url)}${schema}` } satisfies Opened
  })

const migrationKey = (m: { readonly owner: string; readonly id: number }) => `${m.owner}/${String(m.id).padStart(4, "0")}`

/** The migrations `sets` define: their keys ("owner/0001") and how to name them ("owner/0001_name"). */
const expectedMigrations = (sets: CopyOptions["migrations"]) =>
  Effect.map(
    Effect.forEach(sets, ([owner, record]) => Migrations.fromRecord(owner, record, "pg")),
    (all) => all.flat().map((m) => ({ key: migrationKey(m), label: `${migrationKey(m)}_${m.name}` }))
  )

/** Refuses a source with pending migrations, or with migrations this build does not know. */
const checkSourceMigrations = (opened: Opened, sets: CopyOptions["migrations"]) =>
  Effect.gen(function*() {
    const expected = yield* expectedMigrations(sets)
    const applied = new Set((yield* onSource(Sql.appliedMigrations(opened.source)).pipe(
      Effect.mapError(sqlFailure(`cannot read the migrations of ${opened.sourceName}`))
    )).map(migrationKey))
    const missing = expected.filter((m) => !applied.has(m.key)).map((m) => m.label)
    if (missing.length > 0) {
      return yield* new CopyError({
        message: `${opened.sourceName} lacks ${missing.length} migration(s) of this orch (${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}): ` +
          "run `orch db migrate` on it first (with the same --data-dir or --config), then copy"
      })
    }
    const known = new Set(expected.map((m) => m.key))
    const unknown = [...applied].filter((m) => !known.has(m))
    if (unknown.length > 0) {
      return yield* new CopyError({
        message: `${opened.sourceName} has migrations this orch does not know (${unknown.slice(0, 5).join(", ")}): ` +
          "it was written by a newer orch or one with other plugins; copy it with that orch"
      })
    }
  })

const copiedTables = (tables: ReadonlyArray<string>) =>
  tables.filter((table) => !Sql.isSqliteInternal(table) && table !== "orch_migrations")

/** Refuses a target that holds rows in any of orch's tables: the copy goes into an empty database only. */
const checkTargetEmpty = (opened: Opened) =>
  Effect.gen(function*() {
    const failure = sqlFailure(`cannot read ${opened.targetName}`)
    const sourceTables = new Set(copiedTables(yield* onSource(Sql.sqliteTables(opened.source)).pipe(Effect.mapError(failure))))
    const targetTables = yield* Sql.pgTables(opened.target).pipe(Effect.mapError(failure))
    for (const table of targetTables) {
      if (table === "orch_migrations" || !(sourceTables.has(table) || table.startsWith("orch_"))) continue
      if (yield* Sql.hasRows(opened.target, table).pipe(Effect.mapError(failure))) {
        return yield* new CopyError({
          message: `${opened.targetName} already holds orch rows (table ${table}): copy into an empty database; nothing was changed`
        })
      }
    }
  })

/** Applies every migration set to the target, then checks it has exactly the source's. */
const migrateTarget = (opened: Opened, sets: CopyOptions["migrations"]) =>
  Effect.gen(function*() {
    for (const [owner, record] of sets) {
      yield* Migrations.apply(owner, record)
    }
    const expected = new Set((yield* expectedMigrations(sets)).map((m) => m.key))
    const applied = (yield* Sql.appliedMigrations(opened.target).pipe(Effect.mapError(sqlFailure(`cannot read ${opened.targetName}`))))
      .map(migrationKey)
    const extra = applied.filter((m) => !expected.has(m))
    if (extra.length > 0) {
      return yield* new CopyError({ message: `${opened.targetName} has migrations this orch does not know (${extra.slice(0, 5).join(", ")})` })
    }
  }).pipe(Effect.provideService(SqlClient.SqlClient, opened.target))

/** Parents before children (by the target's foreign keys), else by name. */
const inDependencyOrder = (tables: ReadonlyArray<string>, edges: ReadonlyArray<{ child: string; parent: string }>): ReadonlyArray<string> => {
  const pending = new Set(tables)
  const parents = new Map(tables.map((table) => [table, new Set<string>()]))
  for (const { child, parent } of edges) {
    if (child !== parent && pending.has(child) && pending.has(parent)) parents.get(child)!.add(parent)
  }
  const ordered: Array<string> = []
  while (pending.size > 0) {
    const ready = [...pending].filter((table) => [...parents.get(table)!].every((parent) => !pending.has(parent))).sort()
    // a cycle: take the rest by name, and let the foreign keys say what is wrong
    const next = ready.length > 0 ? ready : [...pending].sort()
    for (const table of next) {
      ordered.push(table)
      pending.delete(table)
    }
  }
  return ordered
}

/** Plans the tables both sides have; refuses source data the target has no place for. */
const plan = (opened: Opened) =>
  Effect.gen(function*() {
    const sourceFailure = sqlFailure(`cannot read ${opened.sourceName}`)
    const targetFailure = sqlFailure(`cannot read ${opened.targetName}`)
    const sourceTables = copiedTables(yield* onSource(Sql.sqliteTables(opened.source)).pipe(Effect.mapError(sourceFailure)))
    const targetTables = copiedTables(yield* Sql.pgTables(opened.target).pipe(Effect.mapError(targetFailure)))
    const [pgColumns, primaryKeys, foreignKeys] = yield* Effect.all([
      Sql.pgColumns(opened.target),
      Sql.pgPrimaryKeys(opened.target),
      Sql.pgForeignKeys(opened.target)
    ]).pipe(Effect.mapError(targetFailure))
    const notInTarget = sourceTables.filter((table) => !targetTables.includes(table))
    for (const table of notInTarget) {
      const rows = yield* onSource(Sql.countRows(opened.source, table)).pipe(Effect.mapError(sourceFailure))
      if (rows > 0) {
        return yield* new CopyError({
          message: `table ${table} of ${opened.sourceName} (${rows} rows) has no table in ${opened.targetName}: nothing was copied`
        })
      }
    }
    const plans: Array<TablePlan> = []
    for (const table of inDependencyOrder(sourceTables.filter((t) => targetTables.includes(t)), foreignKeys)) {
      const sourceColumns = yield* onSource(Sql.sqliteColumns(opened.source, table)).pipe(Effect.mapError(sourceFailure))
      const targetColumns = pgColumns.filter((column) => column.table === table)
      const lost = sourceColumns.filter((column) => !targetColumns.some((c) => c.name === column.name))
      if (lost.length > 0) {
        return yield* new CopyError({
          message: `column ${table}.${lost[0]!.name} of ${opened.sourceName} has no column in ${opened.targetName}: nothing was copied`
        })
      }
      const columns = targetColumns.filter((column) => sourceColumns.some((c) => c.name === column.name))
      const sourcePrimaryKey = sourceColumns.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name)
      const hasRowid = yield* onSource(Sql.sqliteHasRowid(opened.source, table)).pipe(Effect.mapError(sourceFailure))
      plans.push({
        table,
        columns: columns.map((column) => column.name),
        types: new Map(columns.map((column) => [column.name, column.type])),
        udts: new Map(columns.map((column) => [column.name, column.udt])),
        // the rowid pages fastest; a WITHOUT ROWID table has a primary key instead
        sourceKey: hasRowid ? ["rowid"] : sourcePrimaryKey,
        targetKey: primaryKeys.filter((key) => key.table === table).map((key) => key.column),
        overridingSystemValue: columns.some((column) => column.identityAlways)
      })
    }
    return {
      plans,
      leftEmpty: targetTables.filter((table) => !sourceTables.includes(table))
    }
  })

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array

/** A SQLite value as the PostgreSQL column of `type` takes it. */
const toPg = (type: string, value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (type) {
    case "boolean":
      return typeof value === "bigint" ? value !== 0n : typeof value === "number" ? value !== 0 : value
    case "bytea":
      return isBytes(value) ? Buffer.from(value) : Buffer.from(String(value), "utf8")
    case "json":
    case "jsonb":
      return typeof value === "string" ? value : JSON.stringify(typeof value === "bigint" ? Number(value) : value)
    default:
      if (typeof value === "bigint") return value.toString()
      if (isBytes(value) && type !== "bytea") return Buffer.from(value).toString("utf8")
      return value
  }
}

/** JSON with its object keys sorted: jsonb keeps neither the order nor the spacing of the text. */
const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((key) => [key, (v as Record<string, unknown>)[key]]))
      : v)

const integerTypes = new Set(["smallint", "integer", "bigint"])
const floatTypes = new Set(["real", "double precision", "numeric"])

/** A value of either side, as a comparable string (or null), by the target column's type. */
const normalise = (type: string, value: unknown): string | null => {
  if (value === null || value === undefined) return null
  if (integerTypes.has(type)) {
    if (typeof value === "boolean") return value ? "1" : "0"
    return String(value)
  }
  if (floatTypes.has(type)) return String(Number(value))
  if (type === "boolean") {
    if (typeof value === "boolean") return String(value)
    if (typeof value === "string") return String(["t", "true", "1"].includes(value.toLowerCase()))
    return String(Number(value) !== 0)
  }
  if (type === "bytea") return isBytes(value) ? `\\x${Buffer.from(value).toString("hex")}` : `\\x${Buffer.from(String(value)).toString("hex")}`
  if (type === "json" || type === "jsonb") {
    if (typeof value !== "string") return canonicalJson(value)
    try {
      return canonicalJson(JSON.parse(value))
    } catch {
      return value
    }
  }
  if (value instanceof Date) return value.toISOString()
  if (isBytes(value)) return Buffer.from(value).toString("utf8")
  return String(value)
}

const batchOf = (endpoints: Endpoints) => Math.max(1, Math.floor(endpoints.batchSize ?? defaultBatchSize))

/** Copies one table in batches, keyset-paged on the source; returns the rows copied. */
const copyTable = (opened: Opened, table: TablePlan, endpoints: Endpoints) =>
  Effect.gen(function*() {
    const batch = batchOf(endpoints)
    const query: Sql.PageQuery = { table: table.table, columns: table.columns, key: table.sourceKey, textKeys: new Set() }
    const types = table.columns.map((column) => table.types.get(column)!)
    let after: ReadonlyArray<unknown> | undefined
    let copied = 0
    while (true) {
      const rows = yield* onSource(Sql.selectPage(opened.source, "sqlite", query, { after, limit: batch })).pipe(
        Effect.mapError(sqlFailure(`cannot read ${table.table} of ${opened.sourceName}`))
      )
      if (rows.length === 0) return copied
      yield* Sql.insertRows(
        opened.target,
        table.table,
        table.columns.map((name) => ({ name, udt: table.udts.get(name)! })),
        rows.map((row) => types.map((type, i) => toPg(type, row[i]))),
        { overridingSystemValue: table.overridingSystemValue }
      ).pipe(Effect.mapError(sqlFailure(`cannot copy ${table.table} into ${opened.targetName} (after ${copied} rows)`)))
      copied += rows.length
      after = rows.at(-1)!.slice(table.columns.length)
    }
  })

/** Moves every identity/serial sequence past its column's largest copied value. */
const resetSequences = (opened: Opened) =>
  Effect.gen(function*() {
    const sequences = yield* Sql.pgSequences(opened.target)
    yield* Effect.forEach(sequences, (sequence) => Sql.resetSequence(opened.target, sequence), { discard: true })
    return sequences.length
  }).pipe(Effect.mapError(sqlFailure(`cannot reset the sequences of ${opened.targetName}`)))

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const value = yield* effect
    return [value, (yield* Clock.currentTimeMillis) - start] as const
  })

/** Collects mismatches: counts them all, keeps the first `max`. */
class Mismatches {
  readonly kept: Array<Mismatch> = []
  count = 0
  constructor(readonly max: number) {}
  add(mismatch: Mismatch) {
    this.count++
    if (this.kept.length < this.max) this.kept.push(mismatch)
  }
}

/** Compares one table with a primary key: source pages in key order against the target's rows in the same key range. */
const verifyKeyed = (opened: Opened, table: TablePlan, endpoints: Endpoints, found: Mismatches) =>
  Effect.gen(function*() {
    const batch = batchOf(endpoints)
    const types = table.columns.map((column) => table.types.get(column)!)
    const keyTypes = table.targetKey.map((column) => table.types.get(column) ?? "text")
    const textKeys = new Set(table.targetKey.filter((column) => !integerTypes.has(table.types.get(column) ?? "text")))
    const query: Sql.PageQuery = { table: table.table, columns: table.columns, key: table.targetKey, textKeys }
    const keyOf = (row: ReadonlyArray<unknown>) => JSON.stringify(keyTypes.map((type, i) => normalise(type, row[table.columns.length + i])))
    const rowOf = (row: ReadonlyArray<unknown>) => types.map((type, i) => normalise(type, row[i]))
    const before = found.count
    let sourceAfter: ReadonlyArray<unknown> | undefined
    let targetAfter: ReadonlyArray<unknown> | undefined
    while (true) {
      const sourceRows = yield* onSource(Sql.selectPage(opened.source, "sqlite", query, { after: sourceAfter, limit: batch })).pipe(
        Effect.mapError(sqlFailure(`cannot read ${table.table} of ${opened.sourceName}`))
      )
      const last = sourceRows.at(-1)?.slice(table.columns.length)
      const upTo = last?.map((value, i) => toPg(keyTypes[i]!, value))
      // the target's rows in the same key range: every row there is matched or reported
      const targetRows = yield* Sql.selectPage(opened.target, "pg", query, { after: targetAfter, upTo }).pipe(
        Effect.mapError(sqlFailure(`cannot read ${table.table} of ${opened.targetName}`))
      )
      const targetByKey = new Map(targetRows.map((row) => [keyOf(row), row]))
      for (const sourceRow of sourceRows) {
        const key = keyOf(sourceRow)
        const targetRow = targetByKey.get(key)
        if (targetRow === undefined) {
          found.add({ table: table.table, key, problem: "missing from the target" })
          continue
        }
        targetByKey.delete(key)
        const source = rowOf(sourceRow)
        const target = rowOf(targetRow)
        table.columns.forEach((column, i) => {
          if (source[i] !== target[i]) found.add({ table: table.table, key, problem: "differs", column, source: source[i], target: target[i] })
        })
      }
      for (const key of targetByKey.keys()) found.add({ table: table.table, key, problem: "only in the target" })
      if (last === undefined) break
      sourceAfter = last
      targetAfter = upTo
    }
    return found.count - before
  })

/** Compares a table without a primary key as a bag of rows. */
const verifyBag = (opened: Opened, table: TablePlan, found: Mismatches) =>
  Effect.gen(function*() {
    const types = table.columns.map((column) => table.types.get(column)!)
    // the order is of no matter here: the rows are counted, not walked
    const query = (key: ReadonlyArray<string>): Sql.PageQuery => ({ table: table.table, columns: table.columns, key, textKeys: new Set() })
    const sourceRows = yield* onSource(Sql.selectPage(opened.source, "sqlite", query(table.sourceKey), {})).pipe(
      Effect.mapError(sqlFailure(`cannot read ${table.table} of ${opened.sourceName}`))
    )
    const targetRows = yield* Sql.selectPage(opened.target, "pg", query([table.columns[0]!]), {}).pipe(
      Effect.mapError(sqlFailure(`cannot read ${table.table} of ${opened.targetName}`))
    )
    const rowText = (row: ReadonlyArray<unknown>) => JSON.stringify(types.map((type, i) => normalise(type, row[i])))
    const counts = new Map<string, number>()
    for (const row of sourceRows) counts.set(rowText(row), (counts.get(rowText(row)) ?? 0) + 1)
    let mismatches = 0
    for (const row of targetRows) {
      const text = rowText(row)
      const left = counts.get(text) ?? 0
      if (left > 0) counts.set(text, left - 1)
      else {
        mismatches++
        found.add({ table: table.table, key: text, problem: "only in the target" })
      }
    }
    for (const [text, left] of counts) {
      for (let i = 0; i < left; i++) {
        mismatches++
        found.add({ table: table.table, key: text, problem: "missing from the target" })
      }
    }
    return mismatches
  })

const verifyPlans = (opened: Opened, plans: ReadonlyArray<TablePlan>, endpoints: Endpoints) =>
  Effect.gen(function*() {
    const found = new Mismatches(endpoints.maxMismatches ?? 20)
    const tables: Array<TableVerified> = []
    for (const table of plans) {
      const [[sourceRows, targetRows, mismatches], ms] = yield* elapsed(Effect.all([
        onSource(Sql.countRows(opened.source, table.table)).pipe(Effect.mapError(sqlFailure(`cannot count ${table.table} of ${opened.sourceName}`))),
        Sql.countRows(opened.target, table.table).pipe(Effect.mapError(sqlFailure(`cannot count ${table.table} of ${opened.targetName}`))),
        table.targetKey.length > 0 && table.targetKey.every((column) => table.columns.includes(column))
          ? verifyKeyed(opened, table, endpoints, found)
          : verifyBag(opened, table, found)
      ]))
      tables.push({ table: table.table, sourceRows, targetRows, mismatches })
      if (endpoints.onProgress) yield* endpoints.onProgress({ step: "verify", table: table.table, rows: sourceRows, ms })
    }
    const ok = found.count === 0 && tables.every((table) => table.sourceRows === table.targetRows)
    return {
      source: opened.sourceName,
      target: opened.targetName,
      ok,
      tables,
      mismatches: found.kept,
      mismatchCount: found.count
    } satisfies Verification
  })

const scoped = <A, E>(effect: Effect.Effect<A, E, import("effect/Scope").Scope | Reactivity.Reactivity>) =>
  effect.pipe(Effect.scoped, Effect.provide(Reactivity.layer))

/**
 * Copies the SQLite database `from` into the empty PostgreSQL database `to`, then
 * verifies the copy row by row (see `verify`). Refuses, changing nothing, a source with
 * pending or unknown migrations and a target that holds orch rows. Any failure while
 * copying rolls the target back to its migrated, empty schema.
 */
export const copy = (options: CopyOptions): Effect.Effect<CopyReport, Failure> =>
  scoped(Effect.gen(function*() {
    const opened = yield* open(options)
    yield* checkSourceMigrations(opened, options.migrations)
    yield* checkTargetEmpty(opened)
    yield* migrateTarget(opened, options.migrations)
    const { plans, leftEmpty } = yield* plan(opened)
    const [tables, sequences] = yield* opened.target.withTransaction(Effect.gen(function*() {
      const tables: Array<TableCopied> = []
      for (const table of plans) {
        const [rows, ms] = yield* elapsed(copyTable(opened, table, options))
        tables.push({ table: table.table, rows, ms })
        if (options.onProgress) yield* options.onProgress({ step: "copy", table: table.table, rows, ms })
      }
      return [tables, yield* resetSequences(opened)] as const
    })).pipe(Effect.catchTag("SqlError", sqlFailure(`cannot copy into ${opened.targetName}`)))
    const verification = yield* verifyPlans(opened, plans, options)
    return { source: opened.sourceName, target: opened.targetName, tables, leftEmpty, sequences, verification }
  }))

/**
 * Compares the SQLite database `from` with the PostgreSQL database `to`, table by table:
 * the row counts, and every row by primary key, each column normalised by the target's
 * type (0/1 and booleans, BLOB and bytea, JSON text and jsonb). Changes neither.
 */
export const verify = (endpoints: Endpoints): Effect.Effect<Verification, Failure> =>
  scoped(Effect.gen(function*() {
    const opened = yield* open(endpoints)
    const { plans } = yield* plan(opened)
    return yield* verifyPlans(opened, plans, endpoints)
  }))
