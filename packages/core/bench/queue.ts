/**
 * The durable job queue end to end on a real SQLite file: every enqueue, claim and
 * completion is its own call that returns once its transaction has committed (calls
 * made at the same time may share a commit: see the queue's group commit).
 *
 *   node --import tsx packages/core/bench/queue.ts [--jobs 5000] [--producers 4] [--workers 4]
 *     [--batch 16] [--complete-concurrency 1] [--only pipeline|lone]
 *
 * Two runs over fresh files:
 * - pipeline: --producers fibers enqueue --jobs jobs one by one while --workers fibers claim
 *   up to --batch at a time and complete each (--complete-concurrency of a batch at once);
 *   jobs/s is jobs over the time from the first
 *   enqueue to the last completion, latency is enqueue start → completion committed (it
 *   includes the time a job waits behind the others).
 * - lone job: enqueue, claim one, complete, one job at a time: the latency of a job that
 *   never waits, and nothing to share a commit with.
 * "cpu per job" is this process's CPU time (all threads) over the jobs: on a shared
 * machine it moves less than wall-clock figures do.
 */
import { Effect, Fiber, Layer, Ref, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import * as Database from "../src/Database.js"
import * as Jobs from "../src/Jobs.js"
import * as Migrations from "../src/Migrations.js"
import { coreMigrations } from "../src/sql/migrations.js"

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    workers: { type: "string", default: "4" },
    batch: { type: "string", default: "16" },
    producers: { type: "string", default: "4" },
    "complete-concurrency": { type: "string", default: "1" },
    only: { type: "string" }
  }
})
const jobCount = Number(args.jobs)
const workers = Number(args.workers)
const batch = Number(args.batch)
const producers = Number(args.producers)
const completeConcurrency = Number(args["complete-concurrency"])

const Work = Jobs.JobKind.simple({
  plugin: "bench",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number, url: Schema.String }),
  result: Schema.Struct({ ok: Schema.Boolean })
})

class Samples {
  readonly values: Array<number> = []
  add(ms: number) {
    this.values.push(ms)
  }
  percentile(p: number): number {
    const sorted = [...this.values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
  }
  summary(): string {
    return `p50 ${this.percentile(50).toFixed(3)} ms  p99 ${this.percentile(99).toFixed(3)} ms  (n=${this.values.length})`
  }
}

const timed = <A, E, R>(samples: Samples, effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const start = performance.now()
    return Effect.tap(effect, () => samples.add(performance.now() - start))
  })

const freshQueue = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orch-bench-"))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  return Jobs.JobQueue.layer([Work]).pipe(
    Layer.provideMerge(Layer.effectDiscard(Migrations.apply("core", coreMigrations))),
    Layer.provideMerge(Database.layer({ filename: path.join(dir, "bench.sqlite") })),
    Layer.orDie
  )
}

const pipeline = Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  const enqueueOp = new Samples()
  const claimOp = new Samples()
  const completeOp = new Samples()
  const endToEnd = new Samples()
  const enqueuedAt = new Map<number, number>()
  const done = yield* Ref.make(0)
  const start = performance.now()
  const cpuStart = process.cpuUsage()

  const producer = (p: number) => Effect.forEach(
    Array.from({ length: Math.ceil(jobCount / producers) }, (_, i) => i * producers + p).filter((n) => n < jobCount),
    (n) =>
      Effect.gen(function*() {
        // set before the call: a worker may complete the job before this fiber runs again
        enqueuedAt.set(n, performance.now())
        yield* timed(enqueueOp, queue.enqueue(Work, { n, url: `https://example.com/${n}` }))
      }),
    { discard: true }
  )

  const worker = (w: number) =>
    Effect.gen(function*() {
      while ((yield* Ref.get(done)) < jobCount) {
        const jobs = yield* timed(claimOp, queue.claim(Work, { owner: `bench-${w}`, leaseMs: 30_000, limit: batch }))
        if (jobs.length === 0) {
          // an idle worker polls, as a real one would
          yield* Effect.sleep("2 millis")
          continue
        }
        // a worker runs the jobs of its batch side by side, each completed on its own
        yield* Effect.forEach(jobs, (job) =>
          Effect.gen(function*() {
            yield* timed(completeOp, queue.transition(job, "succeeded", { reason: "done", result: { ok: true } }))
            endToEnd.add(performance.now() - enqueuedAt.get(job.payload.n)!)
            yield* Ref.update(done, (d) => d + 1)
          }), { concurrency: completeConcurrency, discard: true })
      }
    })

  const fibers = yield* Effect.forEach(Array.from({ length: workers }, (_, w) => w), (w) => Effect.fork(worker(w)))
  yield* Effect.forEach(Array.from({ length: producers }, (_, p) => p), producer, { concurrency: "unbounded", discard: true })
  yield* Fiber.joinAll(fibers)
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)

  const counts = yield* queue.countByState()
  const succeeded = counts.find((c) => c.state === "succeeded")?.count ?? 0
  if (succeeded !== jobCount) return yield* Effect.dieMessage(`expected ${jobCount} succeeded, found ${succeeded}`)

  console.log(
    `pipeline: ${jobCount} jobs, ${producers} producer fibers, ${workers} worker fibers claiming up to ${batch} at a time` +
      ` and completing ${completeConcurrency} at a time`
  )
  console.log(`  throughput      ${(jobCount / seconds).toFixed(0)} jobs/s (${seconds.toFixed(2)} s)`)
  console.log(`  cpu per job     ${((cpu.user + cpu.system) / jobCount).toFixed(0)} µs (user ${(cpu.user / jobCount).toFixed(0)}, system ${(cpu.system / jobCount).toFixed(0)})`)
  console.log(`  enqueue→done    ${endToEnd.summary()}`)
  console.log(`  enqueue         ${enqueueOp.summary()}`)
  console.log(`  claim (batch)   ${claimOp.summary()}`)
  console.log(`  complete        ${completeOp.summary()}`)
})

const loneJob = Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  const n = Math.min(jobCount, 2000)
  const endToEnd = new Samples()
  const enqueueOp = new Samples()
  const claimOp = new Samples()
  const completeOp = new Samples()
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  for (let i = 0; i < n; i++) {
    const at = performance.now()
    yield* timed(enqueueOp, queue.enqueue(Work, { n: i, url: `https://example.com/${i}` }))
    const [job] = yield* timed(claimOp, queue.claim(Work, { owner: "bench", leaseMs: 30_000 }))
    yield* timed(completeOp, queue.transition(job!, "succeeded", { reason: "done", result: { ok: true } }))
    endToEnd.add(performance.now() - at)
  }
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)
  console.log(`lone job: ${n} jobs one at a time`)
  console.log(`  throughput      ${(n / seconds).toFixed(0)} jobs/s`)
  console.log(`  cpu per job     ${((cpu.user + cpu.system) / n).toFixed(0)} µs (user ${(cpu.user / n).toFixed(0)}, system ${(cpu.system / n).toFixed(0)})`)
  console.log(`  enqueue→done    ${endToEnd.summary()}`)
  console.log(`  enqueue         ${enqueueOp.summary()}`)
  console.log(`  claim (1)       ${claimOp.summary()}`)
  console.log(`  complete        ${completeOp.summary()}`)
})

const main = Effect.gen(function*() {
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}, SQLite WAL synchronous=NORMAL`
  )
  if (args.only !== "lone") yield* Effect.provide(pipeline, freshQueue())
  if (args.only !== "pipeline") yield* Effect.provide(loneJob, freshQueue())
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
