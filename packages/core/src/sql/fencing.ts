/**
 * Fencing tokens: one counter per domain ("jobs", "resources") that only grows, so
 * every lease granted carries a number larger than any granted before it, across
 * processes and restarts. The increment and the read are one statement (an upsert
 * returning the new value, which PostgreSQL runs under the row's lock), so writers side
 * by side never get the same token. A reserved token whose grant then loses its row is
 * simply never used.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { type SqlInteger, toInteger } from "../internal/integers.js"

export const schema = `
CREATE TABLE orch_fencing (
  domain TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`

/** PostgreSQL's 0001: BIGINT from the start (its 0005 has nothing to rebuild). */
export const schemaPg = `
CREATE TABLE orch_fencing (
  domain TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
`

/** Migration 0005, for the counters: BIGINT, rebuilt as SQLite must to change a type. */
export const bigintTimes = `
CREATE TABLE orch_fencing_new (
  domain TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO orch_fencing_new (domain, value) SELECT domain, value FROM orch_fencing;
DROP TABLE orch_fencing;
ALTER TABLE orch_fencing_new RENAME TO orch_fencing;
`

/**
 * `count` new tokens for one batch of grants, in increasing order, with one statement:
 * adding `count` to the counter reserves the `count` values below its new value, each
 * larger than every token granted before, in any process.
 */
export const nextTokens = (
  sql: SqlClient.SqlClient,
  domain: string,
  count: number
): Effect.Effect<ReadonlyArray<number>, SqlError> => {
  if (count < 1) return Effect.succeed([])
  return Effect.map(
    sql<{ value: SqlInteger }>`INSERT INTO orch_fencing (domain, value) VALUES (${domain}, ${count})
      ON CONFLICT (domain) DO UPDATE SET value = orch_fencing.value + excluded.value
      RETURNING value`,
    (rows) => {
      const last = toInteger(rows[0]!.value, "orch_fencing.value")
      return Array.from({ length: count }, (_, i) => last - count + 1 + i)
    }
  )
}

/** Increments and returns the domain's counter (the first token is 1). */
export const nextToken = (sql: SqlClient.SqlClient, domain: string): Effect.Effect<number, SqlError> =>
  Effect.map(nextTokens(sql, domain, 1), (tokens) => tokens[0]!)

/**
 * The database write probe: one real write (a counter of its own in this table), so a
 * full disk, a read-only file or a writer holding the lock past the busy timeout fails
 * it. The core loop that runs it every few seconds is what /readyz sees.
 */
export const probeWrite = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  Effect.asVoid(nextToken(sql, "write-probe"))
