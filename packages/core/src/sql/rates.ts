/**
 * The SQL of the overview's rates: how many jobs of each kind entered a final state in
 * each minute of a window, read from `orch_job_history` by its time index only.
 *
 * The overview is read again on every change the daemon reports (`/events`), so the
 * query must not grow with the history: `orch_job_history_by_time` holds (at, to_state,
 * job_id), so a window is one range of that index (only its own entries, whatever the
 * history's length), and each entry that counts costs one primary-key lookup of its job
 * for the plugin and kind. `JobRates` asks for a whole window once a minute and for the
 * current minute otherwise. Standard SQL that PostgreSQL runs too (the minute is cast: better-sqlite3
 * binds a number as a REAL, so the division would not be an integer one).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { bigintParam } from "../internal/dialect.js"
import { decoder, type Undecoded } from "../internal/integers.js"

/** Migration 0007. */
export const indexes = `
-- the history by time, covering the state entered and the job: the rates' window is one range
CREATE INDEX orch_job_history_by_time ON orch_job_history (at, to_state, job_id);
`

export interface FinishedRow {
  readonly plugin: string
  readonly kind: string
  readonly state: string
  /** Whole minutes since the window's start. */
  readonly minute: number
  readonly count: number
}

export const decodeFinishedRow = decoder<FinishedRow, "minute" | "count">(["minute", "count"])

/** Entries into one of `states` at `from` ≤ at < `until`, by plugin, kind, state and minute since `from`. */
export const finishedPerMinute = (
  sql: SqlClient.SqlClient,
  window: { readonly from: number; readonly until: number; readonly states: ReadonlyArray<string> }
): Statement.Statement<Undecoded<FinishedRow, "minute" | "count">> => {
  const big = bigintParam(sql)
  return sql<Undecoded<FinishedRow, "minute" | "count">>`SELECT j.plugin, j.kind, h.to_state AS state,
      CAST((h.at - ${big(window.from)}) / 60000 AS BIGINT) AS minute, COUNT(*) AS count
    FROM orch_job_history h JOIN orch_jobs j ON j.id = h.job_id
    WHERE h.at >= ${big(window.from)} AND h.at < ${big(window.until)} AND h.to_state IN ${sql.in(window.states)}
    GROUP BY 1, 2, 3, 4`
}
