/**
 * All of the job queue's SQL: its tables and one function per query, named for what it
 * does. Every write here runs inside `Database.transaction`, which holds the write lock,
 * so a row read in a transaction cannot change before the same transaction writes it.
 *
 * Times are epoch ms; `payload`, `result` are JSON text. The DDL is SQLite's (a
 * PostgreSQL backend would declare `id` as an identity column); the queries are
 * standard SQL that PostgreSQL also runs.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

export const schema = `
CREATE TABLE orch_jobs (
  id INTEGER PRIMARY KEY,
  plugin TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT,
  last_error TEXT,
  priority INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  idempotency_key TEXT,
  lease_owner TEXT,
  lease_token INTEGER,
  lease_expires_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (plugin, kind, idempotency_key)
);

-- claim order within one kind and state; finished jobs pile up under other states and are never scanned
CREATE INDEX orch_jobs_claim ON orch_jobs (plugin, kind, state, priority DESC, run_at, id);

-- reclaimExpired reads only the leased rows
CREATE INDEX orch_jobs_lease ON orch_jobs (lease_expires_at) WHERE lease_token IS NOT NULL;

CREATE TABLE orch_job_history (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL REFERENCES orch_jobs (id),
  at INTEGER NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  owner TEXT,
  token INTEGER
);

CREATE INDEX orch_job_history_job ON orch_job_history (job_id, id);
`

export interface JobRow {
  readonly id: number
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly payload: string
  readonly result: string | null
  readonly last_error: string | null
  readonly priority: number
  readonly run_at: number
  readonly attempts: number
  readonly max_attempts: number
  readonly idempotency_key: string | null
  readonly lease_owner: string | null
  readonly lease_token: number | null
  readonly lease_expires_at: number | null
  readonly created_at: number
  readonly updated_at: number
}

export interface HistoryRow {
  readonly id: number
  readonly job_id: number
  readonly at: number
  readonly from_state: string | null
  readonly to_state: string
  readonly reason: string
  readonly owner: string | null
  readonly token: number | null
}

export interface CountRow {
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly count: number
}

const first = <A>(rows: ReadonlyArray<A>): A | undefined => rows[0]

/** Inserts a job, or nothing when (plugin, kind, idempotency key) exists: then it returns undefined. */
export const insertJob = (
  sql: SqlClient.SqlClient,
  job: {
    readonly plugin: string
    readonly kind: string
    readonly state: string
    readonly payload: string
    readonly priority: number
    readonly runAt: number
    readonly maxAttempts: number
    readonly idempotencyKey: string | null
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`INSERT INTO orch_jobs
      (plugin, kind, state, payload, priority, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at)
      VALUES (${job.plugin}, ${job.kind}, ${job.state}, ${job.payload}, ${job.priority}, ${job.runAt}, 0,
        ${job.maxAttempts}, ${job.idempotencyKey}, ${job.now}, ${job.now})
      ON CONFLICT (plugin, kind, idempotency_key) DO NOTHING
      RETURNING *`,
    first
  )

export const getJobByIdempotencyKey = (
  sql: SqlClient.SqlClient,
  plugin: string,
  kind: string,
  idempotencyKey: string
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`SELECT * FROM orch_jobs
      WHERE plugin = ${plugin} AND kind = ${kind} AND idempotency_key = ${idempotencyKey}`,
    first
  )

export const getJob = (sql: SqlClient.SqlClient, id: number): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(sql<JobRow>`SELECT * FROM orch_jobs WHERE id = ${id}`, first)

/**
 * The next jobs a claimer may take, in claim order: due, and with no lease or an expired
 * one. Run under the write lock, so no other claimer can take them before `grantLease`.
 */
export const selectClaimable = (
  sql: SqlClient.SqlClient,
  query: {
    readonly plugin: string
    readonly kind: string
    readonly states: ReadonlyArray<string>
    readonly now: number
    readonly limit: number
  }
): Effect.Effect<ReadonlyArray<JobRow>, SqlError> =>
  sql<JobRow>`SELECT * FROM orch_jobs
    WHERE plugin = ${query.plugin} AND kind = ${query.kind} AND state IN ${sql.in(query.states)}
      AND run_at <= ${query.now}
      AND (lease_token IS NULL OR lease_expires_at <= ${query.now})
    ORDER BY priority DESC, run_at, id
    LIMIT ${query.limit}`

/** Gives the job to `owner` under a new fencing token; the state does not change. */
export const grantLease = (
  sql: SqlClient.SqlClient,
  grant: {
    readonly id: number
    readonly owner: string
    readonly token: number
    readonly expiresAt: number
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET lease_owner = ${grant.owner}, lease_token = ${grant.token}, lease_expires_at = ${grant.expiresAt},
        updated_at = ${grant.now}
      WHERE id = ${grant.id}
      RETURNING *`,
    first
  )

/** Pushes the lease's expiry out; matches nothing once `token` no longer holds the job. */
export const extendLease = (
  sql: SqlClient.SqlClient,
  lease: { readonly id: number; readonly token: number; readonly expiresAt: number; readonly now: number }
): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql<{ id: number }>`UPDATE orch_jobs SET lease_expires_at = ${lease.expiresAt}, updated_at = ${lease.now}
      WHERE id = ${lease.id} AND lease_token = ${lease.token}
      RETURNING id`,
    (rows) => rows.length > 0
  )

/**
 * The compare-and-set behind every change a lease holder makes: it matches only while
 * the job is still in `from` under `token`. Null `result`, `error`, `runAt` keep the
 * stored values; the lease is cleared unless `keepLease`.
 */
export const transitionJob = (
  sql: SqlClient.SqlClient,
  change: {
    readonly id: number
    readonly from: string
    readonly token: number
    readonly to: string
    readonly result: string | null
    readonly error: string | null
    readonly runAt: number | null
    readonly keepLease: boolean
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> => {
  const keep = change.keepLease ? 1 : 0
  return Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET state = ${change.to},
        result = COALESCE(${change.result}, result),
        last_error = COALESCE(${change.error}, last_error),
        run_at = COALESCE(${change.runAt}, run_at),
        lease_owner = CASE WHEN ${keep} = 1 THEN lease_owner ELSE NULL END,
        lease_token = CASE WHEN ${keep} = 1 THEN lease_token ELSE NULL END,
        lease_expires_at = CASE WHEN ${keep} = 1 THEN lease_expires_at ELSE NULL END,
        updated_at = ${change.now}
      WHERE id = ${change.id} AND state = ${change.from} AND lease_token = ${change.token}
      RETURNING *`,
    first
  )
}

/** Gives the lease back without a change of state, optionally not before `runAt`. */
export const releaseJob = (
  sql: SqlClient.SqlClient,
  release: {
    readonly id: number
    readonly state: string
    readonly token: number
    readonly runAt: number | null
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET run_at = COALESCE(${release.runAt}, run_at),
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${release.now}
      WHERE id = ${release.id} AND state = ${release.state} AND lease_token = ${release.token}
      RETURNING *`,
    first
  )

/**
 * Counts a failed attempt of the holder of `token`: the lease is cleared and the job goes
 * to `to` (its own state to be retried at `runAt`, or its dead state).
 */
export const failJob = (
  sql: SqlClient.SqlClient,
  failure: {
    readonly id: number
    readonly state: string
    readonly token: number
    readonly to: string
    readonly error: string
    readonly runAt: number
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET state = ${failure.to}, attempts = attempts + 1, last_error = ${failure.error}, run_at = ${failure.runAt},
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${failure.now}
      WHERE id = ${failure.id} AND state = ${failure.state} AND lease_token = ${failure.token}
      RETURNING *`,
    first
  )

/** Leased jobs whose lease ran out by `now`, oldest expiry first. */
export const selectExpiredLeases = (
  sql: SqlClient.SqlClient,
  now: number,
  limit: number
): Effect.Effect<ReadonlyArray<JobRow>, SqlError> =>
  sql<JobRow>`SELECT * FROM orch_jobs
    WHERE lease_token IS NOT NULL AND lease_expires_at <= ${now}
    ORDER BY lease_expires_at, id
    LIMIT ${limit}`

/** Records an expired lease as a failed attempt: the lease is cleared and the job goes to `to`. */
export const expireLease = (
  sql: SqlClient.SqlClient,
  expiry: { readonly id: number; readonly token: number; readonly to: string; readonly error: string; readonly now: number }
): Effect.Effect<JobRow | undefined, SqlError> =>
  Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET state = ${expiry.to}, attempts = attempts + 1, last_error = ${expiry.error},
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${expiry.now}
      WHERE id = ${expiry.id} AND lease_token = ${expiry.token}
      RETURNING *`,
    first
  )

/**
 * Moves a job from `from` to `to` whoever holds it (cancel, retry, a payload that no longer
 * decodes): the lease is cleared, so its holder's next compare-and-set fails.
 */
export const forceState = (
  sql: SqlClient.SqlClient,
  change: {
    readonly id: number
    readonly from: string
    readonly to: string
    readonly error: string | null
    readonly resetAttempts: boolean
    readonly runAt: number | null
    readonly now: number
  }
): Effect.Effect<JobRow | undefined, SqlError> => {
  const reset = change.resetAttempts ? 1 : 0
  return Effect.map(
    sql<JobRow>`UPDATE orch_jobs
      SET state = ${change.to},
        last_error = COALESCE(${change.error}, last_error),
        attempts = CASE WHEN ${reset} = 1 THEN 0 ELSE attempts END,
        run_at = COALESCE(${change.runAt}, run_at),
        lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${change.now}
      WHERE id = ${change.id} AND state = ${change.from}
      RETURNING *`,
    first
  )
}

export const insertHistory = (
  sql: SqlClient.SqlClient,
  entry: {
    readonly jobId: number
    readonly at: number
    readonly from: string | null
    readonly to: string
    readonly reason: string
    readonly owner: string | null
    readonly token: number | null
  }
): Effect.Effect<void, SqlError> =>
  Effect.asVoid(
    sql`INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason, owner, token)
      VALUES (${entry.jobId}, ${entry.at}, ${entry.from}, ${entry.to}, ${entry.reason}, ${entry.owner}, ${entry.token})`
  )

export const selectHistory = (sql: SqlClient.SqlClient, jobId: number): Effect.Effect<ReadonlyArray<HistoryRow>, SqlError> =>
  sql<HistoryRow>`SELECT * FROM orch_job_history WHERE job_id = ${jobId} ORDER BY id`

/** Newest first; `beforeId` pages backwards from the last id of the previous page. */
export const listJobs = (
  sql: SqlClient.SqlClient,
  filter: {
    readonly plugin?: string | undefined
    readonly kind?: string | undefined
    readonly state?: string | undefined
    readonly beforeId?: number | undefined
    readonly limit: number
  }
): Effect.Effect<ReadonlyArray<JobRow>, SqlError> => {
  const clauses = [
    filter.plugin !== undefined ? sql`plugin = ${filter.plugin}` : undefined,
    filter.kind !== undefined ? sql`kind = ${filter.kind}` : undefined,
    filter.state !== undefined ? sql`state = ${filter.state}` : undefined,
    filter.beforeId !== undefined ? sql`id < ${filter.beforeId}` : undefined
  ].filter((clause) => clause !== undefined)
  return sql<JobRow>`SELECT * FROM orch_jobs WHERE ${sql.and(clauses)} ORDER BY id DESC LIMIT ${filter.limit}`
}

export const countJobsByState = (sql: SqlClient.SqlClient): Effect.Effect<ReadonlyArray<CountRow>, SqlError> =>
  sql<CountRow>`SELECT plugin, kind, state, COUNT(*) AS count FROM orch_jobs
    GROUP BY plugin, kind, state ORDER BY plugin, kind, state`
