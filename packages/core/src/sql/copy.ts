/**
 * The SQL of `orch db copy` (`DatabaseCopy.ts`): what each side's catalog says (tables,
 * columns, keys, foreign keys, sequences), pages of a table in key order, multi-row
 * inserts and the sequence reset. Table and column names come from the catalogs and are
 * quoted (`quote`); values always travel as parameters. The catalog queries read the
 * current schema only, so a target schema of its own (a test's) is what is seen.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/** An identifier as SQL text: double-quoted, a quote inside doubled (both engines). */
export const quote = (name: string): string => `"${name.replace(/"/g, "\"\"")}"`

/** SQLite's own tables and orch's per-connection write lock: never copied. */
export const isSqliteInternal = (table: string): boolean => table.startsWith("sqlite_") || table === "orch_write_lock"

// every table of the SQLite file, internals filtered by the caller
export const sqliteTables = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<string>, SqlError> =>
  Effect.map(
    sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`,
    (rows) => rows.map((row) => row.name)
  )

/** A SQLite column: `pk` is its 1-based place in the primary key, 0 when not in it. */
export interface SqliteColumn {
  readonly name: string
  readonly pk: number
}

export const sqliteColumns = (sql: SqlClient.SqlClient, table: string): Effect.Effect<ReadonlyArray<SqliteColumn>, SqlError> =>
  Effect.map(
    sql<{ name: string; pk: number | bigint }>`SELECT name, pk FROM pragma_table_info(${table}) ORDER BY cid`,
    (rows) => rows.map((row) => ({ name: row.name, pk: Number(row.pk) }))
  )

/** Whether the SQLite table has a rowid to page by (a `WITHOUT ROWID` table has not, but has a primary key). */
export const sqliteHasRowid = (sql: SqlClient.SqlClient, table: string): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    Effect.either(sql.unsafe(`SELECT rowid FROM ${quote(table)} LIMIT 0`)),
    (result) => result._tag === "Right"
  )

// the source's migrations, to compare with what the target has after its own
export const appliedMigrations = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<{ owner: string; id: number }>, SqlError> =>
  Effect.map(
    sql<{ owner: string; id: number | string | bigint }>`SELECT owner, id FROM orch_migrations ORDER BY owner, id`,
    (rows) => rows.map((row) => ({ owner: row.owner, id: Number(row.id) }))
  )

/** A PostgreSQL column, as `information_schema.columns` describes it. */
export interface PgColumn {
  readonly table: string
  readonly name: string
  /** `data_type`: integer, bigint, boolean, text, bytea, jsonb, … */
  readonly type: string
  /** The type's own name (int4, int8, bool, …), for an array of it. */
  readonly udt: string
  /** `GENERATED ALWAYS AS IDENTITY`, which takes an explicit value only with OVERRIDING SYSTEM VALUE. */
  readonly identityAlways: boolean
}

export const pgTables = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<string>, SqlError> =>
  Effect.map(
    sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
    (rows) => rows.map((row) => row.name)
  )

export const pgColumns = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<PgColumn>, SqlError> =>
  Effect.map(
    sql<{ table_name: string; column_name: string; data_type: string; udt_name: string; identity_generation: string | null }>`SELECT
        table_name, column_name, data_type, udt_name, identity_generation
      FROM information_schema.columns WHERE table_schema = current_schema()
      ORDER BY table_name, ordinal_position`,
    (rows) =>
      rows.map((row) => ({
        table: row.table_name,
        name: row.column_name,
        type: row.data_type,
        udt: row.udt_name,
        identityAlways: row.identity_generation === "ALWAYS"
      }))
  )

// primary key columns in key order, per table
export const pgPrimaryKeys = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<{ table: string; column: string }>, SqlError> =>
  sql<{ table: string; column: string }>`SELECT tc.table_name AS "table", kcu.column_name AS "column"
    FROM information_schema.table_constraints tc
    JOIN information_schema.key_column_usage kcu
      ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
    WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
    ORDER BY tc.table_name, kcu.ordinal_position`

// which table references which, so that parents are filled before their children
export const pgForeignKeys = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<{ child: string; parent: string }>, SqlError> =>
  sql<{ child: string; parent: string }>`SELECT DISTINCT child.relname AS child, parent.relname AS parent
    FROM pg_constraint c
    JOIN pg_class child ON child.oid = c.conrelid
    JOIN pg_class parent ON parent.oid = c.confrelid
    WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`

// the sequence behind each identity or serial column
export const pgSequences = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<{ table: string; column: string; sequence: string }>, SqlError> =>
  sql<{ table: string; column: string; sequence: string }>`SELECT * FROM (
      SELECT table_name AS "table", column_name AS "column",
        pg_get_serial_sequence(quote_ident(table_schema) || '.' || quote_ident(table_name), column_name) AS sequence
      FROM information_schema.columns WHERE table_schema = current_schema()
    ) s WHERE sequence IS NOT NULL ORDER BY "table", "column"`

/** The next value `sequence` hands out becomes max(column) + 1 (1 on an empty table). */
export const resetSequence = (
  sql: SqlClient.SqlClient,
  target: { readonly table: string; readonly column: string; readonly sequence: string }
): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql.unsafe(
    `SELECT setval($1::regclass, COALESCE(max(${quote(target.column)}), 0) + 1, false) FROM ${quote(target.table)}`,
    [target.sequence]
  ))

export const countRows = (sql: SqlClient.SqlClient, table: string): Effect.Effect<number, SqlError> =>
  Effect.map(sql.unsafe<{ n: number | string | bigint }>(`SELECT count(*) AS n FROM ${quote(table)}`), (rows) => Number(rows[0]!.n))

export const hasRows = (sql: SqlClient.SqlClient, table: string): Effect.Effect<boolean, SqlError> =>
  Effect.map(sql.unsafe(`SELECT 1 FROM ${quote(table)} LIMIT 1`), (rows) => rows.length > 0)

/**
 * One insert of many rows on PostgreSQL, a column per parameter: each parameter is the
 * column's values as an array of its type (`udt`, e.g. int8, text, bytea), which `unnest`
 * turns back into rows. A few array parameters cost the server far less to bind and plan
 * than a VALUES list of one parameter per value. OVERRIDING SYSTEM VALUE lets the copied
 * ids into a `GENERATED ALWAYS` identity column.
 */
export const insertRows = (
  sql: SqlClient.SqlClient,
  table: string,
  columns: ReadonlyArray<{ readonly name: string; readonly udt: string }>,
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  options: { readonly overridingSystemValue: boolean }
): Effect.Effect<void, SqlError> =>
  Effect.asVoid(sql.unsafe(
    `INSERT INTO ${quote(table)} (${columns.map((column) => quote(column.name)).join(", ")})` +
      `${options.overridingSystemValue ? " OVERRIDING SYSTEM VALUE" : ""}` +
      ` SELECT * FROM unnest(${columns.map((column, i) => `$${i + 1}::${quote(column.udt)}[]`).join(", ")})`,
    columns.map((_, i) => rows.map((row) => row[i])) as Array<any>
  ))

/** How a page of one table is read, in key order, on either engine. */
export interface PageQuery {
  readonly table: string
  readonly columns: ReadonlyArray<string>
  /** The columns the rows are ordered and paged by (the primary key, or SQLite's rowid). */
  readonly key: ReadonlyArray<string>
  /** Key columns that hold text: ordered byte by byte on both engines (COLLATE "C", COLLATE BINARY). */
  readonly textKeys: ReadonlySet<string>
}

// byte order on both sides, whatever collation a column or the database declares
const keyColumn = (query: PageQuery, dialect: "sqlite" | "pg", column: string): string =>
  !query.textKeys.has(column) ? quote(column) : `${quote(column)} COLLATE ${dialect === "pg" ? "\"C\"" : "BINARY"}`

const keyExpression = (query: PageQuery, dialect: "sqlite" | "pg"): string => {
  const parts = query.key.map((column) => keyColumn(query, dialect, column))
  return parts.length === 1 ? parts[0]! : `(${parts.join(", ")})`
}

const placeholders = (dialect: "sqlite" | "pg", from: number, count: number): string => {
  const list = Array.from({ length: count }, (_, i) => (dialect === "pg" ? `$${from + i}` : "?"))
  return list.length === 1 ? list[0]! : `(${list.join(", ")})`
}

/**
 * Rows with a key above `after` (all when undefined) and, when `upTo` is given, at most
 * `upTo`; the first `limit` of them in key order. Each row is its columns' values in order,
 * followed by the key's (which for the rowid is not a column). Row values (`(a, b) > (?, ?)`)
 * page a composite key on both engines.
 */
export const selectPage = (
  sql: SqlClient.SqlClient,
  dialect: "sqlite" | "pg",
  query: PageQuery,
  range: { readonly after?: ReadonlyArray<unknown> | undefined; readonly upTo?: ReadonlyArray<unknown> | undefined; readonly limit?: number | undefined }
): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> => {
  const key = keyExpression(query, dialect)
  const width = query.key.length
  const conditions: Array<string> = []
  const params: Array<unknown> = []
  if (range.after !== undefined) {
    conditions.push(`${key} > ${placeholders(dialect, params.length + 1, width)}`)
    params.push(...range.after)
  }
  if (range.upTo !== undefined) {
    conditions.push(`${key} <= ${placeholders(dialect, params.length + 1, width)}`)
    params.push(...range.upTo)
  }
  const text = `SELECT ${[...query.columns, ...query.key].map(quote).join(", ")} FROM ${quote(query.table)}` +
    (conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "") +
    ` ORDER BY ${query.key.map((column) => keyColumn(query, dialect, column)).join(", ")}` +
    (range.limit !== undefined ? ` LIMIT ${Math.floor(range.limit)}` : "")
  return sql.unsafe<ReadonlyArray<unknown>>(text, params as Array<any>).values as unknown as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError>
}
