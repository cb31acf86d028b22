/**
 * Integer columns as drivers hand them: SQLite (better-sqlite3) gives numbers, PostgreSQL
 * gives its int8 (BIGINT) as a string, and a driver in safe-integers mode gives bigints.
 * Every SQL module decodes its rows' integer columns through `decoder`, so a row type that
 * says `number` holds a number whichever the driver.
 */

/** What an integer column may arrive as. */
export type SqlInteger = number | string | bigint

/** `Row` as the driver hands it: its integer columns `K` not yet decoded. */
export type Undecoded<Row, K extends keyof Row> = {
  readonly [P in keyof Row]: P extends K ? (null extends Row[P] ? SqlInteger | null : SqlInteger) : Row[P]
}

/** A number, or a defect: a value past 2^53 or not an integer means a corrupt row, not a case to handle. */
export const toInteger = (value: SqlInteger, column: string): number => {
  const number = typeof value === "number" ? value : Number(value)
  if (!Number.isSafeInteger(number)) throw new RangeError(`column ${column}: ${String(value)} is not a safe integer`)
  return number
}

/**
 * Decodes the integer `columns` of rows of one shape as the driver returns them (typed
 * `Undecoded<Row, K>` where a statement says what it selects); the other columns are
 * taken as they are.
 */
export const decoder = <Row, K extends keyof Row & string>(columns: ReadonlyArray<K>) => (raw: Undecoded<Row, K> | object): Row => {
  const source = raw as Record<string, unknown>
  // SQLite's rows, the common case, hold numbers already: checked, and returned as they are
  let decoded: Record<string, unknown> | undefined
  for (const column of columns) {
    const value = source[column]
    if (value == null || (typeof value === "number" && Number.isSafeInteger(value))) continue
    decoded ??= { ...source }
    decoded[column] = toInteger(value as SqlInteger, column)
  }
  return (decoded ?? source) as Row
}
