/**
 * Singleton leases' SQL: one row per loop that must run once per cluster, naming the node
 * that runs it, until when, and the fencing token of its grant. Taking, renewing and giving
 * up the lease are compare-and-sets on the row, so of several nodes one holds it.
 *
 * Times are epoch ms in BIGINT columns, from the clock of the node that wrote them.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { decoder } from "../internal/integers.js"

/** Migration 0009, the same on both engines. */
export const schema = `
CREATE TABLE orch_singletons (
  name TEXT PRIMARY KEY,          -- <plugin>:<loop>
  holder TEXT NOT NULL,           -- the owner id of the node that holds (or last held) it
  token BIGINT NOT NULL,          -- fencing token of the grant, from orch_fencing's "singletons"
  expires_at BIGINT NOT NULL      -- free from then on; 0 once given up
);
`

export interface SingletonRow {
  readonly name: string
  readonly holder: string
  readonly token: number
  readonly expires_at: number
}

const decodeSingleton = decoder<SingletonRow, "token" | "expires_at">(["token", "expires_at"])

export const getSingleton = (sql: SqlClient.SqlClient, name: string): Effect.Effect<SingletonRow | undefined, SqlError> =>
  Effect.map(
    sql`SELECT name, holder, token, expires_at FROM orch_singletons WHERE name = ${name}`,
    (rows) => (rows.length === 0 ? undefined : decodeSingleton(rows[0]!))
  )

export const listSingletons = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<SingletonRow>, SqlError> =>
  Effect.map(sql`SELECT name, holder, token, expires_at FROM orch_singletons ORDER BY name`, (rows) => rows.map(decodeSingleton))

/**
 * Takes the lease if it is free (no row, or expired at `now`): the row's condition is
 * re-checked on the committed row when another node's take waited on it (READ COMMITTED),
 * so of two nodes taking at once one gets a row back.
 */
export const takeSingleton = (
  sql: SqlClient.SqlClient,
  lease: { readonly name: string; readonly holder: string; readonly token: number; readonly expiresAt: number; readonly now: number }
): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`INSERT INTO orch_singletons (name, holder, token, expires_at)
      VALUES (${lease.name}, ${lease.holder}, ${lease.token}, ${lease.expiresAt})
      ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires_at = excluded.expires_at
      WHERE orch_singletons.expires_at <= ${lease.now}
      RETURNING name`,
    (rows) => rows.length > 0
  )

/** Extends the lease while `holder` still holds the grant `token`; false when it was taken over. */
export const renewSingleton = (
  sql: SqlClient.SqlClient,
  lease: { readonly name: string; readonly holder: string; readonly token: number; readonly expiresAt: number }
): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`UPDATE orch_singletons SET expires_at = ${lease.expiresAt}
      WHERE name = ${lease.name} AND holder = ${lease.holder} AND token = ${lease.token}
      RETURNING name`,
    (rows) => rows.length > 0
  )

/** Gives the lease up (expired at once), keeping who held it last for operators to see. */
export const giveUpSingleton = (
  sql: SqlClient.SqlClient,
  lease: { readonly name: string; readonly holder: string; readonly token: number }
): Effect.Effect<void, SqlError> =>
  Effect.asVoid(
    sql`UPDATE orch_singletons SET expires_at = 0
      WHERE name = ${lease.name} AND holder = ${lease.holder} AND token = ${lease.token}`
  )

/**
 * Inside a write transaction: whether `holder` still holds the grant `token`, locking the
 * row until the transaction ends on PostgreSQL (FOR SHARE), so no other node can take the
 * lease over before the fenced writes commit. SQLite's transaction holds the write lock.
 */
export const lockHeldSingleton = (
  sql: SqlClient.SqlClient,
  lease: { readonly name: string; readonly holder: string; readonly token: number }
): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`SELECT name FROM orch_singletons
      WHERE name = ${lease.name} AND holder = ${lease.holder} AND token = ${lease.token}
      ${sql.onDialectOrElse({ pg: () => sql.literal("FOR SHARE"), orElse: () => sql.literal("") })}`,
    (rows) => rows.length > 0
  )
