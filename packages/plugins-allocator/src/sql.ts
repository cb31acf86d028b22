/**
 * The allocator's own SQL. Devices, leases and fencing tokens are core's `Resources`;
 * the plugin keeps what a lease was granted with beyond that (its TTL, which a keepalive
 * without a body extends it by again) and the line of waiting allocations that the nodes
 * sharing one database serve in one order (`SharedLine.ts`).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { nextTokens } from "@orch/core/sql/fencing"
import { Effect } from "effect"

export const migrations = {
  "0001_lease_ttls": `
CREATE TABLE allocator_lease_ttls (
  lease_id TEXT PRIMARY KEY,      -- orch_resource_leases.id
  ttl_ms BIGINT NOT NULL
);`,
  // the same DDL on both engines (BIGINT, TEXT, no identity column), so one script
  "0002_waiters": `
CREATE TABLE allocator_waiter_nodes (
  node TEXT PRIMARY KEY,          -- an allocator instance: host:pid:random
  live_until BIGINT NOT NULL      -- epoch ms; its waiters count until then, each of its passes moves it on
);
CREATE TABLE allocator_waiters (
  seq BIGINT PRIMARY KEY,         -- the one order of arrival across nodes (orch_fencing domain allocator-waiters)
  node TEXT NOT NULL,             -- allocator_waiter_nodes.node (no foreign key: a pruned node's rows go with it)
  waiter TEXT NOT NULL,           -- the node's own id for the waiter
  holder TEXT NOT NULL,
  criteria TEXT NOT NULL,         -- JSON object, keys sorted: equal criteria, equal text
  deadline BIGINT,                -- epoch ms when it gives up; NULL: never
  UNIQUE (node, waiter)
);
CREATE INDEX allocator_waiters_by_criteria ON allocator_waiters (criteria, seq);`
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

/** A waiting allocation of some node, as the shared line holds it. */
export interface WaiterRow {
  readonly seq: number
  readonly node: string
  readonly waiter: string
  readonly holder: string
  readonly criteria: string
  readonly deadline: number | null
}

/**
 * PostgreSQL: one transaction-scoped advisory lock ("dev" in ASCII) for the allocator's
 * device passes of every node. A pass reads the waiters and then the free devices and
 * decides on all of them at once: two passes deciding side by side on different snapshots
 * could each count on a device the other gives away, and row locks on the free devices
 * would not cover a device freed between the two reads. Released at commit or rollback.
 * SQLite: the write lock of `Database.transaction` already lines passes up.
 */
export const lockPasses = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError> =>
  sql.onDialectOrElse({
    pg: () => Effect.asVoid(sql.unsafe("SELECT pg_advisory_xact_lock(6579574)")),
    orElse: () => Effect.void
  })

/** Moves `node`'s expiry on; false when its row is gone (pruned as dead: its waiters went with it). */
export const keepNodeLive = (sql: SqlClient.SqlClient, node: string, liveUntil: number): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql<{ node: string }>`UPDATE allocator_waiter_nodes SET live_until = ${liveUntil} WHERE node = ${node} RETURNING node`,
    (rows) => rows.length > 0
  )

export const insertNode = (sql: SqlClient.SqlClient, node: string, liveUntil: number): Effect.Effect<unknown, SqlError> =>
  sql`INSERT INTO allocator_waiter_nodes (node, live_until) VALUES (${node}, ${liveUntil})
    ON CONFLICT (node) DO UPDATE SET live_until = excluded.live_until`

/**
 * Puts waiters in the shared line, one statement for them all, each with its place in the
 * one order: the counter's row stays locked (PostgreSQL) until this transaction commits, so
 * the places are given out in the order the nodes' rows become visible, and a reader never
 * sees a later waiter without the earlier ones. Returns the places, in order.
 */
export const insertWaiters = (
  sql: SqlClient.SqlClient,
  node: string,
  waiters: ReadonlyArray<{ readonly waiter: string; readonly holder: string; readonly criteria: string; readonly deadline: number | null }>
): Effect.Effect<ReadonlyArray<number>, SqlError> =>
  waiters.length === 0 ? Effect.succeed([]) : Effect.flatMap(nextTokens(sql, "allocator-waiters", waiters.length), (seqs) => {
    const rows = waiters.map((w, i) => ({ seq: seqs[i]!, node, ...w }))
    // a node writing all its waiters anew may have more than PostgreSQL's 65,535 parameters take
    const chunks = Array.from({ length: Math.ceil(rows.length / 1_000) }, (_, i) => rows.slice(i * 1_000, (i + 1) * 1_000))
    return Effect.as(
      Effect.forEach(chunks, (chunk) => sql`INSERT INTO allocator_waiters ${sql.insert(chunk)} ON CONFLICT (node, waiter) DO NOTHING`, { discard: true }),
      seqs
    )
  })

/** Takes `node`'s waiters out of the shared line, one statement for them all. */
export const deleteWaiters = (sql: SqlClient.SqlClient, node: string, waiters: ReadonlyArray<string>): Effect.Effect<unknown, SqlError> =>
  waiters.length === 0 ? Effect.void : sql`DELETE FROM allocator_waiters WHERE node = ${node} AND waiter IN ${sql.in(waiters)}`

/** Takes every waiter of `node` out, and the node (it stops). */
export const deleteNode = (sql: SqlClient.SqlClient, node: string): Effect.Effect<unknown, SqlError> =>
  Effect.zipRight(
    sql`DELETE FROM allocator_waiters WHERE node = ${node}`,
    sql`DELETE FROM allocator_waiter_nodes WHERE node = ${node}`
  )

/**
 * Removes the nodes that stopped moving their expiry on, then the waiters of just those:
 * a node that moves it on meanwhile keeps its row (the delete re-checks the row it waited
 * for) and so its waiters; one that comes after finds its row gone and writes them anew.
 */
export const pruneDeadNodes = (sql: SqlClient.SqlClient, now: number): Effect.Effect<unknown, SqlError> =>
  Effect.flatMap(
    sql<{ node: string }>`DELETE FROM allocator_waiter_nodes WHERE live_until <= ${now} RETURNING node`,
    (dead) => dead.length === 0 ? Effect.void : sql`DELETE FROM allocator_waiters WHERE node IN ${sql.in(dead.map((row) => row.node))}`
  )

/**
 * The live waiters of every node but `node`, in the one order: those of a live node whose
 * wait has not run out, at most the first `perCriteria` of each set of criteria (no more
 * of a line can be served by that many free devices).
 */
export const otherWaiters = (
  sql: SqlClient.SqlClient,
  node: string,
  now: number,
  perCriteria: number
): Effect.Effect<ReadonlyArray<WaiterRow>, SqlError> =>
  Effect.map(
    sql<{ seq: number | string; node: string; waiter: string; holder: string; criteria: string; deadline: number | string | null }>`
      SELECT seq, node, waiter, holder, criteria, deadline FROM (
        SELECT w.seq, w.node, w.waiter, w.holder, w.criteria, w.deadline,
          ROW_NUMBER() OVER (PARTITION BY w.criteria ORDER BY w.seq) AS place
        FROM allocator_waiters w JOIN allocator_waiter_nodes n ON n.node = w.node
        WHERE w.node <> ${node} AND n.live_until > ${now} AND (w.deadline IS NULL OR w.deadline > ${now})
      ) ranked
      WHERE place <= ${perCriteria}
      ORDER BY seq`,
    (rows) => rows.map((row) => ({ ...row, seq: Number(row.seq), deadline: row.deadline === null ? null : Number(row.deadline) }))
  )

/** The criteria other live nodes' waiters wait with (for an allocation that would not wait behind them). */
export const otherCriteria = (sql: SqlClient.SqlClient, node: string, now: number): Effect.Effect<ReadonlyArray<string>, SqlError> =>
  Effect.map(
    sql<{ criteria: string }>`SELECT DISTINCT w.criteria FROM allocator_waiters w JOIN allocator_waiter_nodes n ON n.node = w.node
      WHERE w.node <> ${node} AND n.live_until > ${now} AND (w.deadline IS NULL OR w.deadline > ${now})`,
    (rows) => rows.map((row) => row.criteria)
  )
