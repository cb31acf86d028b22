/** The watcher's SQL that the status page leans on, over a real SQLite file. */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Migrations from "@orch/core/Migrations"
import { testDatabase } from "@orch/testing"
import { Effect, Layer } from "effect"
import * as Sql from "../src/sql.js"

const database = Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", Sql.migrations))), testDatabase())

const result = (endpoint: string, at: number, success: boolean): Sql.ResultRow => ({
  endpoint,
  scheduled_at: at,
  started_at: at,
  lag_ms: 0,
  duration_ms: at % 1000,
  success: success ? 1 : 0,
  status: success ? 200 : 503,
  reasons: success ? "[]" : JSON.stringify([`failed at ${at}`]),
  extracted: "{}",
  phases: "{}",
  certificate_expires_at: null
})

describe("watcher SQL", () => {
  it.effect("responseHistory: each checked endpoint's newest N, newest first, however many results are kept; newestFailures: the newest failures", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      // three endpoints' results interleaved, 30 each; b has fewer than N
      for (let i = 0; i < 30; i++) {
        for (const endpoint of ["a", "b", "c"]) {
          if (endpoint === "b" && i >= 3) continue
          yield* Sql.insertResult(sql, result(endpoint, 1000 * i + endpoint.charCodeAt(0), i % 7 !== 0))
        }
      }
      // only endpoints with a state are shown (every checked one has one); c has none
      for (const endpoint of ["a", "b"]) {
        yield* sql`INSERT INTO watcher_states (endpoint, state, failures, successes, changed_at, checked_at) VALUES (${endpoint}, 'up', 0, 1, NULL, 0)`
      }
      const history = yield* Sql.responseHistory(sql, 5)
      expect(history.map((row) => [row.endpoint, Number(row.started_at)])).toEqual([
        ...[29, 28, 27, 26, 25].map((i) => ["a", 1000 * i + 97]),
        ...[2, 1, 0].map((i) => ["b", 1000 * i + 98])
      ])
      const failures = yield* Sql.newestFailures(sql, 2)
      expect(failures.map((row) => [row.endpoint, Number(row.started_at)])).toEqual([["c", 28099], ["a", 28097]])
    }).pipe(Effect.provide(database)))
})
