import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as path from "node:path"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as JobRates from "../src/JobRates.js"
import { finishedPerMinute } from "../src/sql/rates.js"
import { seedJobs, tempDir, testBackend, testDatabase } from "@orch/testing"

const minute = 60_000
// half a minute into a minute
const now = 400 * 86_400_000 + 30_000
const minuteStart = now - 30_000

const Work = JobKind.simple({ plugin: "demo", name: "work", payload: Schema.Struct({}), result: Schema.Struct({}) })
const Other = JobKind.simple({ plugin: "demo", name: "other", payload: Schema.Struct({}), result: Schema.Struct({}) })

const database = () =>
  JobQueue.layer([Work, Other]).pipe(Layer.provideMerge(testDatabase(path.join(tempDir(), "orch.sqlite"))))

/** `count` jobs of `kind` in `state`, each with one history entry at `at` (+1 ms each). */
const finished = (kind: JobKind.Any, state: string, count: number, at: number) =>
  seedJobs({ plugin: kind.plugin, kind: kind.name, state, count, updatedAt: at, history: 1 })

describe("JobRates", () => {
  it.effect("counts, per kind and minute of the last 30, the jobs that entered a final state; the rate over the last five", () =>
    Effect.gen(function*() {
      yield* finished(Work, "succeeded", 10, minuteStart - 10 * minute + 5_000)
      yield* finished(Work, "dead", 2, minuteStart - 10 * minute + 6_000)
      yield* finished(Work, "succeeded", 3, minuteStart - 2 * minute)
      yield* finished(Work, "succeeded", 4, now - 10_000)
      // not final: not counted
      yield* finished(Work, "queued", 7, now - 5_000)
      // before the window
      yield* finished(Work, "succeeded", 9, minuteStart - 40 * minute)
      yield* finished(Other, "cancelled", 1, minuteStart - 29 * minute)
      const read = yield* JobRates.make
      const rates = yield* read(now)
      expect(rates.map((r) => `${r.plugin}/${r.kind}`)).toEqual(["demo/other", "demo/work"])
      const work = rates.find((r) => r.kind === "work")!
      expect(work.minutes).toHaveLength(30)
      expect(work.minutes[29 - 10]).toBe(12)
      expect(work.minutes[29 - 2]).toBe(3)
      expect(work.minutes[29]).toBe(4)
      expect(work.minutes.reduce((a, b) => a + b, 0)).toBe(19)
      expect(work.perMinute).toBeCloseTo(7 / 5.5)
      const other = rates.find((r) => r.kind === "other")!
      expect(other.minutes[0]).toBe(1)
      expect(other.perMinute).toBe(0)
    }).pipe(Effect.provide(database())))

  it.effect("reads the current minute afresh every time; when the minute turns, it becomes the window's past", () =>
    Effect.gen(function*() {
      const read = yield* JobRates.make
      yield* finished(Work, "succeeded", 2, now - 20_000)
      expect((yield* read(now)).find((r) => r.kind === "work")!.minutes[29]).toBe(2)
      yield* finished(Work, "succeeded", 3, now + 1_000)
      expect((yield* read(now + 2_000)).find((r) => r.kind === "work")!.minutes[29]).toBe(5)
      const next = (yield* read(now + minute)).find((r) => r.kind === "work")!
      expect([next.minutes[28], next.minutes[29]]).toEqual([5, 0])
    }).pipe(Effect.provide(database())))

  it.effect("with 100,000 history entries, the window is one range of the time index, never a scan of the history", () =>
    Effect.gen(function*() {
      // two days of finished jobs, one every 1.7 s
      yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 100_000, updatedAt: now - 170_000_000, step: 1_700, history: 1 })
      const sql = yield* SqlClient.SqlClient
      // SQLite's plan is fixed by its indexes; PostgreSQL's depends on its statistics, so only the counts are checked there
      if (testBackend === "sqlite") {
        const [text, params] = finishedPerMinute(sql, { from: now - 30 * minute, until: now, states: ["succeeded", "dead", "cancelled"] }).compile()
        const plan = (yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${text}`, params as Array<unknown>)).map((r) => r.detail)
        expect(plan.join("\n")).toMatch(/SEARCH h USING COVERING INDEX orch_job_history_by_time \(at>\? AND at<\?\)/)
        expect(plan.join("\n")).toMatch(/SEARCH j USING INTEGER PRIMARY KEY/)
      }
      const work = (yield* (yield* JobRates.make)(now)).find((r) => r.kind === "work")!
      // 30 minutes at one job every 1.7 s, the last half minute of it in the current minute
      expect(work.minutes.reduce((a, b) => a + b, 0)).toBeGreaterThan(1_040)
      expect(work.minutes.reduce((a, b) => a + b, 0)).toBeLessThan(1_060)
    }).pipe(Effect.provide(database())), 60_000)
})
