import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { Effect } from "effect"
import { testDatabase } from "@orch/testing"
import { sqliteOnly } from "@orch/testing"
import { describeBackends } from "@orch/testing/Backends"
import * as Sql from "../src/sql.js"
import { WptTest } from "../src/WptJob.js"
import { watchdogDatabaseOn } from "./support.js"

describe.skipIf(sqliteOnly)("watchdog migrations (SQLite only: 0002 rebuilds a SQLite table; PostgreSQL starts with BIGINT)", () => {
  // SQLite's own: PostgreSQL's 0001 creates the table as it stands after 0002
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

describeBackends("watchdog queries", (backend) => {
  it.effect("submissions: open, resolved, the next try and the absent ones, with times past 2^31", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const startedAt = 1_764_547_200_000
      yield* Sql.insertSubmission(sql, { jobId: 7, try: 1, label: "a", location: "z:b", now: startedAt })
      yield* Sql.resolveSubmission(sql, { label: "a", outcome: "absent", testId: null, detail: "timeout", now: startedAt + 5 })
      yield* Sql.insertSubmission(sql, { jobId: 7, try: 2, label: "b", location: "z:b", now: startedAt + 10 })
      yield* Sql.insertSubmission(sql, { jobId: 8, try: 1, label: "c", location: "z:b", now: startedAt + 20 })
      expect((yield* Sql.submissionsOf(sql, 7)).map((row) => [row.job_id, row.try, row.label, row.outcome, row.started_at, row.resolved_at])).toEqual([
        [7, 1, "a", "absent", startedAt, startedAt + 5],
        [7, 2, "b", null, startedAt + 10, null]
      ])
      expect((yield* Sql.openSubmissions(sql, [7, 8])).map((row) => row.label).sort()).toEqual(["b", "c"])
      expect(yield* Sql.nextTry(sql, 7)).toEqual([{ next: 3 }])
      expect(yield* Sql.nextTry(sql, 9)).toEqual([{ next: 1 }])
      expect(yield* Sql.unknownOutcomes(sql, 7)).toEqual([{ n: 1 }])
      // the label is unique: a second submission under one label is refused
      expect((yield* Effect.either(Sql.insertSubmission(sql, { jobId: 9, try: 1, label: "a", location: "z:b", now: startedAt })))._tag).toBe("Left")
    }).pipe(Effect.provide(watchdogDatabaseOn(backend))))

  it.effect("jobs by location read from the payload: work due by now (a not-before ahead waits), every state, the zones", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const queue = yield* JobQueue
      const test = { browser: "tor", agent: "agent1", url: "https://e.org/", runs: 1, firstViewOnly: true, connectivity: "Native", options: {} }
      yield* queue.enqueue(WptTest, { ...test, zone: "us-central1-a" })
      yield* queue.enqueue(WptTest, { ...test, zone: "us-central1-a" })
      yield* queue.enqueue(WptTest, { ...test, zone: "us-central1-a", notBefore: 5_000 }, { runAt: 5_000 })
      const { job } = yield* queue.enqueue(WptTest, { ...test, zone: "europe-west1-b", browser: "firefox" })
      yield* queue.cancel(job.id, "test")
      const rows = (list: ReadonlyArray<Sql.LocationWorkRow>) =>
        list.map((row) => [row.zone, row.browser, row.agent, row.state, row.n]).sort((a, b) => String(a).localeCompare(String(b)))
      expect(rows(yield* Sql.workByLocation(sql, 4_999))).toEqual([["us-central1-a", "tor", "agent1", "AWAITING", 2]])
      expect(rows(yield* Sql.workByLocation(sql, 5_000))).toEqual([["us-central1-a", "tor", "agent1", "AWAITING", 3]])
      const all = rows(yield* Sql.jobsByLocation(sql))
      expect(all).toHaveLength(2)
      expect(all[1]).toEqual(["us-central1-a", "tor", "agent1", "AWAITING", 3])
      expect(all[0]!.slice(0, 3)).toEqual(["europe-west1-b", "firefox", "agent1"])
      expect((yield* Sql.jobZones(sql)).map((row) => row.zone).sort()).toEqual(["europe-west1-b", "us-central1-a"])
    }).pipe(Effect.provide(watchdogDatabaseOn(backend))))
})
