import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, MetricLabel, Schema, TestClock } from "effect"
import { type Job, JobKind, JobQueue } from "../src/Jobs.js"
import * as JobWorker from "../src/JobWorker.js"
import { waitUntil } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"

const Work = JobKind.simple({
  plugin: "test",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number }),
  result: Schema.Struct({ doubled: Schema.Number }),
  retry: { maxAttempts: 3, initialDelay: "1 second", maxDelay: "10 seconds", jitter: 0 }
})

/** The watchdog's shape: submit, then poll until the test is finished. */
const Wpt = JobKind.make({
  plugin: "test",
  name: "wpt",
  payload: Schema.Struct({ url: Schema.String }),
  result: Schema.Struct({ testId: Schema.String }),
  states: ["AWAITING", "SUBMITTED", "FINISHED", "ERROR", "CANCELLED", "DEAD"],
  initial: "AWAITING",
  transitions: { AWAITING: ["SUBMITTED", "ERROR"], SUBMITTED: ["FINISHED", "ERROR"] },
  claimable: ["AWAITING", "SUBMITTED"],
  dead: "DEAD",
  cancelled: "CANCELLED"
})

/** Runs `effect` with a queue on a fresh database; its workers (forkScoped) stop before the queue closes. */
const withQueueOn = (backend: Backend) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(Effect.scoped(effect), JobQueue.layer([Work, Wpt]).pipe(Layer.provideMerge(backend.database())))

const owner = "test-host:1:test"

const workLabels = [MetricLabel.make("plugin", "test"), MetricLabel.make("kind", "work")]
const metricsNow = () => ({
  completed: JobWorker.jobsCompleted.unsafeValue(workLabels).count,
  handled: JobWorker.handlerDuration.unsafeValue(workLabels).count,
  retried: JobWorker.jobsFailed.unsafeValue([...workLabels, MetricLabel.make("outcome", "retry")]).count,
  dead: JobWorker.jobsFailed.unsafeValue([...workLabels, MetricLabel.make("outcome", "dead")]).count
})

const stateOf = (id: number) => Effect.map(Effect.flatMap(JobQueue, (queue) => queue.get(id)), (job) => job.state)

const historyOf = (id: number) => Effect.flatMap(JobQueue, (queue) => queue.history(id))

/** Lets the clock run in steps, so that every timer due on the way fires in turn. */
const advance = (ms: number, step = 100) =>
  Effect.gen(function*() {
    for (let t = 0; t < ms; t += step) {
      yield* TestClock.adjust(step)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
    }
  })

describeBackends("JobWorker", (backend) => {
  const withQueue = withQueueOn(backend)
  it.effect("calls the handler once per job and records each result", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const calls: Array<number> = []
      const before = metricsNow()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 4,
        handler: (job) => Effect.sync(() => (calls.push(job.payload.n), { doubled: job.payload.n * 2 }))
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const enqueued = yield* queue.enqueueMany(Work, Array.from({ length: 25 }, (_, n) => ({ payload: { n } })))
      yield* waitUntil("every job succeeded", Effect.map(queue.countByState(), (counts) =>
        counts.some((c) => c.state === "succeeded" && c.count === 25)))
      expect([...calls].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, n) => n))
      const after = metricsNow()
      expect(after.completed - before.completed).toBe(25)
      expect(after.handled - before.handled).toBe(25)
      for (const { job } of enqueued) {
        const after = yield* queue.get(job.id)
        expect(after.result).toEqual({ doubled: job.payload.n * 2 })
        expect(after.attempts).toBe(0)
        expect(after.leaseOwner).toBeUndefined()
        const history = yield* queue.history(job.id)
        expect(history.map((h) => [h.from, h.to, h.owner, h.reason])).toEqual([
          [undefined, "queued", undefined, "enqueued"],
          ["queued", "succeeded", owner, "done"]
        ])
      }
    })))

  it.effect("retries a failing job after its backoff, then sends it to its dead state", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      let calls = 0
      const before = metricsNow()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 2,
        handler: () => Effect.suspend(() => Effect.fail(new Error(`attempt ${++calls} went wrong`)))
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      yield* waitUntil("the first attempt failed", Effect.map(queue.get(job.id), (j) => j.attempts === 1))
      const first = yield* queue.get(job.id)
      expect(first.state).toBe("queued")
      expect(first.runAt).toBe(1_000)
      expect(first.lastError).toBe("attempt 1 went wrong")
      // not due yet: nothing happens before the backoff is over
      yield* advance(900)
      expect(calls).toBe(1)
      yield* advance(200)
      yield* waitUntil("the second attempt failed", Effect.map(queue.get(job.id), (j) => j.attempts === 2))
      expect((yield* queue.get(job.id)).runAt).toBeGreaterThanOrEqual(3_000)
      yield* advance(2_100)
      yield* waitUntil("the job is dead", Effect.map(stateOf(job.id), (state) => state === "dead"))
      expect(calls).toBe(3)
      const history = yield* historyOf(job.id)
      expect(history.map((h) => h.to)).toEqual(["queued", "queued", "queued", "dead"])
      expect(history[3].reason).toContain("attempt 3 of 3 failed, none left: attempt 3 went wrong")
      const after = metricsNow()
      expect([after.retried - before.retried, after.dead - before.dead]).toEqual([2, 1])
    })))

  it.effect("a non-retryable failure goes straight to the dead state; a defect counts as a failure", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 2,
        handler: (job) =>
          job.payload.n === 0
            ? JobWorker.failNonRetryable("the payload names no such host")
            : job.payload.n === 1
            ? Effect.die(new Error("boom"))
            : Effect.succeed({ doubled: 4 })
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const [fatal, defect, fine] = yield* queue.enqueueMany(Work, [{ payload: { n: 0 } }, { payload: { n: 1 } }, {
        payload: { n: 2 }
      }])
      yield* waitUntil("all three are recorded", Effect.map(queue.list({ kind: "work" }), (jobs) =>
        jobs.every((j) => j.state !== "queued" || j.attempts > 0)))
      const dead = yield* queue.get(fatal.job.id)
      expect(dead.state).toBe("dead")
      expect(dead.attempts).toBe(1)
      expect(dead.lastError).toBe("the payload names no such host")
      expect((yield* historyOf(fatal.job.id))[1].reason).toContain("failed, not retryable")
      const retried = yield* queue.get(defect.job.id)
      expect(retried.state).toBe("queued")
      expect(retried.attempts).toBe(1)
      expect(retried.lastError).toBe("boom")
      // the worker survived the defect
      expect(yield* stateOf(fine.job.id)).toBe("succeeded")
    })))

  it.effect("runs a state machine: transitions with results, releases to poll again later", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      let polls = 0
      const polledAt: Array<number> = []
      const worker = JobWorker.make({
        kind: Wpt,
        concurrency: 1,
        pollInterval: "1 second",
        handler: (job) =>
          Effect.map(TestClock.currentTimeMillis, (now) => {
            if (job.state === "AWAITING") return JobWorker.transition("SUBMITTED", { reason: "submitted" })
            polledAt.push(now)
            return ++polls < 3
              ? JobWorker.release({ delay: "30 seconds", reason: `poll ${polls}: still running` })
              : JobWorker.transition("FINISHED", { result: { testId: "t-1" }, reason: "finished" })
          })
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const { job } = yield* queue.enqueue(Wpt, { url: "https://example.com" })
      yield* waitUntil("it was submitted", Effect.map(historyOf(job.id), (h) => h.length >= 2))
      // the next claim (at once, or at the next poll) finds it in SUBMITTED
      yield* advance(1_000, 1_000)
      yield* waitUntil("the first release committed", Effect.map(historyOf(job.id), (h) => h.length === 3))
      expect(polls).toBe(1)
      expect((yield* queue.get(job.id)).runAt).toBe(polledAt[0] + 30_000)
      yield* advance(31_000, 1_000)
      yield* waitUntil("the second release committed", Effect.map(historyOf(job.id), (h) => h.length === 4))
      expect(polls).toBe(2)
      yield* advance(31_000, 1_000)
      yield* waitUntil("it finished", Effect.map(stateOf(job.id), (state) => state === "FINISHED"))
      const done = yield* queue.get(job.id)
      expect(done.result).toEqual({ testId: "t-1" })
      expect(done.attempts).toBe(0)
      expect((yield* historyOf(job.id)).map((h) => [h.from, h.to, h.reason])).toEqual([
        [undefined, "AWAITING", "enqueued"],
        ["AWAITING", "SUBMITTED", "submitted"],
        ["SUBMITTED", "SUBMITTED", "poll 1: still running"],
        ["SUBMITTED", "SUBMITTED", "poll 2: still running"],
        ["SUBMITTED", "FINISHED", "finished"]
      ])
    })))

  it.effect("a transition to an error state of the kind's own records its error, per job of a batch", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const worker = JobWorker.make({
        kind: Wpt,
        concurrency: 4,
        handler: (job) =>
          Effect.succeed(
            job.payload.url === "fine"
              ? JobWorker.transition("SUBMITTED", { reason: "tested" })
              : JobWorker.transition("ERROR", { reason: "tested", error: `${job.payload.url} was refused` })
          )
      })
      const jobs = yield* queue.enqueueMany(Wpt, ["fine", "a", "b"].map((url) => ({ payload: { url } })))
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      yield* waitUntil("all are recorded", Effect.map(Effect.forEach(jobs, ({ job }) => stateOf(job.id)), (states) =>
        !states.includes("AWAITING")))
      const [fine, a, b] = yield* Effect.forEach(jobs, ({ job }) => queue.get(job.id))
      expect([fine!.state, fine!.lastError]).toEqual(["SUBMITTED", undefined])
      expect([a!.state, a!.lastError, a!.attempts]).toEqual(["ERROR", "a was refused", 0])
      expect([b!.state, b!.lastError]).toEqual(["ERROR", "b was refused"])
    })))

  it.effect("an outcome the state machine forbids sends that job to its dead state, and only that job", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const worker = JobWorker.make({
        kind: Wpt,
        concurrency: 4,
        // the submitter's half only: SUBMITTED jobs are another worker's
        states: ["AWAITING"],
        handler: (job) =>
          Effect.succeed(
            job.payload.url === "bad"
              ? JobWorker.transition("FINISHED", { result: { testId: "x" } })
              : JobWorker.transition("SUBMITTED")
          )
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const [good, bad] = yield* queue.enqueueMany(Wpt, [{ payload: { url: "good" } }, { payload: { url: "bad" } }])
      yield* waitUntil("both are recorded", Effect.map(Effect.all([stateOf(good.job.id), stateOf(bad.job.id)]), (states) =>
        !states.includes("AWAITING")))
      expect(yield* stateOf(good.job.id)).toBe("SUBMITTED")
      const dead = yield* queue.get(bad.job.id)
      expect(dead.state).toBe("DEAD")
      expect(dead.lastError).toContain("may not go from AWAITING to FINISHED")
    })))

  it.effect("a handler whose job is cancelled is interrupted at the next heartbeat and nothing is recorded", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 1,
        leaseMs: 1_000,
        handler: (job) =>
          job.payload.n === 2 ? Effect.succeed({ doubled: 4 }) : Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      yield* Deferred.await(started)
      yield* queue.cancel(job.id, "no longer wanted")
      // half the lease gone: the heartbeat finds the lease lost
      yield* advance(600)
      yield* Deferred.await(interrupted)
      expect(yield* stateOf(job.id)).toBe("cancelled")
      expect((yield* historyOf(job.id)).map((h) => h.to)).toEqual(["queued", "cancelled"])
      // the slot is free again
      const next = yield* queue.enqueue(Work, { n: 2 })
      yield* waitUntil("the next job ran", Effect.map(stateOf(next.job.id), (state) => state === "succeeded"))
    })))

  it.effect("a handler that finishes after its lease was taken over records nothing over the new holder", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 1,
        handler: () => Effect.as(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), { doubled: 1 })
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      yield* Deferred.await(started)
      // someone cancels it, retries it and another worker takes it, while the handler still runs
      yield* queue.cancel(job.id, "cancelled by a person")
      yield* queue.retry(job.id, "retried by a person")
      const [taken] = yield* queue.claim(Work, { owner: "thief", leaseMs: 60_000 })
      expect(taken.id).toBe(job.id)
      yield* Deferred.succeed(gate, undefined)
      // the worker's completion is refused; the thief's lease stands. With one slot, the next
      // job runs (and its outcome commits) only after the first handler's outcome was tried
      const next = yield* queue.enqueue(Work, { n: 99 })
      yield* waitUntil("the next job ran", Effect.map(stateOf(next.job.id), (state) => state === "succeeded"))
      const now = yield* queue.get(job.id)
      expect(now.state).toBe("queued")
      expect(now.leaseOwner).toBe("thief")
      expect(now.token).toBe(taken.token)
      expect(now.result).toBeUndefined()
      yield* queue.transition(taken, "succeeded", { reason: "thief done", result: { doubled: 7 } })
      const history = yield* historyOf(job.id)
      expect(history.filter((h) => h.to === "succeeded").map((h) => h.owner)).toEqual(["thief"])
    })))

  it.effect("heartbeats keep a long job's lease while it runs", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const started = yield* Deferred.make<number>()
      const gate = yield* Deferred.make<void>()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 1,
        leaseMs: 1_000,
        handler: (job) => Effect.as(Effect.zipRight(Deferred.succeed(started, job.token!), Deferred.await(gate)), { doubled: 2 })
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      const token = yield* Deferred.await(started)
      const firstLease = (yield* queue.get(job.id)).leaseExpiresAt!
      expect(firstLease).toBe(1_000)
      // five leases' worth of time, in steps shorter than a heartbeat's interval; after each
      // step, the heartbeat due (if any) is given time to commit before the clock moves on
      for (let step = 0; step < 40; step++) {
        yield* TestClock.adjust(125)
        const now = yield* TestClock.currentTimeMillis
        yield* waitUntil("the lease is ahead of the clock", Effect.map(queue.get(job.id), (j) => j.leaseExpiresAt! - now > 250))
      }
      const now = yield* TestClock.currentTimeMillis
      const held = yield* queue.get(job.id)
      expect(held.leaseExpiresAt!).toBeGreaterThan(now)
      // the same lease, extended: never given up and granted again
      expect(held.token).toBe(token)
      expect(yield* queue.reclaimExpired()).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      yield* waitUntil("it succeeded", Effect.map(stateOf(job.id), (state) => state === "succeeded"))
      const done = yield* queue.get(job.id)
      expect(done.attempts).toBe(0)
      expect(done.result).toEqual({ doubled: 2 })
    })))

  it.effect("wakes on an enqueue without waiting for its poll interval", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const seen: Array<number> = []
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 1,
        // the test clock never moves: only a wake-up can start the jobs
        pollInterval: "1 hour",
        handler: (job) => Effect.sync(() => (seen.push(job.payload.n), { doubled: 0 }))
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      // the worker's first claim found nothing and it waits
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      yield* queue.enqueue(Work, { n: 1 })
      yield* waitUntil("the first job ran", Effect.sync(() => seen.length === 1))
      yield* queue.enqueueMany(Work, [{ payload: { n: 2 } }, { payload: { n: 3 } }])
      yield* waitUntil("the others ran", Effect.sync(() => seen.length === 3))
      expect(seen).toEqual([1, 2, 3])
    })))

  it.effect("never runs more handlers at once than its concurrency, nor claims more than its free slots", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      let active = 0
      let most = 0
      // claimed jobs whose handler has not started yet, plus the handlers running
      let mostInFlight = 0
      const started = new Set<number>()
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 3,
        handler: (job) =>
          Effect.gen(function*() {
            started.add(job.id)
            active++
            most = Math.max(most, active)
            const leased = yield* sql<{ id: number }>`SELECT id FROM orch_jobs WHERE lease_token IS NOT NULL`
            // a job whose handler ended may still be leased until its outcome commits: not counted
            const waiting = leased.filter((row) => !started.has(row.id)).length
            mostInFlight = Math.max(mostInFlight, waiting + active)
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 3)))
            active--
            return { doubled: 0 }
          }).pipe(Effect.orDie)
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      yield* queue.enqueueMany(Work, Array.from({ length: 20 }, (_, n) => ({ payload: { n } })))
      yield* waitUntil("every job succeeded", Effect.map(queue.countByState(), (counts) =>
        counts.some((c) => c.state === "succeeded" && c.count === 20)))
      expect(most).toBe(3)
      expect(mostInFlight).toBe(3)
    })))

  it.effect("on interruption stops claiming, lets running handlers finish and records them before it returns", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const gate = yield* Deferred.make<void>()
      let started = 0
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 5,
        handler: (job) =>
          Effect.zipRight(Effect.sync(() => started++), Effect.as(Deferred.await(gate), { doubled: job.payload.n }))
      })
      const fiber = yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const jobs = yield* queue.enqueueMany(Work, Array.from({ length: 8 }, (_, n) => ({ payload: { n } })))
      yield* waitUntil("five handlers run", Effect.sync(() => started === 5))
      const stopping = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stopping)
      // recorded before the worker returned; no job was claimed after the stop began
      const states = yield* Effect.forEach(jobs, ({ job }) => stateOf(job.id))
      expect(states.filter((s) => s === "succeeded")).toHaveLength(5)
      expect(states.filter((s) => s === "queued")).toHaveLength(3)
      expect(started).toBe(5)
    })))

  it.effect("on interruption releases the jobs of handlers that outlast the grace period", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      let started = 0
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 2,
        gracePeriod: "5 seconds",
        handler: () => Effect.zipRight(Effect.sync(() => started++), Effect.never)
      })
      const fiber = yield* Effect.forkScoped(JobWorker.run(worker, { owner }))
      const jobs = yield* queue.enqueueMany(Work, [{ payload: { n: 1 } }, { payload: { n: 2 } }])
      yield* waitUntil("both run", Effect.sync(() => started === 2))
      const stopping = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* advance(5_100)
      yield* Fiber.join(stopping)
      for (const { job } of jobs) {
        const after = yield* queue.get(job.id)
        expect(after.state).toBe("queued")
        expect(after.token).toBeUndefined()
        expect(after.attempts).toBe(0)
        expect((yield* historyOf(job.id)).at(-1)!.reason).toContain("stopped before the handler finished")
      }
    })))

  it.effect("a drain (stopWhen) begins the stop at once: no claim after it, handlers get their grace from then, and the interruption that follows cuts the rest", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const drained = yield* Deferred.make<void>()
      const quick = yield* Deferred.make<void>()
      let started = 0
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 2,
        gracePeriod: "10 seconds",
        // job 0 finishes when told; job 1 never does
        handler: (job) =>
          Effect.zipRight(
            Effect.sync(() => started++),
            job.payload.n === 0 ? Effect.as(Deferred.await(quick), { doubled: 0 }) : Effect.never
          )
      })
      const fiber = yield* Effect.forkScoped(JobWorker.run(worker, { owner, stopWhen: Deferred.await(drained) }))
      const [finishing, stuck] = yield* queue.enqueueMany(Work, [{ payload: { n: 0 } }, { payload: { n: 1 } }])
      yield* waitUntil("both run", Effect.sync(() => started === 2))
      yield* Deferred.succeed(drained, undefined)
      const [late] = yield* queue.enqueueMany(Work, [{ payload: { n: 2 } }])
      yield* Deferred.succeed(quick, undefined)
      yield* waitUntil("the finished handler is recorded", Effect.map(stateOf(finishing!.job.id), (s) => s === "succeeded"))
      // the loops' grace runs meanwhile; 3 s later the daemon is interrupted: no second grace
      yield* advance(3_000)
      // still held by its handler, within the 10 s grace
      expect((yield* queue.get(stuck!.job.id)).token).toBeDefined()
      yield* Fiber.interrupt(fiber)
      const after = yield* queue.get(stuck!.job.id)
      expect([after.state, after.token, after.attempts]).toEqual(["queued", undefined, 0])
      expect(yield* stateOf(late!.job.id)).toBe("queued")
      expect(started).toBe(2)
    })))

  it("refuses invalid options", () => {
    const handler = (_: Job<{ readonly n: number }, { readonly doubled: number }, JobKind.SimpleState>) =>
      Effect.succeed({ doubled: 0 })
    expect(() => JobWorker.make({ kind: Work, concurrency: 0, handler })).toThrow(/concurrency/)
    expect(() => JobWorker.make({ kind: Work, concurrency: 1, leaseMs: 0, handler })).toThrow(/leaseMs/)
    expect(() => JobWorker.make({ kind: Wpt, concurrency: 1, states: ["FINISHED"], handler: () => Effect.succeed(JobWorker.release()) }))
      .toThrow(/not claimable/)
  })
})

