/**
 * The durable job queue end to end on a real SQLite file (or, with `--backend postgres`, a
 * PostgreSQL database of its own per run): every enqueue, claim and
 * completion is its own call that returns once its transaction has committed (calls
 * made at the same time may share a commit: see the queue's group commit).
 *
 *   node --import tsx packages/core/bench/queue.ts [--jobs 5000] [--batched-jobs 20000] [--runs 3]
 *     [--producers 4] [--workers 4] [--batch 16] [--complete-concurrency 1] [--enqueue-batch 100]
 *     [--claim-batch 64] [--rate 5000] [--worker-jobs 20000] [--worker-concurrency 50]
 *     [--worker-enqueue-batch 1000] [--worker-producers 1] [--skip-bullmq] [--only pipeline,batched,paced,lone,worker]
 *     [--backend sqlite|postgres] [--postgres-url postgres://postgres@127.0.0.1:5432/test]
 *   npm run bench -- queue --backend postgres
 *
 * On PostgreSQL each run gets a fresh database beside --postgres-url's (ORCH_BENCH_POSTGRES_URL),
 * dropped at the end, and the report adds what the client sent per job: round trips (each
 * node-postgres query is one) by statement verb, BEGIN and COMMIT included.
 * Five configurations, each run --runs times over a fresh file:
 * - per-job pipeline: --producers fibers enqueue --jobs jobs one by one while --workers
 *   fibers claim up to --batch at a time and complete each with its own call
 *   (--complete-concurrency of a batch at once).
 * - batched pipeline: the same fibers over --batched-jobs jobs (more, so that a run lasts
 *   about a second), but producers call enqueueMany with --enqueue-batch jobs and workers
 *   claim up to --claim-batch and complete them with one transitionMany. Every job is
 *   still committed (enqueued, leased, completed, with its history rows) before the call
 *   that carries it returns.
 * - paced batched pipeline: the batched pipeline with producers sending their batches at a
 *   steady --rate jobs/s in all: its enqueue→done is a job's latency at that load, where
 *   the two pipelines above measure how fast a backlog drains (their latency is mostly
 *   the wait behind the backlog).
 * - lone job: enqueue, claim one, complete, one job at a time: the latency of a job that
 *   never waits, and nothing to share a commit with.
 * - worker: the job worker (JobWorker) end to end, as BullMQ's case: --worker-jobs no-op
 *   jobs, producers enqueue --worker-enqueue-batch per enqueueMany, one worker runs a
 *   handler per job at --worker-concurrency and records one completion per job. When Redis
 *   answers at 127.0.0.1:6379, BullMQ runs the same case (addBulk, a Worker with a no-op
 *   processor) in the same process, runs interleaved; the last line is
 *   `queue-worker: orch=<jobs/s> bullmq=<jobs/s> ratio=<orch/bullmq>` (medians).
 * jobs/s is jobs over the time from the first enqueue to the last completion; enqueue→done
 * is a job's enqueue call start → its completion committed. "cpu per job" is this
 * process's CPU time (all threads) over the jobs: on a shared machine it moves less than
 * wall-clock figures do. The first run of a process also pays for compiling the code it
 * runs (JIT): later runs are warm.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Either, Fiber, Layer, MetricLabel, Redacted, Ref, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import * as Database from "../src/Database.js"
import * as Jobs from "../src/Jobs.js"
import * as JobWorker from "../src/JobWorker.js"
import * as Migrations from "../src/Migrations.js"
import { coreMigrations } from "../src/sql/migrations.js"
import { type BullmqRun, redisAnswers, runBullmq } from "./_bullmq.js"
import * as BenchPostgres from "./_postgres.js"

const { values: args } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    "batched-jobs": { type: "string", default: "20000" },
    runs: { type: "string", default: "3" },
    workers: { type: "string", default: "4" },
    batch: { type: "string", default: "16" },
    producers: { type: "string", default: "4" },
    "complete-concurrency": { type: "string", default: "1" },
    "enqueue-batch": { type: "string", default: "100" },
    "claim-batch": { type: "string", default: "64" },
    rate: { type: "string", default: "5000" },
    "worker-jobs": { type: "string", default: "20000" },
    "worker-concurrency": { type: "string", default: "50" },
    "worker-enqueue-batch": { type: "string", default: "1000" },
    "worker-producers": { type: "string", default: "1" },
    // e.g. to profile orch alone
    "skip-bullmq": { type: "boolean", default: false },
    only: { type: "string" },
    // sqlite (a fresh file per run) or postgres (a fresh database per run on --postgres-url)
    backend: { type: "string", default: "sqlite" },
    "postgres-url": { type: "string", default: process.env.ORCH_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test" }
  }
})
const jobCount = Number(args.jobs)
const batchedJobCount = Number(args["batched-jobs"])
const runs = Number(args.runs)
const workers = Number(args.workers)
const batch = Number(args.batch)
const producers = Number(args.producers)
const completeConcurrency = Number(args["complete-concurrency"])
const enqueueBatch = Number(args["enqueue-batch"])
const claimBatch = Number(args["claim-batch"])
const rate = Number(args.rate)
const workerJobCount = Number(args["worker-jobs"])
const workerConcurrency = Number(args["worker-concurrency"])
const workerEnqueueBatch = Number(args["worker-enqueue-batch"])
const workerProducers = Number(args["worker-producers"])
const only = args.only === undefined ? undefined : new Set(args.only.split(","))
const selected = (configuration: string) => only === undefined || only.has(configuration)

const Work = Jobs.JobKind.simple({
  plugin: "bench",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number, url: Schema.String }),
  result: Schema.Struct({ ok: Schema.Boolean })
})

/** The worker configuration's no-op jobs: same payload, no result (BullMQ's no-op processor returns none). */
const Noop = Jobs.JobKind.simple({
  plugin: "bench",
  name: "noop",
  payload: Schema.Struct({ n: Schema.Number, url: Schema.String }),
  result: Schema.Void
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

/** What one run measured. */
interface Run {
  readonly jobs: number
  readonly seconds: number
  readonly cpu: NodeJS.CpuUsage
  readonly endToEnd: Samples
  /** Per call, labelled with what the call carries. */
  readonly calls: ReadonlyArray<readonly [label: string, samples: Samples]>
  /** What the client sent to PostgreSQL during the run (nothing on SQLite). */
  readonly sent: BenchPostgres.Sent
}

const dirs: Array<string> = []
process.once("exit", () => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

const backend = args.backend
if (backend !== "sqlite" && backend !== "postgres") throw new Error(`--backend must be sqlite or postgres, not ${backend}`)
const postgresUrl = args["postgres-url"]!
if (backend === "postgres") BenchPostgres.countQueries()

/** A fresh database per run: a file in a temp folder, or a PostgreSQL database dropped at the end. */
const freshDatabase = (): Layer.Layer<Database.Database | SqlClient.SqlClient> => {
  if (backend === "postgres") {
    return Layer.unwrapEffect(
      Effect.map(
        Effect.promise(() => BenchPostgres.freshDatabase(postgresUrl)),
        (url) => Layer.orDie(Database.layerPostgres({ url: Redacted.make(url) }))
      )
    )
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orch-bench-"))
  dirs.push(dir)
  return Layer.orDie(Database.layer({ filename: path.join(dir, "bench.sqlite") }))
}

const freshQueue = () =>
  Jobs.JobQueue.layer([Work, Noop]).pipe(
    Layer.provideMerge(Layer.effectDiscard(Migrations.apply("core", coreMigrations))),
    Layer.provideMerge(freshDatabase()),
    Layer.orDie
  )

/** Every job must have ended succeeded, with its two history rows (enqueued, succeeded). */
const checkAllSucceeded = (jobs: number) =>
  Effect.gen(function*() {
    const queue = yield* Jobs.JobQueue
    const sql = yield* SqlClient.SqlClient
    const counts = yield* queue.countByState()
    const succeeded = counts.find((c) => c.state === "succeeded")?.count ?? 0
    if (succeeded !== jobs) return yield* Effect.dieMessage(`expected ${jobs} succeeded, found ${succeeded}`)
    const [history] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM orch_job_history`
    if (history.n !== 2 * jobs) return yield* Effect.dieMessage(`expected ${2 * jobs} history rows, found ${history.n}`)
  })

/** Job numbers 0 … jobs−1 dealt round-robin to `producers` producers. */
const jobsOfProducer = (jobs: number, p: number) =>
  Array.from({ length: Math.ceil(jobs / producers) }, (_, i) => i * producers + p).filter((n) => n < jobs)

/** Times `body` (wall clock and CPU, handed its start time), then checks every job succeeded. */
const measure = <E, R>(
  jobs: number,
  endToEnd: Samples,
  calls: Run["calls"],
  body: (start: number) => Effect.Effect<void, E, R>
) =>
  Effect.gen(function*() {
    const start = performance.now()
    const cpuStart = process.cpuUsage()
    const sentBefore = BenchPostgres.sent()
    yield* body(start)
    const seconds = (performance.now() - start) / 1000
    const cpu = process.cpuUsage(cpuStart)
    const sent = BenchPostgres.since(sentBefore)
    yield* checkAllSucceeded(jobs)
    return { jobs, seconds, cpu, endToEnd, calls, sent } satisfies Run
  })

/** Workers forked, producers run side by side; over when every worker has seen all jobs done. */
const producersAndWorkers = <E1, R1, E2, R2>(
  producer: (p: number) => Effect.Effect<void, E1, R1>,
  worker: (w: number) => Effect.Effect<void, E2, R2>
) =>
  Effect.gen(function*() {
    const fibers = yield* Effect.forEach(Array.from({ length: workers }, (_, w) => w), (w) => Effect.fork(worker(w)))
    yield* Effect.forEach(Array.from({ length: producers }, (_, p) => p), producer, { concurrency: "unbounded", discard: true })
    yield* Fiber.joinAll(fibers)
  })

const pipeline = Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  const enqueueOp = new Samples()
  const claimOp = new Samples()
  const completeOp = new Samples()
  const endToEnd = new Samples()
  const enqueuedAt = new Map<number, number>()
  const done = yield* Ref.make(0)

  const producer = (p: number) =>
    Effect.forEach(jobsOfProducer(jobCount, p), (n) =>
      Effect.gen(function*() {
        // set before the call: a worker may complete the job before this fiber runs again
        enqueuedAt.set(n, performance.now())
        yield* timed(enqueueOp, queue.enqueue(Work, { n, url: `https://example.com/${n}` }))
      }), { discard: true })

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

  return yield* measure(
    jobCount,
    endToEnd,
    [["enqueue (1 job)", enqueueOp], [`claim (≤${batch})`, claimOp], ["complete (1 job)", completeOp]],
    () => producersAndWorkers(producer, worker)
  )
})

/** With `rate` (jobs/s), producers send each batch at its scheduled time instead of at once. */
const batchedPipeline = (rate: number | undefined) => Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  const enqueueOp = new Samples()
  const claimOp = new Samples()
  const completeOp = new Samples()
  const endToEnd = new Samples()
  const enqueuedAt = new Map<number, number>()
  const done = yield* Ref.make(0)

  const producer = (start: number) => (p: number) => {
    const mine = jobsOfProducer(batchedJobCount, p)
    const batches = Array.from({ length: Math.ceil(mine.length / enqueueBatch) }, (_, b) =>
      mine.slice(b * enqueueBatch, (b + 1) * enqueueBatch))
    return Effect.forEach(batches, (ns, b) =>
      Effect.gen(function*() {
        if (rate !== undefined) {
          // batch b of producer p is the (b·producers + p)-th of the whole run
          const wait = start + ((b * producers + p) * enqueueBatch * 1000) / rate - performance.now()
          if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        }
        const at = performance.now()
        for (const n of ns) enqueuedAt.set(n, at)
        yield* timed(
          enqueueOp,
          queue.enqueueMany(Work, ns.map((n) => ({ payload: { n, url: `https://example.com/${n}` } })))
        )
      }), { discard: true })
  }

  const worker = (w: number) =>
    Effect.gen(function*() {
      while ((yield* Ref.get(done)) < batchedJobCount) {
        const jobs = yield* timed(claimOp, queue.claim(Work, { owner: `bench-${w}`, leaseMs: 30_000, limit: claimBatch }))
        if (jobs.length === 0) {
          yield* Effect.sleep("2 millis")
          continue
        }
        const outcomes = yield* timed(
          completeOp,
          queue.transitionMany(jobs.map((job) => ({ job, result: { ok: true } })), "succeeded", { reason: "done" })
        )
        const at = performance.now()
        for (const outcome of outcomes) {
          if (Either.isLeft(outcome)) return yield* Effect.dieMessage(outcome.left.message)
          endToEnd.add(at - enqueuedAt.get(outcome.right.payload.n)!)
        }
        yield* Ref.update(done, (d) => d + outcomes.length)
      }
    })

  return yield* measure(
    batchedJobCount,
    endToEnd,
    [
      [`enqueueMany (${enqueueBatch} jobs)`, enqueueOp],
      [`claim (≤${claimBatch})`, claimOp],
      [`transitionMany (≤${claimBatch})`, completeOp]
    ],
    (start) => producersAndWorkers(producer(start), worker)
  )
})

const loneJob = Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  const n = Math.min(jobCount, 2000)
  const endToEnd = new Samples()
  const enqueueOp = new Samples()
  const claimOp = new Samples()
  const completeOp = new Samples()
  const oneAtATime = Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const at = performance.now()
      yield* timed(enqueueOp, queue.enqueue(Work, { n: i, url: `https://example.com/${i}` }))
      const [job] = yield* timed(claimOp, queue.claim(Work, { owner: "bench", leaseMs: 30_000 }))
      yield* timed(completeOp, queue.transition(job!, "succeeded", { reason: "done", result: { ok: true } }))
      endToEnd.add(performance.now() - at)
    }
  })
  return yield* measure(
    n,
    endToEnd,
    [["enqueue (1 job)", enqueueOp], ["claim (1)", claimOp], ["complete (1 job)", completeOp]],
    () => oneAtATime
  )
})

interface WorkerRun {
  readonly jobs: number
  readonly seconds: number
  readonly cpuMicros: number
  readonly load: number
  /** What the client sent to PostgreSQL during the run (nothing on SQLite). */
  readonly sent: BenchPostgres.Sent
}

/** `1.02 round trips per job (BEGIN 0.10, SELECT 0.30 …)`, on PostgreSQL only. */
const perJobStatements = (sent: BenchPostgres.Sent, jobs: number): string =>
  backend !== "postgres" ? "" :
    `, ${(sent.roundTrips / jobs).toFixed(3)} round trips per job (` +
    [...sent.byVerb].sort((a, b) => b[1] - a[1]).map(([verb, n]) => `${verb} ${(n / jobs).toFixed(3)}`).join(", ") + ")"

/**
 * The job worker end to end, as BullMQ's case: the worker is running and idle, producers
 * enqueue batches with enqueueMany, the worker runs a no-op handler per job (concurrency
 * --worker-concurrency) and records each outcome; over when every job's completion has
 * committed (the worker's completed counter, updated after each commit).
 */
const workerRun = Effect.gen(function*() {
  const queue = yield* Jobs.JobQueue
  let handled = 0
  const worker = JobWorker.make({
    kind: Noop,
    concurrency: workerConcurrency,
    handler: () =>
      Effect.sync(() => {
        handled++
      })
  })
  const labels = [MetricLabel.make("plugin", Noop.plugin), MetricLabel.make("kind", Noop.name)]
  const completed = () => JobWorker.jobsCompleted.unsafeValue(labels).count
  const before = completed()
  const fiber = yield* Effect.fork(JobWorker.run(worker, { owner: "bench" }))
  yield* Effect.sleep("50 millis")
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const sentBefore = BenchPostgres.sent()
  const producer = (p: number) => {
    const mine = Array.from({ length: Math.ceil(workerJobCount / workerProducers) }, (_, i) => i * workerProducers + p)
      .filter((n) => n < workerJobCount)
    return Effect.forEach(
      Array.from({ length: Math.ceil(mine.length / workerEnqueueBatch) }, (_, b) => mine.slice(b * workerEnqueueBatch, (b + 1) * workerEnqueueBatch)),
      (ns) => queue.enqueueMany(Noop, ns.map((n) => ({ payload: { n, url: `https://example.com/${n}` } }))),
      { discard: true }
    )
  }
  yield* Effect.forEach(Array.from({ length: workerProducers }, (_, p) => p), producer, { concurrency: "unbounded", discard: true })
  while (completed() - before < workerJobCount) yield* Effect.sleep("1 millis")
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)
  const sent = BenchPostgres.since(sentBefore)
  yield* Fiber.interrupt(fiber)
  if (handled !== workerJobCount) return yield* Effect.dieMessage(`expected ${workerJobCount} handler calls, saw ${handled}`)
  yield* checkAllSucceeded(workerJobCount)
  return { jobs: workerJobCount, seconds, cpuMicros: cpu.user + cpu.system, load: os.loadavg()[0], sent } satisfies WorkerRun
})

const workerComparison = Effect.gen(function*() {
  const withBullmq = !args["skip-bullmq"] && (yield* Effect.promise(redisAnswers))
  console.log(
    `\njob worker end to end: ${workerJobCount} no-op jobs; ${workerProducers} producer(s) enqueue ${workerEnqueueBatch} per call;` +
      ` one worker, concurrency ${workerConcurrency}, one handler call and one completion per job` +
      (withBullmq ? `; BullMQ the same on Redis at 127.0.0.1:6379 (addBulk, Worker), runs interleaved` : "")
  )
  const orch: Array<WorkerRun> = []
  const bullmq: Array<BullmqRun & { readonly load: number }> = []
  for (let i = 0; i < runs; i++) {
    const run = yield* Effect.provide(Effect.orDie(workerRun), freshQueue())
    orch.push(run)
    console.log(
      `  orch   run ${i + 1}: ${(run.jobs / run.seconds).toFixed(0)} jobs/s (${run.seconds.toFixed(2)} s),` +
        ` cpu per job ${(run.cpuMicros / run.jobs).toFixed(1)} µs, load average ${run.load.toFixed(2)}` +
        perJobStatements(run.sent, run.jobs)
    )
    if (withBullmq) {
      const other = yield* Effect.promise(() =>
        runBullmq({ jobs: workerJobCount, concurrency: workerConcurrency, batch: workerEnqueueBatch, producers: workerProducers })
      )
      bullmq.push({ ...other, load: os.loadavg()[0] })
      console.log(
        `  bullmq run ${i + 1}: ${(other.jobs / other.seconds).toFixed(0)} jobs/s (${other.seconds.toFixed(2)} s),` +
          ` cpu per job ${(other.cpuMicros / other.jobs).toFixed(1)} µs in node + ${(other.redisCpuMicros / other.jobs).toFixed(1)} µs in redis,` +
          ` load average ${os.loadavg()[0].toFixed(2)}`
      )
    }
  }
  const orchRate = median(orch.map((run) => run.jobs / run.seconds))
  console.log(`  orch cpu per job: median ${median(orch.map((run) => run.cpuMicros / run.jobs)).toFixed(1)} µs`)
  if (!withBullmq) {
    console.log(`  BullMQ skipped: ${args["skip-bullmq"] ? "--skip-bullmq" : "Redis does not answer at 127.0.0.1:6379"}`)
    console.log(`queue-worker: orch=${orchRate.toFixed(0)} bullmq=skipped backend=${backend}`)
    return
  }
  const bullmqRate = median(bullmq.map((run) => run.jobs / run.seconds))
  console.log(
    `  bullmq cpu per job: median ${median(bullmq.map((run) => run.cpuMicros / run.jobs)).toFixed(1)} µs in node,` +
      ` ${median(bullmq.map((run) => (run.cpuMicros + run.redisCpuMicros) / run.jobs)).toFixed(1)} µs with redis`
  )
  console.log(
    `queue-worker: orch=${orchRate.toFixed(0)} bullmq=${bullmqRate.toFixed(0)} ratio=${(orchRate / bullmqRate).toFixed(2)} backend=${backend}`
  )
})

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const report = (title: string, results: ReadonlyArray<Run & { readonly load: number }>) => {
  console.log(`\n${title}`)
  results.forEach((run, i) => {
    const perJob = (µs: number) => (µs / run.jobs).toFixed(0)
    console.log(
      `  run ${i + 1}: ${(run.jobs / run.seconds).toFixed(0)} jobs/s (${run.jobs} jobs in ${run.seconds.toFixed(2)} s),` +
        ` cpu per job ${perJob(run.cpu.user + run.cpu.system)} µs, load average ${run.load.toFixed(2)}` +
        perJobStatements(run.sent, run.jobs)
    )
    console.log(`    enqueue→done               ${run.endToEnd.summary()}`)
    for (const [label, samples] of run.calls) console.log(`    ${label.padEnd(26)} ${samples.summary()}`)
  })
  const rates = results.map((run) => run.jobs / run.seconds)
  const p50s = results.map((run) => run.endToEnd.percentile(50))
  const p99s = results.map((run) => run.endToEnd.percentile(99))
  const spread = (values: ReadonlyArray<number>, digits: number) =>
    `median ${median(values).toFixed(digits)} (min ${Math.min(...values).toFixed(digits)}, max ${Math.max(...values).toFixed(digits)})`
  console.log(`  over ${results.length} runs: jobs/s ${spread(rates, 0)}`)
  console.log(`    enqueue→done p50 ms ${spread(p50s, 3)}; p99 ms ${spread(p99s, 3)}`)
}

/** `runs` runs, each over a fresh file, each with the load average when it ended. */
const repeat = <E>(run: Effect.Effect<Run, E, Jobs.JobQueue | SqlClient.SqlClient>) =>
  Effect.forEach(Array.from({ length: runs }, (_, i) => i), () =>
    Effect.map(Effect.provide(Effect.orDie(run), freshQueue()), (result) => ({ ...result, load: os.loadavg()[0] })))

const main = Effect.gen(function*() {
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)} at start,` +
      (backend === "postgres"
        ? ` PostgreSQL at ${new URL(postgresUrl).host} (a fresh database per run, READ COMMITTED)`
        : ` SQLite WAL synchronous=NORMAL`) +
      `; every call returns after its commit`
  )
  if (selected("pipeline")) {
    report(
      `per-job pipeline: ${jobCount} jobs; ${producers} producers enqueue one job per call; ${workers} workers claim up to` +
        ` ${batch} per call and complete one job per call (${completeConcurrency} at a time)`,
      yield* repeat(pipeline)
    )
  }
  if (selected("batched")) {
    report(
      `batched pipeline: ${batchedJobCount} jobs; ${producers} producers enqueue ${enqueueBatch} jobs per enqueueMany;` +
        ` ${workers} workers claim up to ${claimBatch} per call and complete them with one transitionMany`,
      yield* repeat(batchedPipeline(undefined))
    )
  }
  if (selected("paced")) {
    report(
      `paced batched pipeline: the batched pipeline with producers sending their batches at a steady ${rate} jobs/s` +
        ` in all: enqueue→done is a job's latency at that load`,
      yield* repeat(batchedPipeline(rate))
    )
  }
  if (selected("lone")) {
    report(`lone job: ${Math.min(jobCount, 2000)} jobs one at a time (enqueue, claim 1, complete)`, yield* repeat(loneJob))
  }
  // last: its last line is the comparison
  if (selected("worker")) yield* workerComparison
  if (backend === "postgres") yield* Effect.promise(() => BenchPostgres.dropAll(postgresUrl))
})

Effect.runPromise(main).catch((error) => {
  console.error(error)
  process.exit(1)
})
