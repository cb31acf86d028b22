/** The watcher's endpoints view: down ones first, and each endpoint's latest latencies as a sparkline (a failed check ×). */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import * as Migrations from "@orch/core/Migrations"
import type { TuiPanel } from "@orch/core/Plugin"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Effect, Layer } from "effect"
import * as Sql from "../src/sql.js"
import { latencyChecks, latencyLine, views } from "../src/TuiViews.js"

const databaseOn = (backend: Backend) => Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", Sql.migrations))).pipe(Layer.provideMerge(backend.database()))

const check = (endpoint: string, at: number, duration: number, success: boolean): Sql.ResultRow => ({
  endpoint,
  scheduled_at: at,
  started_at: at,
  lag_ms: 0,
  duration_ms: duration,
  success: success ? 1 : 0,
  status: success ? 200 : 503,
  reasons: "[]",
  extracted: "{}",
  phases: "{}",
  certificate_expires_at: null
})

describeBackends("watcher TUI view", (backend) => {
  const database = () => databaseOn(backend)
  it("draws latencies oldest first on the endpoint's own scale, a failed check as ×", () => {
    // newest first, as the query gives them
    expect(latencyLine([
      { duration_ms: 700, success: 1 },
      { duration_ms: 5000, success: 0 },
      { duration_ms: 350, success: 1 },
      { duration_ms: 0, success: 1 }
    ])).toBe("▁▅×█")
    expect(latencyLine([{ duration_ms: 40, success: 1 }, { duration_ms: 80, success: 1 }])).toBe("█▅")
    expect(latencyLine([])).toBe("")
  })

  it.effect(`shows each endpoint's newest ${latencyChecks} checks, down endpoints first`, () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      for (let i = 0; i < 40; i++) yield* Sql.insertResult(sql, check("fast", 1000 + i, i < 24 ? 900 : 10 + i, true))
      for (let i = 0; i < 3; i++) yield* Sql.insertResult(sql, check("slow", 1000 + i, 100 * (i + 1), i !== 1))
      yield* Sql.putState(sql, { endpoint: "fast", state: "up", failures: 0, successes: 40, changed_at: 1000, checked_at: 1039 })
      yield* Sql.putState(sql, { endpoint: "slow", state: "down", failures: 0, successes: 1, changed_at: 1001, checked_at: 1002 })
      // this view reads the database alone, whatever else the contract would give it
      const panel = yield* (views()[0]!.read as Effect.Effect<TuiPanel, unknown, SqlClient.SqlClient>)
      expect(panel!.columns.at(-1)).toBe(`LATENCY (LAST ${latencyChecks})`)
      expect(panel!.rows.map((row) => [row[0], row.at(-1)])).toEqual([
        ["slow", "▃×█"],
        // the 24 slow checks of 900 ms are older than the newest 16: only 34…49 ms show, 49 the full block
        ["fast", "▆▆▆▆▆▇▇▇▇▇▇▇████"]
      ])
    }).pipe(Effect.provide(database())))
})
