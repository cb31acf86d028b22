/**
 * All of the job queue's SQL: its tables and one function per query, named for what it
 * does. Each function builds one statement (itself an Effect of its rows) and runs
 * nothing; rows of jobs come back undecoded, for `decodeJobRow`.
 *
 * Every change a writer makes is a compare-and-set in its own statement (a grant
 * re-checks that the job is still free, due and in the state it was read in; a holder's
 * change names its token), so the queue is correct with several writers and does not
 * lean on SQLite's single writer. Under SQLite every write transaction also holds the
 * write lock from its start; under PostgreSQL claimers lock the rows they read, skipping
 * those another claimer holds.
 *
 * Times are epoch ms in BIGINT columns; `payload` and `result` are JSON text. The three
 * lease columns are set and cleared together. The DDL is SQLite's (PostgreSQL would
 * declare `id` as an identity column); the queries are standard SQL that PostgreSQL also runs.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { bigintParam } from "../internal/dialect.js"
import { decoder, type SqlInteger, type Undecoded } from "../internal/integers.js"

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

/**
 * Migration 0005, for the jobs: every time and token column becomes BIGINT (64 bits on
 * PostgreSQL; SQLite stores the same integers either way). SQLite changes a column's type
 * only by rebuilding the table, inside the migration's transaction: the new history
 * references the new jobs table, and renaming that one to `orch_jobs` carries the
 * reference along (ALTER TABLE … RENAME rewrites the foreign keys that name it), so no
 * foreign key is ever left dangling and none has to be switched off. `id INTEGER PRIMARY
 * KEY` stays the rowid, so ids are kept and new ones follow on.
 */
export const bigintTimes = `
CREATE TABLE orch_jobs_new (
  id INTEGER PRIMARY KEY,
  plugin TEXT NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  result TEXT,
  last_error TEXT,
  priority INTEGER NOT NULL,
  run_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  idempotency_key TEXT,
  lease_owner TEXT,
  lease_token BIGINT,
  lease_expires_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

INSERT INTO orch_jobs_new (id, plugin, kind, state, payload, result, last_error, priority, run_at, attempts,
    max_attempts, idempotency_key, lease_owner, lease_token, lease_expires_at, created_at, updated_at)
  SELECT id, plugin, kind, state, payload, result, last_error, priority, run_at, attempts,
    max_attempts, idempotency_key, lease_owner, lease_token, lease_expires_at, created_at, updated_at
  FROM orch_jobs;

CREATE TABLE orch_job_history_new (
  id INTEGER PRIMARY KEY,
  job_id BIGINT NOT NULL REFERENCES orch_jobs_new (id),
  at BIGINT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  owner TEXT,
  token BIGINT
);

INSERT INTO orch_job_history_new (id, job_id, at, from_state, to_state, reason, owner, token)
  SELECT id, job_id, at, from_state, to_state, reason, owner, token FROM orch_job_history;

-- the old history first: it references the old jobs table
DROP TABLE orch_job_history;
DROP TABLE orch_jobs;
ALTER TABLE orch_jobs_new RENAME TO orch_jobs;
ALTER TABLE orch_job_history_new RENAME TO orch_job_history;

CREATE INDEX orch_jobs_claim ON orch_jobs (plugin, kind, state, priority DESC, run_at, id, lease_expires_at);
CREATE UNIQUE INDEX orch_jobs_idempotency ON orch_jobs (plugin, kind, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX orch_jobs_lease ON orch_jobs (plugin, kind, lease_expires_at) WHERE lease_expires_at IS NOT NULL;
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

const jobIntegers = [
  "id",
  "priority",
  "run_at",
  "attempts",
  "max_attempts",
  "lease_token",
  "lease_expires_at",
  "created_at",
  "updated_at"
] as const

/** A job's row as the driver hands it (int8 may be a string). */
export type UndecodedJobRow = Undecoded<JobRow, typeof jobIntegers[number]>
export type UndecodedHistoryRow = Undecoded<HistoryRow, "id" | "job_id" | "at" | "token">
export type UndecodedCountRow = Undecoded<CountRow, "count">

export const decodeJobRow = decoder<JobRow, typeof jobIntegers[number]>(jobIntegers)
export const decodeHistoryRow = decoder<HistoryRow, "id" | "job_id" | "at" | "token">(["id", "job_id", "at", "token"])
export const decodeCountRow = decoder<CountRow, "count">(["count"])

export interface NewJob {
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

/**
 * Inserts jobs in one statement and returns those inserted, in no promised order (match
 * them by id). A job whose idempotency key another writer inserted since the keys were
 * looked up is left out (the caller then reads that job); no other conflict can arise.
 */
export const insertJobs = (sql: SqlClient.SqlClient, jobs: ReadonlyArray<NewJob>): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`INSERT INTO orch_jobs ${
    sql.insert(jobs.map((job) => ({
      plugin: job.plugin,
      kind: job.kind,
      state: job.state,
      payload: job.payload,
      priority: job.priority,
      run_at: job.runAt,
      attempts: 0,
      max_attempts: job.maxAttempts,
      idempotency_key: job.idempotencyKey,
      created_at: job.now,
      updated_at: job.now
    })))
  } ON CONFLICT DO NOTHING RETURNING *`

export const getJobsByIdempotencyKeys = (
  sql: SqlClient.SqlClient,
  plugin: string,
  kind: string,
  idempotencyKeys: ReadonlyArray<string>
): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs
    WHERE plugin = ${plugin} AND kind = ${kind} AND idempotency_key IN ${sql.in(idempotencyKeys)}`

export const getJob = (sql: SqlClient.SqlClient, id: number): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs WHERE id = ${id}`

/** `getJob` before a change made by id (cancel, retry): PostgreSQL locks the row until the change commits. */
export const getJobForChange = (sql: SqlClient.SqlClient, id: number): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs WHERE id = ${id}${
    sql.onDialectOrElse({ pg: () => sql` FOR UPDATE`, orElse: () => sql`` })
  }`

export const getJobs = (sql: SqlClient.SqlClient, ids: ReadonlyArray<number>): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs WHERE id IN ${sql.in(ids)}`

/**
 * The next jobs a claimer may take, in claim order: due, and with no lease or an expired
 * one. `grantLeases` re-checks each before granting it. PostgreSQL locks the rows read,
 * skipping those another claimer is granting, so claimers side by side take different
 * jobs instead of racing for the same; under SQLite the write lock does the same.
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
): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs
    WHERE plugin = ${query.plugin} AND kind = ${query.kind} AND state IN ${sql.in(query.states)}
      AND run_at <= ${query.now}
      AND (lease_expires_at IS NULL OR lease_expires_at <= ${query.now})
    ORDER BY priority DESC, run_at, id
    LIMIT ${query.limit}${sql.onDialectOrElse({ pg: () => sql` FOR UPDATE SKIP LOCKED`, orElse: () => sql`` })}`

/**
 * Gives each job to `owner` under its own new fencing token, the state unchanged, and
 * returns the ids granted. A compare-and-set: a job is granted only while it is still in
 * the state it was read in, due, and without a lease (an expired one was cleared first),
 * so a job another writer took since it was read is left out, and its token never used.
 */
export const grantLeases = (
  sql: SqlClient.SqlClient,
  grant: {
    readonly jobs: ReadonlyArray<{ readonly id: number; readonly state: string; readonly token: number }>
    readonly owner: string
    readonly expiresAt: number
    readonly now: number
  }
): Statement.Statement<{ id: SqlInteger }> => {
  const { jobs } = grant
  const token = bigintParam(sql)
  const state = jobs.every((job) => job.state === jobs[0]!.state)
    ? sql`${jobs[0]!.state}`
    : sql`CASE id ${sql.join(" ", false)(jobs.map((job) => sql`WHEN ${job.id} THEN ${job.state}`))} END`
  return sql<{ id: SqlInteger }>`UPDATE orch_jobs
    SET lease_owner = ${grant.owner}, lease_expires_at = ${grant.expiresAt}, updated_at = ${grant.now},
      lease_token = CASE id ${sql.join(" ", false)(jobs.map((job) => sql`WHEN ${job.id} THEN ${token(job.token)}`))} END
    WHERE id IN ${sql.in(jobs.map((job) => job.id))}
      AND lease_token IS NULL AND run_at <= ${grant.now} AND state = ${state}
    RETURNING id`
}

/** Pushes the lease's expiry out; matches nothing once `token` no longer holds the job. */
export const extendLease = (
  sql: SqlClient.SqlClient,
  lease: { readonly id: number; readonly token: number; readonly expiresAt: number; readonly now: number }
): Statement.Statement<{ id: number }> =>
  sql<{ id: number }>`UPDATE orch_jobs SET lease_expires_at = ${lease.expiresAt}, updated_at = ${lease.now}
    WHERE id = ${lease.id} AND lease_token = ${lease.token}
    RETURNING id`

export interface JobChange {
  readonly id: number
  readonly from: string
  readonly token: number
  /** Null keeps the stored value. */
  readonly result: string | null
  readonly error: string | null
  readonly keepLease: boolean
}

/**
 * The compare-and-set behind every change a lease holder makes, for many jobs at once:
 * a job moves to `to` only while it is still in its `from` under its `token`, and only the
 * jobs that moved come back (in no promised order). Null `runAt` keeps the stored value;
 * the lease is cleared unless `keepLease`. Each OR term is a primary-key lookup (SQLite
 * plans it as a MULTI-INDEX OR). Not a join on a VALUES table: SQLite's UPDATE … FROM
 * first copies the VALUES and the matched rows into temporary b-trees, which made a
 * one-job change cost five times the update itself (150 µs against 30 measured here).
 */
export const transitionJobs = (
  sql: SqlClient.SqlClient,
  batch: {
    readonly changes: ReadonlyArray<JobChange>
    readonly to: string
    readonly runAt: number | null
    readonly now: number
  }
): Statement.Statement<UndecodedJobRow> => {
  const { changes } = batch
  // a column set per job where given: COALESCE(CASE id WHEN … THEN … END, column)
  const perJob = (column: string, values: ReadonlyArray<readonly [number, string]>) =>
    values.length === 0
      ? sql.literal(column)
      : sql`COALESCE(CASE id ${sql.join(" ", false)(values.map(([id, value]) => sql`WHEN ${id} THEN ${value}`))} END, ${
        sql.literal(column)
      })`
  const results = changes.flatMap((change) => (change.result === null ? [] : [[change.id, change.result] as const]))
  const errors = changes.flatMap((change) => (change.error === null ? [] : [[change.id, change.error] as const]))
  const kept = changes.filter((change) => change.keepLease).map((change) => change.id)
  const keep = kept.length === 0
    ? sql`0`
    : kept.length === changes.length
    ? sql`1`
    : sql`CASE id ${sql.join(" ", false)(kept.map((id) => sql`WHEN ${id} THEN 1`))} ELSE 0 END`
  const held = sql.join(" OR ", false)(
    changes.map((change) => sql`(id = ${change.id} AND state = ${change.from} AND lease_token = ${change.token})`)
  )
  return sql<UndecodedJobRow>`UPDATE orch_jobs
    SET state = ${batch.to},
      result = ${perJob("result", results)},
      last_error = ${perJob("last_error", errors)},
      run_at = COALESCE(${batch.runAt}, run_at),
      lease_owner = CASE WHEN ${keep} = 1 THEN lease_owner END,
      lease_token = CASE WHEN ${keep} = 1 THEN lease_token END,
      lease_expires_at = CASE WHEN ${keep} = 1 THEN lease_expires_at END,
      updated_at = ${batch.now}
    WHERE ${held}
    RETURNING *`
}

/**
 * Gives the lease back without a change of state, optionally not to run before `runAt`;
 * `error`, when given, becomes the job's last error (a job waiting on an error shows it).
 */
export const releaseJob = (
  sql: SqlClient.SqlClient,
  release: {
    readonly id: number
    readonly state: string
    readonly token: number
    readonly runAt: number | null
    readonly error: string | null
    readonly now: number
  }
): Statement.Statement<{ id: number }> =>
  sql<{ id: number }>`UPDATE orch_jobs
    SET run_at = COALESCE(${release.runAt}, run_at),
      last_error = COALESCE(${release.error}, last_error),
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
): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`UPDATE orch_jobs
    SET state = ${failure.to}, attempts = attempts + 1, last_error = ${failure.error}, run_at = ${failure.runAt},
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${failure.now}
    WHERE id = ${failure.id} AND state = ${failure.state} AND lease_token = ${failure.token}
    RETURNING *`

/** Jobs of one kind whose lease ran out by `now`, oldest expiry first. */
export const selectExpiredLeases = (
  sql: SqlClient.SqlClient,
  query: { readonly plugin: string; readonly kind: string; readonly now: number; readonly limit: number }
): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`SELECT * FROM orch_jobs
    WHERE lease_expires_at IS NOT NULL AND lease_expires_at <= ${query.now}
      AND plugin = ${query.plugin} AND kind = ${query.kind}
    ORDER BY lease_expires_at, id
    LIMIT ${query.limit}`

/**
 * Records an expired lease as a failed attempt: the lease is cleared and the job goes to
 * `to`. Compare-and-set on the token and the expiry, so a heartbeat that committed
 * since the lease was read keeps it.
 */
export const expireLease = (
  sql: SqlClient.SqlClient,
  expiry: { readonly id: number; readonly token: number; readonly to: string; readonly error: string; readonly now: number }
): Statement.Statement<UndecodedJobRow> =>
  sql<UndecodedJobRow>`UPDATE orch_jobs
    SET state = ${expiry.to}, attempts = attempts + 1, last_error = ${expiry.error},
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${expiry.now}
    WHERE id = ${expiry.id} AND lease_token = ${expiry.token} AND lease_expires_at <= ${expiry.now}
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
): Statement.Statement<UndecodedJobRow> => {
  const reset = change.resetAttempts ? 1 : 0
  return sql<UndecodedJobRow>`UPDATE orch_jobs
    SET state = ${change.to},
      last_error = COALESCE(${change.error}, last_error),
      attempts = CASE WHEN ${reset} = 1 THEN 0 ELSE attempts END,
      run_at = COALESCE(${change.runAt}, run_at),
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, updated_at = ${change.now}
    WHERE id = ${change.id} AND state = ${change.from}
    RETURNING *`
}

export interface NewHistoryEntry {
  readonly jobId: number
  readonly at: number
  readonly from: string | null
  readonly to: string
  readonly reason: string
  readonly owner: string | null
  readonly token: number | null
}

export const insertHistory = (
  sql: SqlClient.SqlClient,
  entries: ReadonlyArray<NewHistoryEntry>
): Statement.Statement<never> =>
  sql<never>`INSERT INTO orch_job_history ${
    sql.insert(entries.map((entry) => ({
      job_id: entry.jobId,
      at: entry.at,
      from_state: entry.from,
      to_state: entry.to,
      reason: entry.reason,
      owner: entry.owner,
      token: entry.token
    })))
  }`

export const selectHistory = (sql: SqlClient.SqlClient, jobId: number): Statement.Statement<UndecodedHistoryRow> =>
  sql<UndecodedHistoryRow>`SELECT * FROM orch_job_history WHERE job_id = ${jobId} ORDER BY id`

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
): Statement.Statement<UndecodedJobRow> => {
  const clauses = [
    filter.plugin !== undefined ? sql`plugin = ${filter.plugin}` : undefined,
    filter.kind !== undefined ? sql`kind = ${filter.kind}` : undefined,
    filter.state !== undefined ? sql`state = ${filter.state}` : undefined,
    filter.beforeId !== undefined ? sql`id < ${filter.beforeId}` : undefined
  ].filter((clause) => clause !== undefined)
  return sql<UndecodedJobRow>`SELECT * FROM orch_jobs WHERE ${sql.and(clauses)} ORDER BY id DESC LIMIT ${filter.limit}`
}

export const countJobsByState = (sql: SqlClient.SqlClient): Statement.Statement<UndecodedCountRow> =>
  sql<UndecodedCountRow>`SELECT plugin, kind, state, COUNT(*) AS count FROM orch_jobs
    GROUP BY plugin, kind, state ORDER BY plugin, kind, state`
