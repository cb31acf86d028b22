/**
 * Retention on a 100,000-job database: how fast finished history goes, how long the
 * longest prune transaction holds SQLite's write lock, and how long a writer enqueuing
 * jobs side by side waits at worst meanwhile.
 *
 *   node --import tsx packages/core/bench/retention.ts [--jobs 100000] [--history 3] [--batch 500]
 *
 * The file holds --jobs finished jobs 30 days old with --history history rows each, plus
 * 10,000 young finished jobs and 1,000 queued ones that must stay. One pass with the
 * default limits (14 days) removes the old ones in transactions of --batch jobs (with
 * their history). rows_per_s counts jobs removed per second of the pass (each with its
 * history rows); max_txn_ms is the longest single transaction; writer_max_ms the slowest
 * enqueue made while the pass ran. The last line is
 * `retention-prune: rows=<jobs> rows_per_s=<jobs/s> max_txn_ms=<ms>`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Fiber, Layer, Ref, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import * as Database from "../src/Database.js"
import * as Jobs from "../src/Jobs.js"
import * as Migrations from "../src/Migrations.js"
import * as Retention from "../src/Retention.js"
import { RetentionSection } from "../src/RetentionPolicy.js"
import { coreMigrations } from "../src/sql/migrations.js"
import { countRows, seedJobs } from "@orch/testing"

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "100000" },
    history: { type: "string", default: "3" },
    batch: { type: "string", default: "500" }
  }
})
const jobs = Number(args.jobs)
const history = Number(args.history)
const batch = Number(args.batch)
const day = 86_400_000

const Work = Jobs.JobKind.simple({ plugin: "bench", name: "work", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Struct({}) })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orch-retention-bench-"))
const layer = Jobs.JobQueue.layer([Work]).pipe(
  Layer.provideMerge(Layer.effectDiscard(Migrations.apply("core", coreMigrations))),
  Layer.provideMerge(Database.layer({ filename: path.join(dir, "orch.sqlite") }))
)

const program = Effect.gen(function*() {
  const now = Date.now()
  const seedStarted = performance.now()
  yield* seedJobs({ plugin: "bench", kind: "work", state: "succeeded", count: jobs, updatedAt: now - 30 * day, step: 1, history })
  yield* seedJobs({ plugin: "bench", kind: "work", state: "succeeded", count: 10_000, updatedAt: now - day, history })
  yield* seedJobs({ plugin: "bench", kind: "work", state: "queued", count: 1_000, updatedAt: now - 60 * day, history: 1 })
  const historyRows = yield* countRows("orch_job_history")
  console.log(`seeded ${jobs + 11_000} jobs and ${historyRows} history rows in ${Math.round(performance.now() - seedStarted)} ms`)

  // a writer side by side: one enqueue at a time until the pass ends, its slowest call recorded
  const queue = yield* Jobs.JobQueue
  const done = yield* Ref.make(false)
  const writerMax = yield* Ref.make(0)
  const writes = yield* Ref.make(0)
  const writer = yield* Effect.fork(Effect.gen(function*() {
    let n = 0
    while (!(yield* Ref.get(done))) {
      const started = performance.now()
      yield* queue.enqueue(Work, { n: n++ })
      const ms = performance.now() - started
      yield* Ref.update(writerMax, (max) => Math.max(max, ms))
      yield* Ref.update(writes, (count) => count + 1)
      yield* Effect.sleep("1 millis")
    }
  }))

  const settings = Schema.decodeUnknownSync(RetentionSection)({ batchSize: batch })
  const started = performance.now()
  const report = yield* Retention.prune(Retention.targetOf([{ name: "bench", description: "", config: Schema.Struct({}), jobKinds: [Work] }], settings))
  const ms = performance.now() - started
  yield* Ref.set(done, true)
  yield* Fiber.join(writer)

  const removed = report.tables.find((t) => t.table === "orch_jobs")!.rows
  const removedHistory = report.tables.find((t) => t.table === "orch_job_history")!.rows
  const left = yield* countRows("orch_jobs")
  if (removed !== jobs) throw new Error(`removed ${removed} jobs, expected ${jobs}`)
  console.log(`pruned ${removed} jobs and ${removedHistory} history rows in ${Math.round(ms)} ms, ${report.transactions} transactions of ${batch} jobs; ${left} jobs left`)
  console.log(`writer alongside: ${yield* Ref.get(writes)} enqueues, slowest ${(yield* Ref.get(writerMax)).toFixed(1)} ms`)
  const sql = yield* SqlClient.SqlClient
  yield* sql`SELECT 1`
  console.log(`retention-prune: rows=${removed} rows_per_s=${Math.round(removed / (ms / 1000))} max_txn_ms=${report.longestTransactionMs.toFixed(1)}`)
})

Effect.runPromise(program.pipe(Effect.provide(layer), Effect.scoped)).then(
  () => fs.rmSync(dir, { recursive: true, force: true }),
  (error) => {
    fs.rmSync(dir, { recursive: true, force: true })
    console.error(error)
    process.exit(1)
  }
)
