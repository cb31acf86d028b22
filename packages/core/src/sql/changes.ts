/**
 * Core's change mark: a few numbers that move whenever a job or a resource changes, read
 * by `Events` while someone listens to `GET /events`. Each is a `max` over an integer
 * primary key or a count over a partial index, so the probe costs a few index lookups
 * however many jobs are kept, and it sees the writes of every orch process on the database.
 * A plugin's changes to its own tables move a counter of its own in `orch_change_marks`
 * (one row per plugin), which the probe sums.
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
  /** The plugins' own changes (`bumpPluginMark`), summed. */
  readonly plugins: number
}

type UndecodedMark = Undecoded<ChangeMark, keyof ChangeMark>

export const decodeMark = decoder<ChangeMark, keyof ChangeMark>(["job", "history", "resource", "lease", "open", "plugins"])

/** Migration 0008: a counter per plugin, for changes to its own tables that core's marks cannot see. */
export const schema = `
CREATE TABLE orch_change_marks (
  plugin TEXT PRIMARY KEY,
  n BIGINT NOT NULL
);
`

/** One more change of `plugin`'s: an upsert, which SQLite and PostgreSQL write alike. */
export const bumpPluginMark = (sql: SqlClient.SqlClient, plugin: string): Statement.Statement<never> =>
  sql<never>`INSERT INTO orch_change_marks (plugin, n) VALUES (${plugin}, 1)
    ON CONFLICT (plugin) DO UPDATE SET n = orch_change_marks.n + 1`

// COALESCE: an empty table's max is NULL
export const selectChangeMark = (sql: SqlClient.SqlClient): Statement.Statement<UndecodedMark> =>
  sql<UndecodedMark>`SELECT
    COALESCE((SELECT max(id) FROM orch_jobs), 0) AS job,
    COALESCE((SELECT max(id) FROM orch_job_history), 0) AS history,
    COALESCE((SELECT max(id) FROM orch_resource_events), 0) AS resource,
    COALESCE((SELECT max(token) FROM orch_resource_leases), 0) AS lease,
    (SELECT count(*) FROM orch_resource_leases WHERE ended_at IS NULL) AS open,
    COALESCE((SELECT sum(n) FROM orch_change_marks), 0) AS plugins`
