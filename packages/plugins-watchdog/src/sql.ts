/**
 * All of the watchdog's SQL: its migrations and one function per query. Times are
 * epoch ms in BIGINT columns (since 0002); integer columns are decoded, as PostgreSQL
 * may hand int8 and counts as strings. Reading the job queue's table by payload fields is
 * the one query that differs between the engines (SQLite's `json_extract`, PostgreSQL's
 * `->>` on jsonb): `payloadField` below.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type { Migrations } from "@orch/core/Migrations"
import { Effect } from "effect"

/** An integer column as a number, whether the driver gave a number, a bigint or a string (int8). */
const integer = (value: unknown, column: string): number => {
  const number = typeof value === "number" ? value : Number(value)
  if (!Number.isSafeInteger(number)) throw new RangeError(`column ${column}: ${String(value)} is not a safe integer`)
  return number
}

const decodeSubmission = (row: Record<string, unknown>): SubmissionRow => ({
  ...(row as unknown as SubmissionRow),
  job_id: integer(row.job_id, "job_id"),
  try: integer(row.try, "try"),
  started_at: integer(row.started_at, "started_at"),
  resolved_at: row.resolved_at === null ? null : integer(row.resolved_at, "resolved_at")
})

const submissions = `
-- One row per attempt to hand a job to WPT, written before runtest.php is called, so a
-- crash between WPT accepting a test and the job becoming SUBMITTED leaves a trace:
-- an open row (outcome NULL) whose label is looked up at WPT before anything is resubmitted.
CREATE TABLE watchdog_submissions (
  job_id INTEGER NOT NULL,
  try INTEGER NOT NULL,
  label TEXT NOT NULL UNIQUE,
  location TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  outcome TEXT,
  test_id TEXT,
  detail TEXT,
  resolved_at INTEGER,
  PRIMARY KEY (job_id, try)
);

CREATE INDEX watchdog_submissions_open ON watchdog_submissions (job_id) WHERE outcome IS NULL;
`

const submissionsPg = `
-- PostgreSQL's 0001: the table as SQLite's stands after 0002 (BIGINT ids and times), so its 0002 is empty.
CREATE TABLE watchdog_submissions (
  job_id BIGINT NOT NULL,
  try INTEGER NOT NULL,
  label TEXT NOT NULL UNIQUE,
  location TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  outcome TEXT,
  test_id TEXT,
  detail TEXT,
  resolved_at BIGINT,
  PRIMARY KEY (job_id, try)
);

CREATE INDEX watchdog_submissions_open ON watchdog_submissions (job_id) WHERE outcome IS NULL;
`

const bigintTimes = `
CREATE TABLE watchdog_submissions_new (
  job_id BIGINT NOT NULL,
  try INTEGER NOT NULL,
  label TEXT NOT NULL UNIQUE,
  location TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  outcome TEXT,
  test_id TEXT,
  detail TEXT,
  resolved_at BIGINT,
  PRIMARY KEY (job_id, try)
);
INSERT INTO watchdog_submissions_new (job_id, try, label, location, started_at, outcome, test_id, detail, resolved_at)
  SELECT job_id, try, label, location, started_at, outcome, test_id, detail, resolved_at FROM watchdog_submissions;
DROP TABLE watchdog_submissions;
ALTER TABLE watchdog_submissions_new RENAME TO watchdog_submissions;
CREATE INDEX watchdog_submissions_open ON watchdog_submissions (job_id) WHERE outcome IS NULL;
`

export const migrations: Migrations = {
  "0001_submissions": { sqlite: submissions, pg: submissionsPg },
  // BIGINT job ids and times (64 bits on PostgreSQL); SQLite changes a type only by rebuilding the table
  "0002_bigint_times": { sqlite: bigintTimes, pg: [] }
}

export interface SubmissionRow {
  readonly job_id: number
  readonly try: number
  readonly label: string
  readonly location: string
  readonly started_at: number
  readonly outcome: string | null
  readonly test_id: string | null
  readonly detail: string | null
  readonly resolved_at: number | null
}

/** Outcomes: accepted (WPT has the test), rejected (WPT said no), absent (WPT never got it), unknown (WPT's log cannot say). */
export type Outcome = "accepted" | "rejected" | "absent" | "unknown"

export const openSubmissions = (sql: SqlClient.SqlClient, jobIds: ReadonlyArray<number>) =>
  Effect.map(
    sql`SELECT * FROM watchdog_submissions WHERE outcome IS NULL AND job_id IN ${sql.in(jobIds)}`,
    (rows) => rows.map(decodeSubmission)
  )

export const nextTry = (sql: SqlClient.SqlClient, jobId: number) =>
  Effect.map(
    sql`SELECT COALESCE(MAX(try), 0) + 1 AS next FROM watchdog_submissions WHERE job_id = ${jobId}`,
    (rows) => rows.map((row) => ({ next: integer(row.next, "next") }))
  )

export const insertSubmission = (
  sql: SqlClient.SqlClient,
  row: { readonly jobId: number; readonly try: number; readonly label: string; readonly location: string; readonly now: number }
) =>
  sql`INSERT INTO watchdog_submissions (job_id, try, label, location, started_at)
    VALUES (${row.jobId}, ${row.try}, ${row.label}, ${row.location}, ${row.now})`

export const resolveSubmission = (
  sql: SqlClient.SqlClient,
  row: {
    readonly label: string
    readonly outcome: Outcome
    readonly testId: string | null
    readonly detail: string | null
    readonly now: number
  }
) =>
  sql`UPDATE watchdog_submissions
    SET outcome = ${row.outcome}, test_id = ${row.testId}, detail = ${row.detail}, resolved_at = ${row.now}
    WHERE label = ${row.label} AND outcome IS NULL`

/** Submissions that met a network failure in a row, to space out the next try. */
export const unknownOutcomes = (sql: SqlClient.SqlClient, jobId: number) =>
  Effect.map(
    sql`SELECT count(*) AS n FROM watchdog_submissions WHERE job_id = ${jobId} AND outcome = 'absent'`,
    (rows) => rows.map((row) => ({ n: integer(row.n, "n") }))
  )

export const submissionsOf = (sql: SqlClient.SqlClient, jobId: number) =>
  Effect.map(
    sql`SELECT * FROM watchdog_submissions WHERE job_id = ${jobId} ORDER BY try`,
    (rows) => rows.map(decodeSubmission)
  )

/**
 * A text field of a job's payload (JSON text in `orch_jobs.payload`), by a fixed name:
 * SQLite's `json_extract`, PostgreSQL's `->>` on the text cast to jsonb. Chosen once per
 * statement, used per field.
 */
const payloadField = (sql: SqlClient.SqlClient): (name: "zone" | "browser" | "agent") => Statement.Fragment =>
  sql.onDialectOrElse({
    pg: () => (name) => sql.literal(`(payload::jsonb ->> '${name}')`),
    orElse: () => (name) => sql.literal(`json_extract(payload, '$.${name}')`)
  })

/** An integer field of a job's payload (NULL when absent): PostgreSQL's `->>` gives text, cast to BIGINT. */
const payloadInteger = (sql: SqlClient.SqlClient, name: "notBefore"): Statement.Fragment =>
  sql.onDialectOrElse({
    pg: () => sql.literal(`(payload::jsonb ->> '${name}')::bigint`),
    orElse: () => sql.literal(`json_extract(payload, '$.${name}')`)
  })

export interface LocationWorkRow {
  readonly zone: string
  readonly browser: string
  readonly agent: string
  readonly state: string
  readonly n: number
}

/**
 * Jobs still to run, by location: AWAITING ones due by `now` (a job whose not-before
 * lies ahead does not start an instance yet) and every SUBMITTED one.
 */
export const workByLocation = (sql: SqlClient.SqlClient, now: number) => {
  const field = payloadField(sql)
  return Effect.map(sql`SELECT ${field("zone")} AS zone, ${field("browser")} AS browser, ${field("agent")} AS agent, state, count(*) AS n
    FROM orch_jobs
    WHERE plugin = 'watchdog' AND kind = 'wpt-test'
      AND (state = 'SUBMITTED' OR (state = 'AWAITING' AND COALESCE(${payloadInteger(sql, "notBefore")}, 0) <= ${now}))
    GROUP BY 1, 2, 3, 4`, (rows) => rows.map(decodeLocation))
}

export interface LocationStateRow extends LocationWorkRow {}

const decodeLocation = (row: Record<string, unknown>): LocationWorkRow => ({
  ...(row as unknown as LocationWorkRow),
  n: integer(row.n, "n")
})

/** Every job by location and state, for `check-idle` and the TUI. */
export const jobsByLocation = (sql: SqlClient.SqlClient) => {
  const field = payloadField(sql)
  return Effect.map(
    sql`SELECT ${field("zone")} AS zone, ${field("browser")} AS browser, ${field("agent")} AS agent, state, count(*) AS n
      FROM orch_jobs WHERE plugin = 'watchdog' AND kind = 'wpt-test'
      GROUP BY 1, 2, 3, 4`,
    (rows): ReadonlyArray<LocationStateRow> => rows.map(decodeLocation)
  )
}

/** Every zone a job of the watchdog ever named. */
export const jobZones = (sql: SqlClient.SqlClient) =>
  sql<{ zone: string }>`SELECT DISTINCT ${payloadField(sql)("zone")} AS zone
    FROM orch_jobs WHERE plugin = 'watchdog' AND kind = 'wpt-test'`
