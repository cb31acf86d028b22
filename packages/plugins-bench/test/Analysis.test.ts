/**
 * Change detection on a real database (SQLite and PostgreSQL) migrated with the plugin's migrations: a linear history
 * measured on every few commits, with a step at a known commit; a simulated worker runs whatever
 * the analysis queues (more samples of a suspect commit, the middle of an alert's range) and the
 * analysis runs after each stored run, as the server does.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import * as Migrations from "@orch/core/Migrations"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Effect, Layer } from "effect"
import * as Analysis from "../src/Analysis.js"
import { migrations } from "../src/sql/index.js"
import { gaussian } from "./gaussian.js"

const databaseOn = (backend: Backend) => Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("bench", migrations))), backend.database())


const hashOf = (i: number) => i.toString(16).padStart(40, "0")

/** Commits 0..count-1, each the first parent of the next; main (tracked) at the last. */
const insertHistory = (count: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < count; i++) {
      yield* sql`INSERT INTO bench_commits (hash, author, author_date, committer, committer_date, message, reachable, new, seen_at)
        VALUES (${hashOf(i)}, 'a', ${i * 1000}, 'a', ${i * 1000}, ${`commit ${i}`}, 2, 0, 0)`
      if (i > 0) yield* sql`INSERT INTO bench_commit_edges (child, parent, position) VALUES (${hashOf(i)}, ${hashOf(i - 1)}, 0)`
    }
    // a side parent (a merged branch) that must not enter the first-parent chain
    yield* sql`INSERT INTO bench_commits (hash, author, author_date, committer, committer_date, message, reachable, new, seen_at)
      VALUES ('side', 'a', 0, 'a', 0, 'side', 2, 0, 0)`
    yield* sql`INSERT INTO bench_commit_edges (child, parent, position) VALUES (${hashOf(count - 1)}, 'side', 1)`
    yield* sql`INSERT INTO bench_refs (name, hash, tracked, updated_at) VALUES ('refs/heads/main', ${hashOf(count - 1)}, 1, 0)`
    yield* sql`INSERT INTO bench_refs (name, hash, tracked, updated_at) VALUES ('refs/heads/side', 'side', 0, 0)`
    yield* sql`INSERT INTO bench_metrics (name, unit, direction) VALUES ('sort/latency', 'ns', -1), ('sort/throughput', 'ops/s', 1), ('parse/latency', 'ns', -1)`
  })

/** Stores one run of commit `i` with the model's values (latency up 5 %, throughput down 5 % from `stepAt` on). */
const storeRun = (i: number, stepAt: number, random: () => number, noise: number, failing: ReadonlySet<number> = new Set()) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [{ n }] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM bench_runs`
    const id = `run-${Number(n) + 1}`
    const exitCode = failing.has(i) ? 1 : 0
    yield* sql`INSERT INTO bench_runs (id, hash, bench_method, worker_name, worker_info, fingerprint, started_at, ended_at, exit_code, source)
      VALUES (${id}, ${hashOf(i)}, 'internal', 'w', NULL, NULL, 0, 0, ${exitCode}, 'worker')`
    if (exitCode !== 0) return id
    const stepped = i >= stepAt ? 0.05 : 0
    const values = {
      "sort/latency": 100 * (1 + stepped) * (1 + noise * random()),
      "sort/throughput": 5000 * (1 - stepped) * (1 + noise * random()),
      "parse/latency": 20 * (1 + noise * random())
    }
    for (const [metric, value] of Object.entries(values)) {
      yield* sql`INSERT INTO bench_measurements (run_id, metric, value) VALUES (${id}, ${metric}, ${value})`
    }
    return id
  })

/** A worker: runs queued commits, highest priority first, analysing after each, until the queue is empty. */
const drainQueue = (stepAt: number, random: () => number, noise: number, log: Array<string>, failing: ReadonlySet<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (;;) {
      const [next] = yield* sql<{ hash: string; reason: string }>`SELECT hash, reason FROM bench_queue ORDER BY priority DESC, queued_at DESC, hash LIMIT 1`
      if (next === undefined) return
      yield* sql`DELETE FROM bench_queue WHERE hash = ${next.hash}`
      const i = parseInt(next.hash, 16)
      log.push(`${next.reason} ${i}`)
      yield* Analysis.afterRun(yield* storeRun(i, stepAt, random, noise, failing))
    }
  })

/** Runs every `stride`-th commit in order, analysing after each and letting the worker drain the queue. */
const measureHistory = (count: number, stride: number, stepAt: number, noise: number, failing: ReadonlySet<number> = new Set(), seed = 42) =>
  Effect.gen(function*() {
    const random = gaussian(seed)
    const log: Array<string> = []
    yield* insertHistory(count)
    let last = ""
    for (let i = 0; i < count; i += stride) {
      last = yield* storeRun(i, stepAt, random, noise)
      const summary = yield* Analysis.afterRun(last)
      if (summary.resampled) log.push(`suspect ${i}: ${summary.suspect.map((s) => s.metric).join(",")}`)
      for (const alert of summary.alerts.filter((a) => a.created)) log.push(`alert at ${i}: ${parseInt(alert.good, 16)}..${parseInt(alert.bad, 16)}`)
      yield* drainQueue(stepAt, random, noise, log, failing)
    }
    return { log, last }
  })

describeBackends("Analysis", (backend) => {
  const database = () => databaseOn(backend)
  it.effect("runs on every other commit, a 5% step at commit 23: one alert for both moved metrics, the skipped commit bisected and blamed", () =>
    Effect.gen(function*() {
      const { last, log } = yield* measureHistory(41, 2, 23, 0.01)
      const alerts = yield* Analysis.openAlerts()
      expect(alerts).toHaveLength(1)
      const [alert] = alerts
      expect(alert).toMatchObject({ state: "blamed", blamedHash: hashOf(23), goodHash: hashOf(22), badHash: hashOf(23), regression: true })
      expect(alert.metrics.map((m) => [m.metric, m.regression])).toEqual([["sort/latency", true], ["sort/throughput", true]])
      const latency = alert.metrics[0]
      expect(latency.change).toBeGreaterThan(0.03)
      expect(latency.change).toBeLessThan(0.07)
      // the first commit on the new level was suspect and measured again; commit 23 was run to bisect
      expect(log).toContain("suspect 24: sort/latency,sort/throughput")
      expect(log).toContain("bisect 23")
      // the alert waited for 3 measured commits after the first bad one (24, then 26, 28, 30)
      expect(log.find((line) => line.startsWith("alert"))).toBe("alert at 30: 22..24")
      const samples = yield* Analysis.alertSamples
      expect(samples.filter((s) => s.value > 0).map((s) => [s.labels, s.value])).toEqual([[{ state: "blamed", kind: "regression" }, 1]])
      expect(samples).toHaveLength(6)
      // analysing again changes nothing
      const again = yield* Analysis.afterRun(last)
      expect(again.alerts).toEqual([])
      expect(again.bisect).toEqual([])
      expect(yield* Analysis.openAlerts()).toEqual(alerts)
    }).pipe(Effect.provide(database())))

  it.effect("runs on every 8th commit, a step at commit 43: bisection queues 44, 42, 43 and blames 43", () =>
    Effect.gen(function*() {
      const { log } = yield* measureHistory(81, 8, 43, 0.01)
      expect(log.filter((line) => line.startsWith("bisect"))).toEqual(["bisect 44", "bisect 42", "bisect 43"])
      const [alert, ...more] = yield* Analysis.openAlerts()
      expect(more).toEqual([])
      expect(alert).toMatchObject({ state: "blamed", blamedHash: hashOf(43), goodHash: hashOf(42), badHash: hashOf(43) })
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT hash FROM bench_queue`).toEqual([])
    }).pipe(Effect.provide(database())))

  it.effect("in 2% noise, runs on every other commit, a 5% step at commit 61: blamed on 61 for each of 8 seeds", () =>
    Effect.gen(function*() {
      const blamed: Array<string> = []
      for (let seed = 1; seed <= 8; seed++) {
        yield* measureHistory(101, 2, 61, 0.02, new Set(), seed)
        const alerts = yield* Analysis.openAlerts()
        const alert = alerts.find((a) => a.metrics.length === 2)
        blamed.push(alert?.blamedHash === null || alert === undefined ? "none" : String(parseInt(alert.blamedHash, 16)))
        const sql = yield* SqlClient.SqlClient
        for (const table of ["bench_alerts", "bench_queue", "bench_measurements", "bench_runs", "bench_refs", "bench_commit_edges", "bench_metrics", "bench_commits"]) {
          yield* sql`DELETE FROM ${sql(table)}`
        }
      }
      expect(blamed).toEqual(Array(8).fill("61"))
    }).pipe(Effect.provide(database())), 180_000) // some 1,500 passes: on PostgreSQL each query is a round trip (about 30 s here)

  it.effect("30 metrics run on every commit, 10 step by 5% in 2% noise at commit 100: one alert with those 10, blamed on 100", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const random = gaussian(7)
      yield* insertHistory(150)
      const names = Array.from({ length: 30 }, (_, m) => `b${m}/time`)
      yield* sql`INSERT INTO bench_metrics ${sql.insert(names.map((name) => ({ name, unit: "ns", direction: -1 })))}`
      for (let i = 0; i < 150; i++) {
        yield* sql`INSERT INTO bench_runs (id, hash, bench_method, started_at, ended_at, exit_code, source) VALUES (${`r${i}`}, ${hashOf(i)}, 'internal', 0, 0, 0, 'worker')`
        const rows = names.map((metric, m) => ({ run_id: `r${i}`, metric, value: 100 * (m < 10 && i >= 100 ? 1.05 : 1) * (1 + 0.02 * random()) }))
        yield* sql`INSERT INTO bench_measurements ${sql.insert(rows)}`
      }
      const summary = yield* Analysis.afterRun("r149")
      expect(summary.alerts).toHaveLength(1)
      const [alert, ...more] = yield* Analysis.openAlerts()
      expect(more).toEqual([])
      expect(alert).toMatchObject({ state: "blamed", blamedHash: hashOf(100), goodHash: hashOf(99), badHash: hashOf(100) })
      expect(alert.metrics.map((m) => m.metric).sort()).toEqual(names.slice(0, 10).sort())
    }).pipe(Effect.provide(database())))

  it.effect("a commit whose run fails is skipped: with the step at 22 and 22 failing, the range ends as 21..23 with no single commit blamed", () =>
    Effect.gen(function*() {
      const { log } = yield* measureHistory(61, 4, 22, 0.01, new Set([22]))
      expect(log.filter((line) => line.startsWith("bisect"))).toEqual(["bisect 22", "bisect 21", "bisect 23"])
      const [alert, ...more] = yield* Analysis.openAlerts()
      expect(more).toEqual([])
      expect(alert).toMatchObject({ state: "blamed", blamedHash: null, goodHash: hashOf(21), badHash: hashOf(23) })
    }).pipe(Effect.provide(database())))

  it.effect("a dismissed alert stays dismissed and is not raised again", () =>
    Effect.gen(function*() {
      const { last } = yield* measureHistory(41, 2, 23, 0.01)
      const [alert] = yield* Analysis.openAlerts()
      expect(yield* Analysis.dismissAlert(alert.id)).toBe(true)
      const again = yield* Analysis.afterRun(last)
      expect(again.alerts).toEqual([])
      expect(yield* Analysis.openAlerts()).toEqual([])
      expect(yield* Analysis.dismissAlert(9999)).toBe(false)
    }).pipe(Effect.provide(database())))

  it.effect("an unknown run is an AnalysisError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Analysis.afterRun("nope"))
      expect(error._tag).toBe("AnalysisError")
    }).pipe(Effect.provide(database())))
})
