/**
 * Retention's SQL: the indexes that let pruning find old rows without a scan, and one
 * query per step. A pass picks a batch's ids with a `select…` query and removes them
 * with the `delete…` queries, all in one short transaction (`Database.transaction`,
 * which under SQLite takes the write lock first, so what was selected is what is
 * deleted; under PostgreSQL the select locks its rows, skipping those a writer holds).
 *
 * What may go, and nothing else: jobs in a final state of their kind with no lease,
 * leases with `ended_at` set, resource events older than their resource's newest.
 * Children go before their parent, since `orch_job_history` references `orch_jobs`.
 * Standard SQL, which PostgreSQL runs too; a `Cutoff` says which rows are old enough.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Effect } from "effect"

/** Migration 0006. */
export const indexes = `
-- a kind's jobs by their last change (when a finished one finished), oldest first. Without
-- state, so it never looks better than orch_jobs_claim to a claim over several states;
-- the few unfinished jobs untouched for longer than maxAge are skipped by a row lookup
CREATE INDEX orch_jobs_by_change ON orch_jobs (plugin, kind, updated_at);

-- ended leases of a kind by when they ended; open leases cost no entry
CREATE INDEX orch_resource_leases_ended ON orch_resource_leases (plugin, kind, ended_at) WHERE ended_at IS NOT NULL;

-- a kind's resource events by time
CREATE INDEX orch_resource_events_by_time ON orch_resource_events (plugin, kind, at);
`

/**
 * Migration 0010, PostgreSQL's only: `orch_jobs_by_change` over jobs without a holder, which
 * is every finished job and all that retention reads (`finishedJobs`). A claim, which may
 * take over expired leases, cannot use it: a planner without statistics (a fresh table,
 * before autovacuum's first ANALYZE) rated both indexes at one row and took this narrower
 * one, reading every job of the kind and sorting them (30 ms a claim instead of 0.3 ms at
 * 20,000 jobs). SQLite's planner picks orch_jobs_claim by itself.
 */
export const byChangeWithoutHolder = `
DROP INDEX orch_jobs_by_change;
CREATE INDEX orch_jobs_by_change ON orch_jobs (plugin, kind, updated_at) WHERE lease_owner IS NULL;
`

/** Under PostgreSQL a batch locks what it picks and skips rows a writer holds; SQLite holds the write lock already. */
const lockPicked = (sql: SqlClient.SqlClient): Statement.Fragment =>
  sql.onDialectOrElse({ pg: () => sql` FOR UPDATE SKIP LOCKED`, orElse: () => sql`` })

/**
 * What goes: rows older than `time`, and when `id` is set (a count limit) also those at
 * `time` up to `id`, so ties at the boundary are cut by id and a count is kept exactly.
 */
export interface Cutoff {
  readonly time: number
  readonly id?: number | string | undefined
}

const before = (sql: SqlClient.SqlClient, timeColumn: string, idColumn: string, cutoff: Cutoff): Statement.Fragment => {
  const [t, id] = [sql.literal(timeColumn), sql.literal(idColumn)]
  return cutoff.id === undefined
    ? sql`${t} < ${cutoff.time}`
    : sql`${t} <= ${cutoff.time} AND (${t} < ${cutoff.time} OR ${id} <= ${cutoff.id})`
}

const count = (statement: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, SqlError>) =>
  Effect.map(statement, (rows) => Number(rows[0]?.n ?? 0))

/** The boundary row of a count limit, as a `Cutoff` that includes it. */
const boundary = (statement: Effect.Effect<ReadonlyArray<{ readonly t: unknown; readonly id: unknown }>, SqlError>) =>
  Effect.map(statement, (rows): Cutoff | undefined =>
    rows.length === 0 ? undefined : { time: Number(rows[0]!.t), id: typeof rows[0]!.id === "string" && !/^\d+$/.test(rows[0]!.id) ? rows[0]!.id : Number(rows[0]!.id) })

/** A table of a plugin whose rows belong to jobs or leases: `column` holds the id. */
export interface ChildTable {
  readonly table: string
  readonly column: string
}

// -- jobs ---------------------------------------------------------------------

export interface JobScope {
  readonly plugin: string
  readonly kind: string
  /** The kind's final states: only jobs in one of these are ever touched. */
  readonly final: ReadonlyArray<string>
}

const finishedJobs = (sql: SqlClient.SqlClient, scope: JobScope) =>
  sql`plugin = ${scope.plugin} AND kind = ${scope.kind} AND state IN ${sql.in(scope.final)} AND lease_owner IS NULL`

/** How many finished jobs the kind has (a prefix of `orch_jobs_claim`). */
export const countFinishedJobs = (sql: SqlClient.SqlClient, scope: JobScope) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_jobs WHERE ${finishedJobs(sql, scope)}`)

/** The `offset`+1-th newest finished job: it and older ones are over a count of `offset`. */
export const finishedJobAt = (sql: SqlClient.SqlClient, scope: JobScope, offset: number) =>
  boundary(sql<{ t: unknown; id: unknown }>`SELECT updated_at AS t, id FROM orch_jobs WHERE ${finishedJobs(sql, scope)}
    ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET ${offset}`)

/** Up to `limit` finished jobs that finished before `cutoff` (no ORDER BY: all of them go; `orch_jobs_by_change` finds them in one range). */
export const selectFinishedJobs = (sql: SqlClient.SqlClient, scope: JobScope, cutoff: Cutoff, limit: number) =>
  Effect.map(
    sql<{ id: unknown }>`SELECT id FROM orch_jobs WHERE ${finishedJobs(sql, scope)} AND ${before(sql, "updated_at", "id", cutoff)}
      LIMIT ${limit}${lockPicked(sql)}`,
    (rows) => rows.map((row) => Number(row.id))
  )

/** What a dry run reports: the finished jobs before `cutoff`, their history rows and a child table's rows. */
export const countFinishedJobsBefore = (sql: SqlClient.SqlClient, scope: JobScope, cutoff: Cutoff) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_jobs WHERE ${finishedJobs(sql, scope)} AND ${before(sql, "updated_at", "id", cutoff)}`)

export const countJobChildrenBefore = (sql: SqlClient.SqlClient, child: ChildTable, scope: JobScope, cutoff: Cutoff) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ${sql(child.table)} WHERE ${sql(child.column)} IN
    (SELECT id FROM orch_jobs WHERE ${finishedJobs(sql, scope)} AND ${before(sql, "updated_at", "id", cutoff)})`)

/** The rows of picked jobs or leases in a child table (history, a plugin's); returns how many went. */
export const deleteChildren = (sql: SqlClient.SqlClient, child: ChildTable, ids: ReadonlyArray<number | string>) =>
  Effect.map(
    sql<{ x: unknown }>`DELETE FROM ${sql(child.table)} WHERE ${sql(child.column)} IN ${sql.in(ids)} RETURNING 1 AS x`,
    (rows) => rows.length
  )

/**
 * The jobs themselves, by id alone: the select in the same transaction picked them as
 * finished under the write lock (SQLite) or locked them (PostgreSQL), and re-checking
 * the state here could let SQLite walk an index of the kind instead of the ids.
 */
export const deleteJobs = (sql: SqlClient.SqlClient, ids: ReadonlyArray<number>) =>
  Effect.map(sql<{ id: unknown }>`DELETE FROM orch_jobs WHERE id IN ${sql.in(ids)} RETURNING id`, (rows) => rows.length)

export const jobHistory: ChildTable = { table: "orch_job_history", column: "job_id" }

// -- leases -------------------------------------------------------------------

export interface KindScope {
  readonly plugin: string
  readonly kind: string
}

/** The resource kinds that have resources (leases and events go with their resource, so no others have any). */
export const resourceKinds = (sql: SqlClient.SqlClient) =>
  sql<KindScope>`SELECT DISTINCT plugin, kind FROM orch_resources ORDER BY plugin, kind`

const endedLeases = (sql: SqlClient.SqlClient, scope: KindScope) =>
  sql`plugin = ${scope.plugin} AND kind = ${scope.kind} AND ended_at IS NOT NULL`

export const countEndedLeases = (sql: SqlClient.SqlClient, scope: KindScope) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_resource_leases WHERE ${endedLeases(sql, scope)}`)

export const endedLeaseAt = (sql: SqlClient.SqlClient, scope: KindScope, offset: number) =>
  boundary(sql<{ t: unknown; id: unknown }>`SELECT ended_at AS t, id FROM orch_resource_leases WHERE ${endedLeases(sql, scope)}
    ORDER BY ended_at DESC, id DESC LIMIT 1 OFFSET ${offset}`)

export const selectEndedLeases = (sql: SqlClient.SqlClient, scope: KindScope, cutoff: Cutoff, limit: number) =>
  Effect.map(
    sql<{ id: string }>`SELECT id FROM orch_resource_leases WHERE ${endedLeases(sql, scope)} AND ${before(sql, "ended_at", "id", cutoff)}
      LIMIT ${limit}${lockPicked(sql)}`,
    (rows) => rows.map((row) => row.id)
  )

export const countEndedLeasesBefore = (sql: SqlClient.SqlClient, scope: KindScope, cutoff: Cutoff) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_resource_leases WHERE ${endedLeases(sql, scope)} AND ${before(sql, "ended_at", "id", cutoff)}`)

export const countLeaseChildrenBefore = (sql: SqlClient.SqlClient, child: ChildTable, scope: KindScope, cutoff: Cutoff) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM ${sql(child.table)} WHERE ${sql(child.column)} IN
    (SELECT id FROM orch_resource_leases WHERE ${endedLeases(sql, scope)} AND ${before(sql, "ended_at", "id", cutoff)})`)

/** The leases, by id: picked as ended in the same transaction (see `deleteJobs`). */
export const deleteLeases = (sql: SqlClient.SqlClient, ids: ReadonlyArray<string>) =>
  Effect.map(sql<{ id: string }>`DELETE FROM orch_resource_leases WHERE id IN ${sql.in(ids)} RETURNING id`, (rows) => rows.length)

// -- resource events ----------------------------------------------------------

/** A kind's events but each resource's newest (found through `orch_resource_events_by_resource`). */
const oldEvents = (sql: SqlClient.SqlClient, scope: KindScope) =>
  sql`e.plugin = ${scope.plugin} AND e.kind = ${scope.kind} AND e.id < (SELECT MAX(l.id) FROM orch_resource_events l
    WHERE l.plugin = e.plugin AND l.kind = e.kind AND l.resource = e.resource)`

export const countEvents = (sql: SqlClient.SqlClient, scope: KindScope) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_resource_events e WHERE ${oldEvents(sql, scope)}`)

export const eventAt = (sql: SqlClient.SqlClient, scope: KindScope, offset: number) =>
  boundary(sql<{ t: unknown; id: unknown }>`SELECT e.at AS t, e.id AS id FROM orch_resource_events e WHERE ${oldEvents(sql, scope)}
    ORDER BY e.at DESC, e.id DESC LIMIT 1 OFFSET ${offset}`)

export const selectEvents = (sql: SqlClient.SqlClient, scope: KindScope, cutoff: Cutoff, limit: number) =>
  Effect.map(
    sql<{ id: unknown }>`SELECT e.id FROM orch_resource_events e WHERE ${oldEvents(sql, scope)} AND ${before(sql, "e.at", "e.id", cutoff)}
      LIMIT ${limit}${lockPicked(sql)}`,
    (rows) => rows.map((row) => Number(row.id))
  )

export const countEventsBefore = (sql: SqlClient.SqlClient, scope: KindScope, cutoff: Cutoff) =>
  count(sql<{ n: unknown }>`SELECT COUNT(*) AS n FROM orch_resource_events e WHERE ${oldEvents(sql, scope)} AND ${before(sql, "e.at", "e.id", cutoff)}`)

export const deleteEvents = (sql: SqlClient.SqlClient, ids: ReadonlyArray<number>) =>
  Effect.map(sql<{ id: unknown }>`DELETE FROM orch_resource_events WHERE id IN ${sql.in(ids)} RETURNING id`, (rows) => rows.length)
