/**
 * Storing a finished run: the run, its metrics (created with their unit; a direction set once,
 * when first known), its measurements and its output lines, in one transaction, exactly
 * once per run id (a retried submit stores nothing twice).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import * as Events from "@orch/core/Events"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import type { Measurement } from "./Measurement.js"
import * as Sql from "./sql/index.js"

const idChars = "0123456789abcdefghijklmnopqrstuvwxyz"

/** tablejohn's ids: a prefix and 30 random characters of [0-9a-z] (`r-` for runs, `s-` for secrets). */
export const randomId = (prefix: string, length = 30): string => {
  let out = prefix
  for (let i = 0; i < length; i++) out += idChars[crypto.randomInt(idChars.length)]
  return out
}

export const directionNumber = (direction: Measurement["direction"]): number =>
  direction === "less_is_better" ? -1 : direction === "more_is_better" ? 1 : 0

export interface NewRun {
  readonly run: Sql.RunRow
  readonly measurements: Readonly<Record<string, Measurement>>
  readonly output: ReadonlyArray<readonly [number, string]>
}

/** Stores `run` unless a run of its id is stored already; whether it stored it. */
export const store = (run: NewRun): Effect.Effect<boolean, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Database.transaction(Effect.gen(function*() {
      if (!(yield* Sql.insertRun(sql, run.run))) return false
      const entries = Object.entries(run.measurements)
      yield* Sql.upsertMetrics(sql, entries.map(([name, m]) => ({ name, unit: m.unit ?? null, direction: directionNumber(m.direction) })))
      yield* Sql.insertMeasurements(sql, entries.map(([metric, m]) => ({
        run_id: run.run.id,
        metric,
        value: m.value,
        lower_value: m.lower_value ?? null,
        upper_value: m.upper_value ?? null,
        samples: m.samples === undefined ? null : JSON.stringify(m.samples)
      })))
      yield* Sql.insertOutput(sql, run.output.map(([source, text], line) => ({ run_id: run.run.id, line, source, text })))
      return true
    })).pipe(Effect.tap((stored) => (stored ? Events.changed("bench") : Effect.void))))
