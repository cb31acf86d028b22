import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Migrations from "@orch/core/Migrations"
import { Effect } from "effect"
import { testDatabase } from "@orch/testing"
import * as Sql from "../src/sql.js"

describe("watchdog migrations", () => {
  it.effect("0002_bigint_times keeps every submission and the open-submission index", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Migrations.apply("watchdog", { "0001_submissions": Sql.migrations["0001_submissions"]! })
      const startedAt = 1_764_547_200_000 // past 2^31: the values 0002 exists for
      yield* Sql.insertSubmission(sql, { jobId: 7, try: 1, label: "a", location: "z:b", now: startedAt })
      yield* Sql.resolveSubmission(sql, { label: "a", outcome: "absent", testId: null, detail: "timeout", now: startedAt + 5 })
      yield* Sql.insertSubmission(sql, { jobId: 7, try: 2, label: "b", location: "z:b", now: startedAt + 10 })
      const before = yield* Sql.submissionsOf(sql, 7)
      const indexes = `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'watchdog_submissions' ORDER BY name`
      const indexesBefore = yield* sql.unsafe(indexes)

      expect((yield* Migrations.apply("watchdog", Sql.migrations)).map((migration) => migration.name)).toEqual(["bigint_times"])
      expect(yield* Sql.submissionsOf(sql, 7)).toEqual(before)
      expect(before.map((row) => [row.try, row.started_at, row.resolved_at])).toEqual([[1, startedAt, startedAt + 5], [2, startedAt + 10, null]])
      expect(yield* sql.unsafe(indexes)).toEqual(indexesBefore)
      const types = yield* sql.unsafe<{ name: string; type: string }>("PRAGMA table_info(watchdog_submissions)")
      expect(types.filter((column) => column.type === "BIGINT").map((column) => column.name)).toEqual(["job_id", "started_at", "resolved_at"])
      expect((yield* Sql.openSubmissions(sql, [7])).map((row) => row.label)).toEqual(["b"])
      expect(yield* Sql.nextTry(sql, 7)).toEqual([{ next: 3 }])
      expect(yield* Sql.unknownOutcomes(sql, 7)).toEqual([{ n: 1 }])
    }).pipe(Effect.provide(testDatabase())))
})
