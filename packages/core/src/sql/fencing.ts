/**
 * Fencing tokens: one counter per domain ("jobs", "resources") that only grows, so
 * every lease granted carries a number larger than any granted before it, across
 * processes and restarts. Call inside a write transaction.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export const schema = `
CREATE TABLE orch_fencing (
  domain TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
`

/** Increments and returns the domain's counter (the first token is 1). */
export const nextToken = (sql: SqlClient.SqlClient, domain: string): Effect.Effect<number, SqlError> =>
  Effect.map(
    sql<{ value: number }>`INSERT INTO orch_fencing (domain, value) VALUES (${domain}, 1)
      ON CONFLICT (domain) DO UPDATE SET value = orch_fencing.value + 1
      RETURNING value`,
    (rows) => Number(rows[0]!.value)
  )
