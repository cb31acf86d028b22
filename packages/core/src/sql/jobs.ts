/**
 * All of the job queue's SQL: its tables and one function per query, named for what it
 * does. Each function builds one statement (itself an Effect of its rows) and runs
 * nothing. Every write runs inside a transaction holding the write lock, so a row read in
 * a transaction cannot change before the same transaction writes it.
 *
 * Times are epoch ms; `payload` and `result` are JSON text. The three lease columns are
 * set and cleared together. The DDL is SQLite's (PostgreSQL would declare `id` as an
 * identity column); the queries are standard SQL that PostgreSQL also runs.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

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
  updated_at INTEGER NOT NULL
);

-- claim order within one kind and state; lease_expires_at rides along so leased rows are
-- skipped without reading them, and finished jobs sit under other states, never scanned
CREATE INDEX orch_jobs_claim ON orch_jobs (plugin, kind, state, priority DESC, run_at, id, lease_expires_at);

-- partial, so jobs without a key cost no index entry
CREATE UNIQUE INDEX orch_jobs_idempotency ON orch_jobs (plugin, kind, idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- reclaimExpired reads only the leased rows of a kind
CREATE INDEX orch_jobs_lease ON orch_jobs (plugin, kind, lease_expires_at) WHERE lease_expires_at IS NOT NULL;

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

/** Inserts a job and returns it, or returns nothing when (plugin, kind, idempotency key) exists. */
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
): Statement.Statement<JobRow> =>
  sql<JobRow>`INSERT INTO orch_jobs
    (plugin, kind, state, payload, priority, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at)
    VALUES (${job.plugin}, ${job.kind}, ${job.state}, ${job.payload}, ${job.priority}, ${job.runAt}, 0,
      ${job.maxAttempts}, ${job.idempotencyKey}, ${job.now}, ${job.now})
    ON CONFLICT (plugin, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *`

export const getJobByIdempotencyKey = (
  sql: SqlClient.SqlClient,
  plugin: string,
  kind: string,
  idempotencyKey: string
): Statement.Statement<JobRow> =>
  sql<JobRow>`SELECT * FROM orch_jobs
    WHERE plugin = ${plugin} AND kind = ${kind} AND idempotency_key = ${idempotencyKey}`

export const getJob = (sql: SqlClient.SqlClient, id: number): Statement.Statement<JobRow> =>
  sql<JobRow>`SELECT * FROM orch_jobs WHERE id = ${id}`

/**
 * The next jobs a claimer may take, in claim order: due, and with no lease or an expired
 * one. Run under the write lock, so no other claimer can take them before `grantLeases`.
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
): Statement.Statement<JobRow> =>
  sql<JobRow>`SELECT * FROM orch_jobs
    WHERE plugin = ${query.plugin} AND kind = ${query.kind} AND state IN ${sql.in(query.states)}
      AND run_at <= ${query.now}
      AND (lease_expires_at IS NULL OR lease_expires_at <= ${query.now})
    ORDER BY priority DESC, run_at, id
    LIMIT ${query.limit}`

/** Gives each job to `owner` under its own new fencing token; the states do not change. */
export const grantLeases = (
  sql: SqlClient.SqlClient,
  grant: {
    readonly tokens: ReadonlyArray<readonly [id: number, token: number]>
    readonly owner: string
    readonly expiresAt: number
    readonly now: number
  }
): Statement.Statement<never> =>
  sql<never>`UPDATE orch_jobs
    SET lease_owner = ${grant.owner}, lease_expires_at = ${grant.expiresAt}, updated_at = ${grant.now},
      lease_token = CASE id ${sql.join(" ", false)(grant.tokens.map(([id, token]) => sql`WHEN ${id} THEN ${token}`))} END
    WHERE id IN ${sql.in(grant.tokens.map(([id]) => id))}`

/** Pushes the lease's expiry out; matches nothing once `token` no longer holds the job. */
export const extendLease = (
  sql: SqlClient.SqlClient,
  lease: { readonly id: number; readonly token: number; readonly expiresAt: number; readonly now: number }
): Statement.Statement<{ id: number }> =>
  sql<{ id: number }>`UPDATE orch_jobs SET lease_expires_at = ${lease.expiresAt}, updated_at = ${lease.now}
    WHERE id = ${lease.id} AND lease_token = ${lease.token}
    RETURNING id`

/**
 * The compare-and-set behind every change a lease holder makes: it matches only while the
 * job is still in `from` under `token`. Null `result`, `error` and `runAt` keep the stored
 * values; the lease is cleared unless `keepLease`.
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
): Statement.Statement<JobRow> => {
  const keep = change.keepLease ? 1 : 0
  return sql<JobRow>`UPDATE orch_jobs
    SET state = ${change.to},
      result = COALESCE(${change.result}, result),
      last_error = COALESCE(${change.error}, last_error),
      run_at = COALESCE(${change.runAt}, run_at),
      lease_owner = CASE WHEN ${keep} = 1 THEN lease_owner END,
      lease_token = CASE WHEN ${keep} = 1 THEN lease_token END,
      lease_expires_at = CASE WHEN ${keep} = 1 THEN lease_expires_at END,
      updated_at = ${change.now}
    WHERE id = ${change.id} AND state = ${change.from} AND lease_token = ${change.token}
    RETURNING *`
}

/** Gives the lease back without a change of state, optionally not to run before `runAt`. */
export const releaseJob = (
  sql: SqlClient.SqlClient,
  release: {
    readonly id: number
    readonly state: string
    readonly token: number
    readonly runAt: number | null
    readonly now: number
  }
): Statement.Statement<{ id: number }> =>
  sql<{ id: number }>`UPDATE orch_jobs
    SET run_at = COALESCE(${release.runAt}, run_at),
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${release.now}
    WHERE id = ${release.id} AND state = ${release.state} AND lease_token = ${release.token}
    RETURNING id`

/**
 * Counts a failed attempt of the holder of `token`: the lease is cleared and the job goes
 * to `to` (its own state, to run again at `runAt`, or its dead state).
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
): Statement.Statement<JobRow> =>
  sql<JobRow>`UPDATE orch_jobs
    SET state = ${failure.to}, attempts = attempts + 1, last_error = ${failure.error}, run_at = ${failure.runAt},
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${failure.now}
    WHERE id = ${failure.id} AND state = ${failure.state} AND lease_token = ${failure.token}
    RETURNING *`

/** Jobs of one kind whose lease ran out by `now`, oldest expiry first. */
export const selectExpiredLeases = (
  sql: SqlClient.SqlClient,
  query: { readonly plugin: string; readonly kind: string; readonly now: number; readonly limit: number }
): Statement.Statement<JobRow> =>
  sql<JobRow>`SELECT * FROM orch_jobs
    WHERE lease_expires_at IS NOT NULL AND lease_expires_at <= ${query.now}
      AND plugin = ${query.plugin} AND kind = ${query.kind}
    ORDER BY lease_expires_at, id
    LIMIT ${query.limit}`

/** Records an expired lease as a failed attempt: the lease is cleared and the job goes to `to`. */
export const expireLease = (
  sql: SqlClient.SqlClient,
  expiry: { readonly id: number; readonly token: number; readonly to: string; readonly error: string; readonly now: number }
): Statement.Statement<JobRow> =>
  sql<JobRow>`UPDATE orch_jobs
    SET state = ${expiry.to}, attempts = attempts + 1, last_error = ${expiry.error},
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${expiry.now}
    WHERE id = ${expiry.id} AND lease_token = ${expiry.token}
    RETURNING *`

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
): Statement.Statement<JobRow> => {
  const reset = change.resetAttempts ? 1 : 0
  return sql<JobRow>`UPDATE orch_jobs
    SET state = ${change.to},
      last_error = COALESCE(${change.error}, last_error),
      attempts = CASE WHEN ${reset} = 1 THEN 0 ELSE attempts END,
      run_at = COALESCE(${change.runAt}, run_at),
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${change.now}
    WHERE id = ${change.id} AND state = ${change.from}
    RETURNING *`
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
): Statement.Statement<never> =>
  sql<never>`INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason, owner, token)
    VALUES (${entry.jobId}, ${entry.at}, ${entry.from}, ${entry.to}, ${entry.reason}, ${entry.owner}, ${entry.token})`

export const selectHistory = (sql: SqlClient.SqlClient, jobId: number): Statement.Statement<HistoryRow> =>
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
): Statement.Statement<JobRow> => {
  const clauses = [
    filter.plugin !== undefined ? sql`plugin = ${filter.plugin}` : undefined,
    filter.kind !== undefined ? sql`kind = ${filter.kind}` : undefined,
    filter.state !== undefined ? sql`state = ${filter.state}` : undefined,
    filter.beforeId !== undefined ? sql`id < ${filter.beforeId}` : undefined
  ].filter((clause) => clause !== undefined)
  return sql<JobRow>`SELECT * FROM orch_jobs WHERE ${sql.and(clauses)} ORDER BY id DESC LIMIT ${filter.limit}`
}

export const countJobsByState = (sql: SqlClient.SqlClient): Statement.Statement<CountRow> =>
  sql<CountRow>`SELECT plugin, kind, state, COUNT(*) AS count FROM orch_jobs
    GROUP BY plugin, kind, state ORDER BY plugin, kind, state`
