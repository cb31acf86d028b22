/**
 * What one analysis pass costs: a real SQLite file with a linear history of `--commits` commits
 * on a tracked ref, each run once with `--metrics` metrics (2 % noise; a tenth of the metrics step
 * by 5 % at 70 % of the history), then `Analysis.afterRun` on the newest run, timed: the first
 * pass (raises the alerts, queues the bisection) and a second one (changes nothing). Also the pure
 * measurements query alone and the detector alone over the same series.
 *
 *   node --import tsx packages/plugins-bench/bench/detect.ts [--commits 1000] [--metrics 200]
 *
 * Last line:
 *   bench-detect: commits=<n> metrics=<m> after_run_ms=<first pass> again_ms=<second> read_ms=<query> (<rows>) detect_ms=<pure> alerts=<n>
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Migrations from "@orch/core/Migrations"
import { testDatabase } from "@orch/testing"
import { Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import * as Analysis from "../src/Analysis.js"
import { detectChanges } from "../src/detect/index.js"
import { chainMeasurements } from "../src/sql/analysis.js"
import { migrations } from "../src/sql/index.js"
import { gaussian as seededGaussian } from "../test/gaussian.js"

const { values: args } = parseArgs({ options: { commits: { type: "string", default: "1000" }, metrics: { type: "string", default: "200" } } })
const commits = Number(args.commits)
const metrics = Number(args.metrics)

const gaussian = seededGaussian(7)
const hashOf = (i: number) => i.toString(16).padStart(40, "0")
const stepAt = Math.floor(commits * 0.7)
const valueOf = (metric: number, commit: number) => 100 * (metric % 10 === 0 && commit >= stepAt ? 1.05 : 1) * (1 + 0.02 * gaussian())

const database = Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("bench", migrations))), testDatabase())

const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const series: Array<Array<number>> = Array.from({ length: metrics }, () => [])
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`INSERT INTO bench_metrics ${sql.insert(Array.from({ length: metrics }, (_, m) => ({ name: `bench${m}/time`, unit: "ns", direction: -1 })))}`
    for (let i = 0; i < commits; i++) {
      const hash = hashOf(i)
      yield* sql`INSERT INTO bench_commits (hash, author, author_date, committer, committer_date, message, reachable, new, seen_at)
        VALUES (${hash}, 'a', ${i}, 'a', ${i}, 'm', 2, 0, 0)`
      if (i > 0) yield* sql`INSERT INTO bench_commit_edges (child, parent, position) VALUES (${hash}, ${hashOf(i - 1)}, 0)`
      yield* sql`INSERT INTO bench_runs (id, hash, bench_method, started_at, ended_at, exit_code, source) VALUES (${`r${i}`}, ${hash}, 'internal', 0, 0, 0, 'worker')`
      const rows = Array.from({ length: metrics }, (_, m) => {
        const value = valueOf(m, i)
        series[m].push(value)
        return { run_id: `r${i}`, metric: `bench${m}/time`, value }
      })
      yield* sql`INSERT INTO bench_measurements ${sql.insert(rows)}`
    }
    yield* sql`INSERT INTO bench_refs (name, hash, tracked, updated_at) VALUES ('refs/heads/main', ${hashOf(commits - 1)}, 1, 0)`
  }))
  const last = `r${commits - 1}`
  let started = performance.now()
  const first = yield* Analysis.afterRun(last)
  const firstMs = performance.now() - started
  started = performance.now()
  yield* Analysis.afterRun(last)
  const againMs = performance.now() - started
  started = performance.now()
  const rows = yield* chainMeasurements(sql, "refs/heads/main", 10_000)
  const readMs = performance.now() - started
  started = performance.now()
  detectChanges(series.map((values, key) => ({ key, values, direction: -1 as const })))
  const detectMs = performance.now() - started
  const alerts = yield* Analysis.openAlerts()
  console.log(`first pass: ${first.alerts.length} alerts (${alerts.map((a) => `${a.metrics.length} metrics, ${parseInt(a.goodHash, 16)}..${parseInt(a.badHash, 16)}`).join("; ")}), bisect queued: ${first.bisect.length}`)
  console.log(
    `bench-detect: commits=${commits} metrics=${metrics} after_run_ms=${firstMs.toFixed(0)} again_ms=${againMs.toFixed(0)} read_ms=${readMs.toFixed(0)} (${rows.length} rows) detect_ms=${detectMs.toFixed(0)} alerts=${alerts.length}`
  )
})

await Effect.runPromise(program.pipe(Effect.provide(database)))
