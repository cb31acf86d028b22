/**
 * The allocator's own SQL. Devices, leases and fencing tokens are core's `Resources`;
 * the plugin keeps only what a lease was granted with beyond that: its TTL, which a
 * keepalive without a body extends it by again.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export const migrations = {
  "0001_lease_ttls": `
CREATE TABLE allocator_lease_ttls (
  lease_id TEXT PRIMARY KEY,      -- orch_resource_leases.id
  ttl_ms BIGINT NOT NULL
);`
}

/** Written in the transaction that grants the leases, one statement for them all. */
export const insertLeaseTtls = (
  sql: SqlClient.SqlClient,
  ttls: ReadonlyArray<{ readonly leaseId: string; readonly ttlMs: number }>
): Effect.Effect<unknown, SqlError> =>
  ttls.length === 0
    ? Effect.void
    : sql`INSERT INTO allocator_lease_ttls ${sql.insert(ttls.map(({ leaseId, ttlMs }) => ({ lease_id: leaseId, ttl_ms: ttlMs })))}`

/** The TTLs of several leases at once (for a batch of keepalives). */
export const getLeaseTtls = (sql: SqlClient.SqlClient, leaseIds: ReadonlyArray<string>): Effect.Effect<ReadonlyMap<string, number>, SqlError> =>
  leaseIds.length === 0 ? Effect.succeed(new Map()) : Effect.map(
    sql<{ lease_id: string; ttl_ms: number }>`SELECT lease_id, ttl_ms FROM allocator_lease_ttls WHERE lease_id IN ${sql.in(leaseIds)}`,
    (rows) => new Map(rows.map((row) => [row.lease_id, Number(row.ttl_ms)]))
  )
