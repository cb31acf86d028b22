/**
 * The overview's rates: per plugin and kind, how many jobs finished (entered a final
 * state of their kind) in each minute of the last `windowMinutes`, and the rate over the
 * last few. Read from `orch_job_history` by its time index (`sql/rates.ts`).
 *
 * The overview is read on every change (`/events`, up to ten times a second), so the
 * finished minutes of the window, which no longer change, are read once per minute and
 * kept; each read asks the database only for the current minute.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { JobQueue } from "./JobQueue.js"
import { rows } from "./internal/statements.js"
import { decodeFinishedRow, type FinishedRow, finishedPerMinute } from "./sql/rates.js"

/** Minutes a series covers, the current one last. */
export const windowMinutes = 30
/** Minutes (with the current one's part) the rate is averaged over. */
export const rateMinutes = 5

const minuteMs = 60_000

export interface KindRate {
  readonly plugin: string
  readonly kind: string
  /** Jobs finished per minute over about the last `rateMinutes`. */
  readonly perMinute: number
  /** Jobs finished in each of the last `windowMinutes` minutes, oldest first; the last is the current minute so far. */
  readonly minutes: ReadonlyArray<number>
}

const keyOf = (plugin: string, kind: string) => `${plugin}\u0000${kind}`

/** Rates from rows of the past minutes (minute 0 = the window's first) and of the current minute (its minute 0). */
export const ratesOf = (
  past: ReadonlyArray<FinishedRow>,
  current: ReadonlyArray<FinishedRow>,
  finals: ReadonlyMap<string, ReadonlyArray<string>>,
  currentFraction: number
): ReadonlyArray<KindRate> => {
  const series = new Map<string, { plugin: string; kind: string; minutes: Array<number> }>()
  const add = (row: FinishedRow, minute: number) => {
    const key = keyOf(row.plugin, row.kind)
    if (!(finals.get(key)?.includes(row.state) ?? false) || minute < 0 || minute >= windowMinutes) return
    let entry = series.get(key)
    if (entry === undefined) {
      entry = { plugin: row.plugin, kind: row.kind, minutes: new Array<number>(windowMinutes).fill(0) }
      series.set(key, entry)
    }
    entry.minutes[minute]! += row.count
  }
  for (const row of past) add(row, row.minute)
  for (const row of current) add(row, windowMinutes - 1 + row.minute)
  return [...series.values()]
    .sort((a, b) => a.plugin.localeCompare(b.plugin) || a.kind.localeCompare(b.kind))
    .map(({ plugin, kind, minutes }) => {
      const recent = minutes.slice(-(rateMinutes + 1)).reduce((sum, n) => sum + n, 0)
      return { plugin, kind, minutes, perMinute: recent / (rateMinutes + currentFraction) }
    })
}

/** A reader of the rates that keeps the past minutes between reads: one per daemon (the overview's handler). */
export const make = Effect.sync(() => {
  let kept: { readonly minute: number; readonly rows: ReadonlyArray<FinishedRow> } | undefined
  return (now: number): Effect.Effect<ReadonlyArray<KindRate>, SqlError, SqlClient.SqlClient | JobQueue> =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const queue = yield* JobQueue
      const finals = new Map(queue.kinds.map((kind) => [keyOf(kind.plugin, kind.name), kind.final as ReadonlyArray<string>]))
      const states = [...new Set([...finals.values()].flat())]
      if (states.length === 0) return []
      const minute = Math.floor(now / minuteMs) * minuteMs
      const read = (from: number, until: number) =>
        Effect.map(rows(finishedPerMinute(sql, { from, until, states })), (found) => found.map(decodeFinishedRow))
      if (kept?.minute !== minute) {
        kept = { minute, rows: yield* read(minute - (windowMinutes - 1) * minuteMs, minute) }
      }
      const current = yield* read(minute, minute + minuteMs)
      return ratesOf(kept.rows, current, finals, (now - minute) / minuteMs)
    })
})
