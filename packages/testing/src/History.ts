/**
 * Old history written straight into core's tables, fast (one INSERT … SELECT over a
 * counter per table), for tests and benches of retention: jobs in a given state that
 * last changed at chosen times, their history rows, ended or open leases, resource events.
 * Parameters are cast, so PostgreSQL knows their types where no column gives them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** `count` integers 1…count as rows `i`, for INSERT … SELECT. */
const counter = (count: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${Math.floor(count)})`

export interface SeedJobs {
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly count: number
  /** The first job's `updated_at`; each next one is `step` ms later. */
  readonly updatedAt: number
  readonly step?: number | undefined
  /** History rows per job. */
  readonly history?: number | undefined
  /** A lease on every job (for jobs being worked). */
  readonly leased?: boolean | undefined
}

/** Inserts jobs (and their history rows); returns their ids, oldest first. */
export const seedJobs = (seed: SeedJobs) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const before = Number((yield* sql<{ id: unknown }>`SELECT COALESCE(MAX(id), 0) AS id FROM orch_jobs`)[0]!.id)
    const step = seed.step ?? 1
    const base = seed.updatedAt - step
    const lease = seed.leased ? `'seed-owner', 1000000 + i, ${seed.updatedAt + 3_600_000_000}` : "NULL, NULL, NULL"
    const int8 = (value: number) => sql`CAST(${value} AS BIGINT)`
    const text = (value: string) => sql`CAST(${value} AS TEXT)`
    yield* sql`${sql.literal(counter(seed.count))}
      INSERT INTO orch_jobs (plugin, kind, state, payload, priority, run_at, attempts, max_attempts,
        lease_owner, lease_token, lease_expires_at, created_at, updated_at)
      SELECT ${text(seed.plugin)}, ${text(seed.kind)}, ${text(seed.state)}, '{"n":1}', 0, ${int8(base)} + i * ${int8(step)}, 1, 3,
        ${sql.literal(lease)}, ${int8(base)} + i * ${int8(step)}, ${int8(base)} + i * ${int8(step)} FROM n`
    const ids = (yield* sql<{ id: unknown }>`SELECT id FROM orch_jobs WHERE id > ${before} ORDER BY id`).map((row) => Number(row.id))
    for (let h = 0; h < (seed.history ?? 0); h++) {
      yield* sql`INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason, owner, token)
        SELECT id, updated_at, NULL, state, ${`seed ${h}`}, NULL, NULL FROM orch_jobs WHERE id > ${before}`
    }
    return ids
  })

export interface SeedLeases {
  readonly plugin: string
  readonly kind: string
  readonly resource: string
  readonly count: number
  /** The first lease's end (or grant, when open); each next one is `step` ms later. */
  readonly endedAt: number
  readonly step?: number | undefined
  /** Leave the last lease open (a resource has at most one). */
  readonly lastOpen?: boolean | undefined
  /** Ids start with this, `<prefix><i>`. */
  readonly idPrefix?: string | undefined
}

/** Inserts a resource (when missing) and leases on it; returns the lease ids, oldest first. */
export const seedLeases = (seed: SeedLeases) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const step = seed.step ?? 1
    yield* sql`INSERT INTO orch_resources (plugin, kind, name, state, labels, data, created_at, updated_at, state_changed_at)
      VALUES (${seed.plugin}, ${seed.kind}, ${seed.resource}, 'ready', '{}', NULL, 0, 0, 0) ON CONFLICT DO NOTHING`
    const token = Number((yield* sql<{ t: unknown }>`SELECT COALESCE(MAX(token), 0) AS t FROM orch_resource_leases`)[0]!.t)
    const prefix = seed.idPrefix ?? `${seed.resource}-lease-`
    const int8 = (value: number) => sql`CAST(${value} AS BIGINT)`
    const first = seed.endedAt - step
    const open = seed.lastOpen ? sql.literal(`i = ${Math.floor(seed.count)}`) : sql.literal("1 = 0")
    yield* sql`${sql.literal(counter(seed.count))}
      INSERT INTO orch_resource_leases (id, plugin, kind, resource, holder, token, granted_at, expires_at, ended_at, end_reason)
      SELECT CAST(${prefix} AS TEXT) || CAST(i AS TEXT), CAST(${seed.plugin} AS TEXT), CAST(${seed.kind} AS TEXT),
        CAST(${seed.resource} AS TEXT), 'seed', ${int8(token)} + i, ${int8(first)} + i * ${int8(step)} - 1,
        ${int8(first)} + i * ${int8(step)} + 60000,
        CASE WHEN ${open} THEN NULL ELSE ${int8(first)} + i * ${int8(step)} END, 'released' FROM n`
    return Array.from({ length: seed.count }, (_, i) => `${prefix}${i + 1}`)
  })

/** Inserts `count` events of a resource (which must exist), `step` ms apart from `at`. */
export const seedEvents = (seed: { readonly plugin: string; readonly kind: string; readonly resource: string; readonly count: number; readonly at: number; readonly step?: number }) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const step = seed.step ?? 1
    return sql`${sql.literal(counter(seed.count))}
      INSERT INTO orch_resource_events (plugin, kind, resource, at, from_state, to_state, reason)
      SELECT CAST(${seed.plugin} AS TEXT), CAST(${seed.kind} AS TEXT), CAST(${seed.resource} AS TEXT),
        CAST(${seed.at - step} AS BIGINT) + i * CAST(${step} AS BIGINT), 'ready', 'leased', 'seed' FROM n`
  })

/** Rows in `table`. */
export const countRows = (table: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<{ n: unknown }>(`SELECT COUNT(*) AS n FROM ${table}`), (rows) => Number(rows[0]!.n)))
