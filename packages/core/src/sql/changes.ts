/**
 * Core's change mark: a few numbers that move whenever a job or a resource changes, read
 * by `Events` while someone listens to `GET /events`. Each is a `max` over an integer
 * primary key or a count over a partial index, so the probe costs a few index lookups
 * however many jobs are kept, and it sees the writes of every orch process on the database.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { decoder, type Undecoded } from "../internal/integers.js"

export interface ChangeMark {
  /** The newest job (an enqueue). */
  readonly job: number
  /** The newest job transition (every change of a job's state is one). */
  readonly history: number
  /** The newest resource event (a resource created or its state changed). */
  readonly resource: number
  /** The newest lease's fencing token (a grant). */
  readonly lease: number
  /** Leases open now (a release or a reclaim lowers it). */
  readonly open: number
}

type UndecodedMark = Undecoded<ChangeMark, keyof ChangeMark>

export const decodeMark = decoder<ChangeMark, keyof ChangeMark>(["job", "history", "resource", "lease", "open"])

// COALESCE: an empty table's max is NULL
export const selectChangeMark = (sql: SqlClient.SqlClient): Statement.Statement<UndecodedMark> =>
  sql<UndecodedMark>`SELECT
    COALESCE((SELECT max(id) FROM orch_jobs), 0) AS job,
    COALESCE((SELECT max(id) FROM orch_job_history), 0) AS history,
    COALESCE((SELECT max(id) FROM orch_resource_events), 0) AS resource,
    COALESCE((SELECT max(token) FROM orch_resource_leases), 0) AS lease,
    (SELECT count(*) FROM orch_resource_leases WHERE ended_at IS NULL) AS open`
