/**
 * Schedules' SQL: the DDL and one query per operation. A schedule's next run lives in
 * its row; firing a run is a compare-and-set that moves `next_run_at` on from the value
 * the claimer read, so of two processes only one fires it.
 *
 * Times are epoch ms in BIGINT columns (INTEGER affinity in SQLite, 64 bits in PostgreSQL,
 * whose int8 arrives as a string: rows are decoded).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { decoder } from "../internal/integers.js"

export const schema = `
CREATE TABLE orch_schedules (
  plugin TEXT NOT NULL,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,             -- the ScheduleSpec as JSON, its time zone filled in
  missed TEXT NOT NULL,           -- skip, once or all
  max_catch_up INTEGER NOT NULL,
  grace_ms BIGINT NOT NULL,
  next_run_at BIGINT NOT NULL,
  last_run_at BIGINT,             -- the scheduled time of the last run fired
  last_fired_at BIGINT,           -- when that run was fired
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (plugin, name)
);
`

export interface ScheduleKey {
  readonly plugin: string
  readonly name: string
}

export interface ScheduleRow {
  readonly plugin: string
  readonly name: string
  readonly spec: string
  readonly missed: string
  readonly max_catch_up: number
  readonly grace_ms: number
  readonly next_run_at: number
  readonly last_run_at: number | null
  readonly last_fired_at: number | null
  readonly created_at: number
  readonly updated_at: number
}

const decodeSchedule = decoder<ScheduleRow, "max_catch_up" | "grace_ms" | "next_run_at" | "last_run_at" | "last_fired_at" | "created_at" | "updated_at">(
  ["max_catch_up", "grace_ms", "next_run_at", "last_run_at", "last_fired_at", "created_at", "updated_at"]
)

const columns = `plugin, name, spec, missed, max_catch_up, grace_ms, next_run_at, last_run_at, last_fired_at,
  created_at, updated_at`

export const getSchedule = (sql: SqlClient.SqlClient, key: ScheduleKey): Effect.Effect<ScheduleRow | undefined, SqlError> =>
  Effect.map(
    sql`SELECT ${sql.literal(columns)} FROM orch_schedules
      WHERE plugin = ${key.plugin} AND name = ${key.name}`,
    (rows) => (rows.length === 0 ? undefined : decodeSchedule(rows[0]!))
  )

export const listSchedules = (sql: SqlClient.SqlClient, plugin: string | undefined): Effect.Effect<ReadonlyArray<ScheduleRow>, SqlError> =>
  Effect.map(
    sql`SELECT ${sql.literal(columns)} FROM orch_schedules
      WHERE ${plugin === undefined ? sql`1=1` : sql`plugin = ${plugin}`}
      ORDER BY plugin, name`,
    (rows) => rows.map(decodeSchedule)
  )

export interface SchedulePolicyColumns {
  readonly spec: string
  readonly missed: string
  readonly max_catch_up: number
  readonly grace_ms: number
}

export const insertSchedule = (
  sql: SqlClient.SqlClient,
  schedule: ScheduleKey & SchedulePolicyColumns & { readonly next_run_at: number; readonly now: number }
): Effect.Effect<unknown, SqlError> =>
  // another writer (a second request, another node on PostgreSQL) may insert it first: its row stands
  sql`INSERT INTO orch_schedules (plugin, name, spec, missed, max_catch_up, grace_ms, next_run_at, created_at, updated_at)
    VALUES (${schedule.plugin}, ${schedule.name}, ${schedule.spec}, ${schedule.missed}, ${schedule.max_catch_up},
      ${schedule.grace_ms}, ${schedule.next_run_at}, ${schedule.now}, ${schedule.now})
    ON CONFLICT (plugin, name) DO NOTHING`

/** A changed spec: a new next run, computed from now. */
export const replaceSpec = (
  sql: SqlClient.SqlClient,
  schedule: ScheduleKey & SchedulePolicyColumns & { readonly next_run_at: number; readonly now: number }
): Effect.Effect<unknown, SqlError> =>
  sql`UPDATE orch_schedules
    SET spec = ${schedule.spec}, missed = ${schedule.missed}, max_catch_up = ${schedule.max_catch_up},
      grace_ms = ${schedule.grace_ms}, next_run_at = ${schedule.next_run_at}, updated_at = ${schedule.now}
    WHERE plugin = ${schedule.plugin} AND name = ${schedule.name}`

/** The same cadence under another missed-run policy (or first delay): the stored next run stays. */
export const updatePolicy = (
  sql: SqlClient.SqlClient,
  schedule: ScheduleKey & SchedulePolicyColumns & { readonly now: number }
): Effect.Effect<unknown, SqlError> =>
  sql`UPDATE orch_schedules
    SET spec = ${schedule.spec}, missed = ${schedule.missed}, max_catch_up = ${schedule.max_catch_up},
      grace_ms = ${schedule.grace_ms}, updated_at = ${schedule.now}
    WHERE plugin = ${schedule.plugin} AND name = ${schedule.name}`

/**
 * Compare-and-set on `next_run_at`: moves the schedule on only if nobody moved it since
 * `expected` was read; false means another claimer fired (or skipped) those runs.
 */
export const advanceSchedule = (
  sql: SqlClient.SqlClient,
  key: ScheduleKey,
  advance: {
    readonly expected: number
    readonly next: number
    readonly lastRunAt: number | undefined
    readonly now: number
  }
): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    advance.lastRunAt === undefined
      ? sql`UPDATE orch_schedules SET next_run_at = ${advance.next}, updated_at = ${advance.now}
          WHERE plugin = ${key.plugin} AND name = ${key.name} AND next_run_at = ${advance.expected}
          RETURNING name`
      : sql`UPDATE orch_schedules
          SET next_run_at = ${advance.next}, last_run_at = ${advance.lastRunAt}, last_fired_at = ${advance.now},
            updated_at = ${advance.now}
          WHERE plugin = ${key.plugin} AND name = ${key.name} AND next_run_at = ${advance.expected}
          RETURNING name`,
    (rows) => rows.length > 0
  )

export const deleteSchedule = (sql: SqlClient.SqlClient, key: ScheduleKey): Effect.Effect<boolean, SqlError> =>
  Effect.map(
    sql`DELETE FROM orch_schedules WHERE plugin = ${key.plugin} AND name = ${key.name} RETURNING name`,
    (rows) => rows.length > 0
  )
