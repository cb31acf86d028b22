/**
 * The read API's views and the pages' queries (`sql/pages.ts`) over a database written by the
 * server's own SQL, on both engines: refs, alerts (none, then one), a commit by any of its
 * names, a run with its measurements and output, a compare, a graph series, the queue and workers.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { describeBackends } from "@orch/testing/Backends"
import { Effect } from "effect"
import * as ReadApi from "../src/ReadApi.js"
import * as AnalysisSql from "../src/sql/analysis.js"
import * as Sql from "../src/sql/index.js"
import * as PagesSql from "../src/sql/pages.js"
import { benchDatabaseOn } from "./support.js"

const parent = "b2" + "0".repeat(38)
const main = "a1" + "0".repeat(38)
const other = "b3" + "0".repeat(38)
const twin1 = "cc001".padEnd(40, "0")
const twin2 = "cc002".padEnd(40, "0")
const day = 86_400_000
const t0 = 1_700_000_000_000

const commit = (hash: string, message: string, date: number): Sql.CommitRow =>
  ({ hash, author: "Ada", author_date: date, committer: "Ada", committer_date: date, message })

const run = (id: string, hash: string, endedAt: number): Sql.RunRow => ({
  id, hash, bench_method: "internal", worker_name: "w1", worker_info: "box", fingerprint: JSON.stringify({ cpu: "x" }),
  started_at: endedAt - 1000, ended_at: endedAt, exit_code: 0, source: "worker"
})

/** The history parent ← main, parent ← other; refs, two runs, one queued commit, one worker. */
const seed = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* Sql.insertCommits(sql, [
    commit(parent, "parent commit", t0),
    commit(main, "main commit\n\nwith a body", t0 + day),
    commit(other, "other", t0 + day / 2),
    commit(twin1, "twin 1", t0 - day),
    commit(twin2, "twin 2", t0 - day)
  ], t0)
  yield* Sql.insertEdges(sql, [{ child: main, parent, position: 0 }, { child: other, parent, position: 0 }])
  yield* Sql.upsertRef(sql, "refs/heads/main", main, true, t0)
  yield* Sql.upsertRef(sql, "refs/heads/feature", other, false, t0)
  yield* Sql.upsertRef(sql, "refs/tags/v1.0", parent, false, t0)
  yield* Sql.upsertMetrics(sql, [{ name: "sort/time", unit: "ms", direction: -1 }, { name: "parse/time", unit: null, direction: 0 }])
  for (const [id, hash, endedAt, value] of [["run-p", parent, t0 + 10, 10], ["run-m", main, t0 + day + 10, 12], ["run-m2", main, t0 + day + 20, 14]] as const) {
    expect(yield* Sql.insertRun(sql, run(id, hash, endedAt))).toBe(true)
    yield* Sql.insertMeasurements(sql, [{ run_id: id, metric: "sort/time", value, lower_value: value - 1, upper_value: value + 1, samples: JSON.stringify([value]) }])
  }
  yield* Sql.insertOutput(sql, [{ run_id: "run-m2", line: 1, source: 1, text: "hello" }, { run_id: "run-m2", line: 2, source: 2, text: "oops" }])
  yield* Sql.enqueue(sql, other, 5, "manual", t0)
  yield* Sql.putWorker(sql, {
    name: "w1", secret: "s", info: "box", fingerprint: null, status: JSON.stringify({ type: "busy" }),
    run_id: "run-x", run_hash: other, run_start: t0, first_seen: t0, last_seen: t0 + day
  })
})

describeBackends("the bench read views", (backend) => {
  it.effect("refs, alerts, a commit by its names, a run, a compare, a graph, the queue and workers", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* seed
      expect((yield* ReadApi.refsView).map((r) => [r.name, r.tracked, r.newestRun, r.subject, r.committerDate])).toEqual([
        ["refs/heads/main", true, "run-m2", "main commit", t0 + day],
        ["refs/heads/feature", false, null, "other", t0 + day / 2],
        ["refs/tags/v1.0", false, "run-p", "parent commit", t0]
      ])

      // no alert yet: the empty read of their metrics
      expect(yield* ReadApi.alertsView(10)).toEqual([])
      const id = yield* AnalysisSql.insertAlert(sql, { good: parent, bad: main, at: t0 + 2 * day })
      yield* AnalysisSql.updateAlert(sql, { id, good: parent, bad: main, blamed: main, state: "blamed", at: t0 + 3 * day })
      yield* AnalysisSql.upsertAlertMetric(sql, { alert_id: id, metric: "sort/time", before_mean: 10, after_mean: 13, change: 0.3, p_value: 0.001, regression: 1 })
      expect(yield* ReadApi.alertsView(10)).toEqual([{
        id, goodHash: parent, badHash: main, blamedHash: main, state: "blamed", createdAt: t0 + 2 * day, updatedAt: t0 + 3 * day,
        metrics: [{ metric: "sort/time", beforeMean: 10, afterMean: 13, change: 0.3, pValue: 0.001, regression: true }]
      }])

      // a commit by its full hash, a prefix, a ref, a branch and a tag name; an ambiguous prefix and an unknown name refused
      for (const rev of [main, "a1000", "refs/heads/main", "main"]) expect(yield* ReadApi.commitOf(rev)).toBe(main)
      expect(yield* ReadApi.commitOf("v1.0")).toBe(parent)
      expect(yield* Effect.flip(ReadApi.commitOf("cc00"))).toMatchObject({ _tag: "ReadError", status: 400 })
      expect(yield* Effect.flip(ReadApi.commitOf("nothing"))).toMatchObject({ _tag: "ReadError", status: 404 })
      const view = yield* ReadApi.commitView(parent)
      expect(view).toMatchObject({ hash: parent, committerDate: t0, reachable: "from no ref", parents: [], refs: [{ name: "refs/tags/v1.0", tracked: false }], queue: null })
      expect(view.children.map((c) => c.hash)).toEqual([other, main])
      expect(view.runs.map((r) => r.id)).toEqual(["run-p"])
      expect((yield* ReadApi.commitView(other)).queue).toEqual({ priority: 5, reason: "manual", queuedAt: t0 })

      const details = yield* ReadApi.runDetails("run-m2")
      expect(details).toMatchObject({ id: "run-m2", hash: main, subject: "main commit", startedAt: t0 + day + 20 - 1000, endedAt: t0 + day + 20, fingerprint: { cpu: "x" } })
      expect(details.measurements).toEqual([{ metric: "sort/time", value: 14, lowerValue: 13, upperValue: 15, samples: [14], unit: "ms", direction: -1 }])
      expect(details.output).toEqual([{ line: 1, source: "stdout", text: "hello" }, { line: 2, source: "stderr", text: "oops" }])
      // a commit stands for its newest run
      expect((yield* ReadApi.runOf(main)).id).toBe("run-m2")
      expect(yield* Effect.flip(ReadApi.runOf(other))).toMatchObject({ _tag: "ReadError", status: 404 })
      const compared = yield* ReadApi.comparison(yield* ReadApi.runOf("run-p"), yield* ReadApi.runOf("run-m2"))
      expect(compared.metrics.map((m) => m.metric)).toEqual(["sort/time"])
      expect(Object.values(compared.counts).reduce((x, y) => x + y, 0)).toBe(1)

      // the graph: a point per commit, the mean of its runs; bounded by revs
      const graph = yield* ReadApi.graphData(yield* ReadApi.graphQuery(new URLSearchParams({ metrics: "sort/time" })))
      expect(graph.metrics.map((m) => [m.name, m.total, m.x, m.y, m.hash])).toEqual([["sort/time", 2, [t0, t0 + day], [10, 13], [parent, main]]])
      const bounded = yield* ReadApi.graphData(yield* ReadApi.graphQuery(new URLSearchParams({ metrics: "sort/time", to: "v1.0" })))
      expect(bounded.metrics[0]!.hash).toEqual([parent])
      expect((yield* ReadApi.graphData(yield* ReadApi.graphQuery(new URLSearchParams()))).available?.map((m) => m.name)).toEqual(["parse/time", "sort/time"])

      // the pages' queue, workers and runs
      expect((yield* PagesSql.listQueue(sql, 10)).map((q) => [q.hash, q.priority, q.worker, q.committer_date])).toEqual([[other, 5, "w1", t0 + day / 2]])
      expect(yield* PagesSql.countQueue(sql)).toEqual([{ n: 1 }])
      expect((yield* PagesSql.listWorkers(sql)).map((w) => [w.name, w.run_id, w.last_seen])).toEqual([["w1", "run-x", t0 + day]])
      expect((yield* PagesSql.recentRuns(sql, 2)).map((r) => [r.id, r.message])).toEqual([["run-m2", "main commit\n\nwith a body"], ["run-m", "main commit\n\nwith a body"]])
    }).pipe(Effect.provide(benchDatabaseOn(backend))))
})
