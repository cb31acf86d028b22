import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit, Fiber, Layer, Random, Schema, TestClock } from "effect"
import * as Database from "../src/Database.js"
import { IllegalTransition, type Job, JobKind, JobQueue, JobSchemaError, LeaseLost } from "../src/Jobs.js"
import * as Fencing from "../src/sql/fencing.js"
import { type Backend, describeBackends } from "@orch/testing/Backends"

const Work = JobKind.simple({
  plugin: "test",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number }),
  result: Schema.Struct({ ok: Schema.Boolean }),
  retry: { maxAttempts: 3, initialDelay: "1 second", maxDelay: "3 seconds", jitter: 0.5 }
})

/** The watchdog's state machine, as its plugin will declare it. */
const Wpt = JobKind.make({
  plugin: "watchdog",
  name: "wpt",
  payload: Schema.Struct({ url: Schema.String }),
  result: Schema.Struct({ testId: Schema.String }),
  states: ["AWAITING", "SUBMITTED", "FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED", "DEAD"],
  initial: "AWAITING",
  transitions: { AWAITING: ["SUBMITTED", "ERROR_SUBMITTING"], SUBMITTED: ["FINISHED", "ERROR_TESTING"] },
  claimable: ["AWAITING", "SUBMITTED"],
  dead: "DEAD",
  cancelled: "CANCELLED"
})

const layersOn = (backend: Backend) => {
  const queueLayer = (kinds: ReadonlyArray<JobKind.Any> = [Work, Wpt], place?: string) =>
    JobQueue.layer(kinds).pipe(Layer.provideMerge(backend.database(place)))
  const withQueue = <A, E>(effect: Effect.Effect<A, E, JobQueue | SqlClient.SqlClient>) =>
    Effect.provide(effect, queueLayer())
  return { queueLayer, withQueue }
}

const owner = "test-worker"

describe("JobKind", () => {
  const base = {
    plugin: "test",
    name: "bad",
    payload: Schema.Struct({}),
    result: Schema.Struct({})
  }

  it("fills in the defaults and finds the final states", () => {
    expect(Work.claimable).toEqual(["queued"])
    expect(Work.dead).toBe("dead")
    expect(Work.cancelled).toBe("cancelled")
    expect(Work.retryFrom).toEqual(["dead", "cancelled"])
    expect(Work.final).toEqual(["succeeded", "dead", "cancelled"])
    expect(Wpt.final).toEqual(["FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED", "DEAD"])
    expect(JobKind.allows(Wpt, "AWAITING", "SUBMITTED")).toBe(true)
    expect(JobKind.allows(Wpt, "AWAITING", "FINISHED")).toBe(false)
  })

  it("refuses definitions that name states it does not have", () => {
    expect(() =>
      JobKind.make({ ...base, states: ["a", "dead", "cancelled"], initial: "a", transitions: { a: ["b" as "a"] } })
    ).toThrow(/test\/bad: transition a → +"b" is not one of its states/)
    expect(() =>
      JobKind.make({ ...base, states: ["a", "dead", "cancelled"], initial: "z" as "a", transitions: { a: ["dead"] } })
    ).toThrow(/initial state "z"/)
    expect(() => JobKind.make({ ...base, states: ["a", "cancelled"], initial: "a", transitions: { a: ["cancelled"] } }))
      .toThrow(/dead state "dead" is not one of its states/)
    expect(() =>
      JobKind.make({
        ...base,
        states: ["a", "b", "dead", "cancelled"],
        initial: "a",
        transitions: { a: ["b"] },
        claimable: ["b"]
      })
    ).toThrow(/claimable state "b" is final/)
    expect(() =>
      JobKind.make({
        ...base,
        states: ["a", "dead", "cancelled"],
        initial: "a",
        transitions: { a: ["dead"], dead: ["a"] }
      })
    ).toThrow(/"dead" must be final/)
    expect(() =>
      JobKind.make({ ...base, states: ["a", "dead", "cancelled"], initial: "a", transitions: { a: ["dead"] }, retry: { jitter: 2 } })
    ).toThrow(/jitter/)
  })

  it("backs off exponentially up to the cap, shortened by at most the jitter", () => {
    const policy = Work.retry
    expect([1, 2, 3, 4].map((attempt) => JobKind.backoff(policy, attempt, 0))).toEqual([1000, 2000, 3000, 3000])
    expect([1, 2, 3, 4].map((attempt) => JobKind.backoff(policy, attempt, 0.5))).toEqual([750, 1500, 2250, 2250])
  })
})

describeBackends("JobQueue", (backend) => {
  const { queueLayer, withQueue } = layersOn(backend)
  it.effect("enqueue with an idempotency key creates one job per kind", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const first = yield* queue.enqueue(Work, { n: 1 }, { idempotencyKey: "k1" })
      const again = yield* queue.enqueue(Work, { n: 2 }, { idempotencyKey: "k1" })
      expect(first.created).toBe(true)
      expect(again.created).toBe(false)
      expect(again.job.id).toBe(first.job.id)
      expect(again.job.payload).toEqual({ n: 1 })
      const other = yield* queue.enqueue(Wpt, { url: "https://a" }, { idempotencyKey: "k1" })
      expect(other.created).toBe(true)
      const keyless = yield* Effect.all([queue.enqueue(Work, { n: 3 }), queue.enqueue(Work, { n: 3 })])
      expect(keyless[0].job.id).not.toBe(keyless[1].job.id)
      expect(yield* queue.countByState()).toEqual([
        { plugin: "test", kind: "work", state: "queued", count: 3 },
        { plugin: "watchdog", kind: "wpt", state: "AWAITING", count: 1 }
      ])
      expect(yield* queue.history(first.job.id)).toMatchObject([{ from: undefined, to: "queued", reason: "enqueued" }])
    })))

  it.effect("claims by priority, then run_at, then id, and only jobs that are due", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const id = (n: number) => Effect.map(queue.enqueue(Work, { n }, { priority: n === 4 ? 5 : 0, runAt: n === 2 ? 500 : n === 5 ? 10_000 : 0 }), (r) => r.job.id)
      const ids = yield* Effect.all([1, 2, 3, 4, 5].map(id))
      yield* TestClock.setTime(1_000)
      const claimed = yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 10 })
      // 4 has the highest priority; 1 and 3 ran at 0, before 2 at 500; 5 is not due yet
      expect(claimed.map((job) => job.payload.n)).toEqual([4, 1, 3, 2])
      expect(claimed.map((job) => job.id)).toEqual([ids[3], ids[0], ids[2], ids[1]])
      expect(yield* queue.claim(Work, { owner, leaseMs: 60_000 })).toEqual([])
      yield* TestClock.setTime(10_000)
      const [late] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      expect(late.payload.n).toBe(5)
      expect(late.state).toBe("queued")
      expect(late.attempts).toBe(0)
      expect(late.leaseOwner).toBe(owner)
      expect(late.leaseExpiresAt).toBe(70_000)
    })))

  it.effect("refuses a transition the kind does not allow, naming kind, from and to", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueue(Wpt, { url: "https://a" })
      const [job] = yield* queue.claim(Wpt, { owner, leaseMs: 60_000 })
      const error = yield* Effect.flip(queue.transition(job, "FINISHED", { reason: "skip ahead" }))
      expect(error).toBeInstanceOf(IllegalTransition)
      expect(error).toMatchObject({ plugin: "watchdog", kind: "wpt", from: "AWAITING", to: "FINISHED" })
      expect(error.message).toContain("watchdog/wpt")
      expect(error.message).toContain("AWAITING to FINISHED")
      expect((yield* queue.get(job.id)).state).toBe("AWAITING")
      expect(yield* queue.history(job.id)).toHaveLength(1)
    })))

  it.effect("walks the watchdog's states: submit keeping the lease, poll by claiming again, finish", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueue(Wpt, { url: "https://a" })
      const [awaiting] = yield* queue.claim(Wpt, { owner: "starter", leaseMs: 60_000, states: ["AWAITING"] })
      const submitted = yield* queue.transition(awaiting, "SUBMITTED", {
        reason: "submitted to WPT",
        result: { testId: "T1" },
        keepLease: true
      })
      expect(submitted).toMatchObject({ state: "SUBMITTED", token: awaiting.token, result: { testId: "T1" } })
      yield* queue.release(submitted, { runAt: 30_000 })
      // the finisher polls: claiming is neither an attempt nor a change of state
      expect(yield* queue.claim(Wpt, { owner: "finisher", leaseMs: 60_000, states: ["SUBMITTED"] })).toEqual([])
      let tokens: Array<number> = []
      for (let poll = 1; poll <= 3; poll++) {
        yield* TestClock.setTime(poll * 30_000)
        const [held] = yield* queue.claim(Wpt, { owner: "finisher", leaseMs: 60_000, states: ["SUBMITTED"] })
        expect(held).toMatchObject({ state: "SUBMITTED", attempts: 0, result: { testId: "T1" } })
        tokens = [...tokens, held.token!]
        if (poll < 3) yield* queue.release(held, { runAt: (poll + 1) * 30_000 })
        else yield* queue.transition(held, "FINISHED", { reason: "result ready", result: { testId: "T1" } })
      }
      expect(tokens).toEqual([...tokens].sort((a, b) => a - b))
      const job = yield* queue.get(awaiting.id)
      expect(job).toMatchObject({ state: "FINISHED", attempts: 0, token: undefined, leaseOwner: undefined })
      const history = yield* queue.history(awaiting.id)
      expect(history.map((h) => [h.from, h.to, h.owner])).toEqual([
        [undefined, "AWAITING", undefined],
        ["AWAITING", "SUBMITTED", "starter"],
        ["SUBMITTED", "FINISHED", "finisher"]
      ])
      expect(history[2].token).toBe(tokens[2])
    })))

  it.effect("a holder's compare-and-set fails once the job is cancelled", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueue(Work, { n: 1 })
      const [job] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      const cancelled = yield* queue.cancel(job.id, "operator: not needed")
      expect(cancelled).toMatchObject({ state: "cancelled", token: undefined })
      const lost = yield* Effect.flip(queue.transition(job, "succeeded", { reason: "done", result: { ok: true } }))
      expect(lost).toBeInstanceOf(LeaseLost)
      expect(lost.message).toContain("cancelled")
      expect((yield* Effect.flip(queue.heartbeat(job, 1000)))._tag).toBe("LeaseLost")
      expect((yield* Effect.flip(queue.fail(job, "boom")))._tag).toBe("LeaseLost")
      expect((yield* queue.get(job.id)).state).toBe("cancelled")
      const history = yield* queue.history(job.id)
      expect(history.map((h) => [h.from, h.to])).toEqual([[undefined, "queued"], ["queued", "cancelled"]])
      expect(history[1].reason).toBe(`operator: not needed (lease of ${owner}, token ${job.token}, revoked)`)
      // a final job cannot be cancelled again
      const again = yield* Effect.flip(queue.cancel(job.id, "twice"))
      expect(again).toMatchObject({ _tag: "IllegalTransition", from: "cancelled", to: "cancelled" })
      expect((yield* Effect.flip(queue.cancel(9999, "none")))._tag).toBe("JobNotFound")
    })))

  it.effect("an expired lease taken by another claimer makes the first holder's changes fail", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueue(Work, { n: 1 })
      const [first] = yield* queue.claim(Work, { owner: "a", leaseMs: 1_000 })
      expect(yield* queue.claim(Work, { owner: "b", leaseMs: 1_000 })).toEqual([])
      yield* TestClock.adjust("1001 millis")
      const [second] = yield* queue.claim(Work, { owner: "b", leaseMs: 1_000 })
      expect(second.id).toBe(first.id)
      expect(second.token!).toBeGreaterThan(first.token!)
      expect(second.attempts).toBe(1)
      const lost = yield* Effect.flip(queue.transition(first, "succeeded", { reason: "late", result: { ok: true } }))
      expect(lost._tag).toBe("LeaseLost")
      expect(lost.message).toContain(`held by b with token ${second.token}`)
      expect((yield* Effect.flip(queue.heartbeat(first, 1_000)))._tag).toBe("LeaseLost")
      expect((yield* Effect.flip(queue.release(first)))._tag).toBe("LeaseLost")
      yield* queue.transition(second, "succeeded", { reason: "done", result: { ok: true } })
      const history = yield* queue.history(first.id)
      expect(history.map((h) => [h.from, h.to, h.owner, h.token])).toEqual([
        [undefined, "queued", undefined, undefined],
        ["queued", "queued", "a", first.token],
        ["queued", "succeeded", "b", second.token]
      ])
      expect(history[1].reason).toContain("expired")
    })))

  it.effect("fencing tokens strictly increase across grants and across reopening the file", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      const grantTokens = Effect.gen(function*() {
        const queue = yield* JobQueue
        yield* Effect.forEach([1, 2, 3], (n) => queue.enqueue(Work, { n }))
        const tokens: Array<number> = []
        for (let round = 0; round < 3; round++) {
          const jobs = yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 3 })
          tokens.push(...jobs.map((job) => job.token!))
          yield* Effect.forEach(jobs, (job) => queue.release(job))
        }
        yield* Effect.forEach(yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 3 }), (job) =>
          queue.transition(job, "succeeded", { reason: "done", result: { ok: true } }))
        return tokens
      })
      const before = yield* Effect.provide(grantTokens, queueLayer([Work], filename))
      const after = yield* Effect.provide(grantTokens, queueLayer([Work], filename))
      const all = [...before, ...after]
      expect(all).toHaveLength(18)
      for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1])
    }))

  it.effect("enqueueMany inserts a batch, honouring idempotency keys per item and within the batch", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      const before = yield* queue.enqueueMany(Work, [
        { payload: { n: 1 }, options: { idempotencyKey: "a" } },
        { payload: { n: 2 }, options: { idempotencyKey: "b" } }
      ])
      expect(before.map((r) => r.created)).toEqual([true, true])
      yield* TestClock.setTime(5_000)
      const results = yield* queue.enqueueMany(Work, [
        { payload: { n: 10 }, options: { idempotencyKey: "new-1", priority: 3 } },
        { payload: { n: 11 }, options: { idempotencyKey: "a" } },
        { payload: { n: 12 } },
        { payload: { n: 12 } },
        { payload: { n: 13 }, options: { idempotencyKey: "new-1" } },
        { payload: { n: 14 }, options: { idempotencyKey: "b", runAt: 9_000 } },
        { payload: { n: 15 }, options: { idempotencyKey: "new-2", runAt: 7_000, maxAttempts: 1 } }
      ])
      expect(results.map((r) => [r.created, r.job.payload.n])).toEqual([
        [true, 10],
        [false, 1],
        [true, 12],
        [true, 12],
        [false, 10],
        [false, 2],
        [true, 15]
      ])
      // an existing key returns the job enqueued first; the first item with a new key wins over later ones
      expect(results[1].job.id).toBe(before[0].job.id)
      expect(results[5].job.id).toBe(before[1].job.id)
      expect(results[4].job.id).toBe(results[0].job.id)
      expect(results[2].job.id).not.toBe(results[3].job.id)
      expect(results[0].job).toMatchObject({ state: "queued", priority: 3, runAt: 5_000, idempotencyKey: "new-1", createdAt: 5_000 })
      expect(results[6].job).toMatchObject({ runAt: 7_000, maxAttempts: 1, attempts: 0, token: undefined })
      expect(results[1].job).toMatchObject({ createdAt: 0, idempotencyKey: "a" })
      // each stored row is the one its item describes
      for (const { job } of results) expect((yield* queue.get(job.id)).payload).toEqual(job.payload)
      expect(yield* queue.countByState()).toEqual([{ plugin: "test", kind: "work", state: "queued", count: 6 }])
      // one "enqueued" history row per job created, none for the items that found theirs
      const history = yield* sql<{ job_id: number; n: number }>`SELECT job_id, COUNT(*) AS n FROM orch_job_history GROUP BY job_id`
      expect(history).toHaveLength(6)
      expect(history.every((row) => row.n === 1)).toBe(true)
      expect(yield* queue.enqueueMany(Work, [])).toEqual([])
    })))

  it.effect("enqueueMany writes nothing when a payload does not encode or a keyed job no longer decodes", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      const bad = yield* Effect.flip(queue.enqueueMany(Work, [{ payload: { n: 1 } }, { payload: { n: "two" as unknown as number } }]))
      expect(bad).toBeInstanceOf(JobSchemaError)
      expect(bad.message).toContain("item 1")
      const { job } = yield* queue.enqueue(Work, { n: 3 }, { idempotencyKey: "old" })
      yield* sql`UPDATE orch_jobs SET payload = ${JSON.stringify({ n: "three" })} WHERE id = ${job.id}`
      const stale = yield* Effect.flip(queue.enqueueMany(Work, [
        { payload: { n: 4 }, options: { idempotencyKey: "fresh" } },
        { payload: { n: 5 }, options: { idempotencyKey: "old" } },
        { payload: { n: 6 } }
      ]))
      expect(stale).toMatchObject({ _tag: "JobSchemaError", jobId: job.id })
      expect((yield* queue.list()).map((j) => j.id)).toEqual([job.id])
      expect(yield* queue.history(job.id)).toHaveLength(1)
    })))

  it.effect("transitionMany moves the jobs still held and reports the one whose lease was lost", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueueMany(Work, [1, 2, 3, 4].map((n) => ({ payload: { n } })))
      const held = yield* queue.claim(Work, { owner: "a", leaseMs: 1_000, limit: 4 })
      expect(held.map((job) => job.payload.n)).toEqual([1, 2, 3, 4])
      // the second job's lease expires and another worker takes it; the fourth is cancelled
      yield* queue.heartbeat(held[0], 10_000)
      yield* queue.heartbeat(held[2], 10_000)
      yield* TestClock.adjust("2 seconds")
      const [taken] = yield* queue.claim(Work, { owner: "b", leaseMs: 10_000 })
      expect(taken.id).toBe(held[1].id)
      yield* queue.cancel(held[3].id, "not needed")
      const outcomes = yield* queue.transitionMany(
        held.map((job) => ({ job, result: { ok: job.payload.n !== 3 } })),
        "succeeded",
        { reason: "batch done" }
      )
      expect(outcomes.map(Either.isRight)).toEqual([true, false, true, false])
      const [first, lost, third, cancelled] = outcomes
      expect(Either.getOrThrow(first)).toMatchObject({ id: held[0].id, state: "succeeded", result: { ok: true }, token: undefined })
      expect(Either.getOrThrow(third)).toMatchObject({ id: held[2].id, state: "succeeded", result: { ok: false } })
      const lostError = Either.flip(lost).pipe(Either.getOrThrow)
      expect(lostError).toBeInstanceOf(LeaseLost)
      expect(lostError).toMatchObject({ jobId: held[1].id, token: held[1].token })
      expect(lostError.message).toContain(`held by b with token ${taken.token}`)
      expect(Either.flip(cancelled).pipe(Either.getOrThrow).message).toContain("it is now cancelled")
      // the stored rows and the history agree
      expect(yield* queue.get(held[0].id)).toMatchObject({ state: "succeeded", result: { ok: true } })
      expect(yield* queue.get(held[1].id)).toMatchObject({ state: "queued", leaseOwner: "b", token: taken.token })
      expect((yield* queue.get(held[2].id)).result).toEqual({ ok: false })
      for (const job of [held[0], held[2]]) {
        expect((yield* queue.history(job.id)).map((h) => [h.from, h.to, h.reason, h.owner, h.token])).toEqual([
          [undefined, "queued", "enqueued", undefined, undefined],
          ["queued", "succeeded", "batch done", "a", job.token]
        ])
      }
      expect((yield* queue.history(held[1].id)).map((h) => h.to)).toEqual(["queued", "queued"])
      // the new holder still completes it
      yield* queue.transition(taken, "succeeded", { reason: "done by b", result: { ok: true } })
    })))

  it.effect("transitionMany refuses the whole batch when one move is illegal, keeps leases, reports unleased jobs", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueueMany(Wpt, [{ payload: { url: "https://a" } }, { payload: { url: "https://b" } }])
      const [a, b] = yield* queue.claim(Wpt, { owner, leaseMs: 60_000, limit: 2 })
      const illegal = yield* Effect.flip(queue.transitionMany([{ job: b }, { job: a }], "FINISHED", { reason: "skip ahead" }))
      expect(illegal).toMatchObject({ _tag: "IllegalTransition", jobId: b.id, from: "AWAITING", to: "FINISHED" })
      expect((yield* queue.list()).map((job) => job.state)).toEqual(["AWAITING", "AWAITING"])
      const submitted = yield* queue.transitionMany(
        [{ job: a, result: { testId: "A" } }, { job: b, result: { testId: "B" } }],
        "SUBMITTED",
        { reason: "submitted", keepLease: true }
      )
      const [sa, sb] = submitted.map(Either.getOrThrow)
      expect(sa).toMatchObject({ state: "SUBMITTED", token: a.token, leaseOwner: owner, result: { testId: "A" } })
      expect(sb).toMatchObject({ state: "SUBMITTED", token: b.token, leaseOwner: owner, result: { testId: "B" } })
      // a job passed without its lease is reported and the other moves; FINISHED is final, so no lease is kept
      const [unleased, finished] = yield* queue.transitionMany(
        [{ job: { ...sa, token: undefined } }, { job: sb, error: "slow run" }],
        "FINISHED",
        { reason: "finished", keepLease: true }
      )
      expect(Either.flip(unleased).pipe(Either.getOrThrow).message).toBe(`job ${a.id} is not leased`)
      expect(Either.getOrThrow(finished)).toMatchObject({
        state: "FINISHED",
        result: { testId: "B" },
        lastError: "slow run",
        token: undefined,
        leaseOwner: undefined
      })
      expect(yield* queue.get(a.id)).toMatchObject({ state: "SUBMITTED", token: a.token })
    })))

  it.effect("fencing tokens granted a batch at a time strictly increase within and across batches", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      const direct = yield* Database.transaction(Effect.gen(function*() {
        const first = yield* Fencing.nextTokens(sql, "test", 3)
        const one = yield* Fencing.nextToken(sql, "test")
        const none = yield* Fencing.nextTokens(sql, "test", 0)
        const second = yield* Fencing.nextTokens(sql, "test", 5)
        return { first, one, none, second }
      }))
      expect(direct).toEqual({ first: [1, 2, 3], one: 4, none: [], second: [5, 6, 7, 8, 9] })

      yield* queue.enqueueMany(Work, Array.from({ length: 20 }, (_, n) => ({ payload: { n } })))
      const tokens: Array<number> = []
      for (const limit of [1, 5, 3, 7, 4]) {
        const jobs = yield* queue.claim(Work, { owner, leaseMs: 60_000, limit })
        expect(jobs).toHaveLength(limit)
        tokens.push(...jobs.map((job) => job.token!))
        // jobs given back are granted again under new, larger tokens
        if (limit === 5) yield* Effect.forEach(jobs, (job) => queue.release(job))
      }
      expect(tokens).toHaveLength(20)
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1])
      const stored = yield* sql<{ value: number }>`SELECT value FROM orch_fencing WHERE domain = 'jobs'`
      expect(stored[0].value).toBe(tokens.at(-1))
    })))

  it.effect("a failure backs off with jitter within bounds, then the job rests dead", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      const delays: Array<number> = []
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [held] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
        expect(held.attempts).toBe(attempt - 1)
        const failedAt = yield* TestClock.currentTimeMillis
        const after = yield* queue.fail(held, new Error(`attempt ${attempt} broke`))
        expect(after.lastError).toBe(`attempt ${attempt} broke`)
        expect(after.token).toBeUndefined()
        if (attempt < 3) {
          expect(after.state).toBe("queued")
          const delay = after.runAt - failedAt
          delays.push(delay)
          // initialDelay 1 s doubling, jitter 0.5 takes off up to half
          const base = 1000 * 2 ** (attempt - 1)
          expect(delay).toBeGreaterThanOrEqual(base / 2)
          expect(delay).toBeLessThanOrEqual(base)
          // not claimable before its time
          yield* TestClock.adjust(delay - 1)
          expect(yield* queue.claim(Work, { owner, leaseMs: 60_000 })).toEqual([])
          yield* TestClock.adjust(1)
        } else {
          expect(after).toMatchObject({ state: "dead", attempts: 3 })
        }
      }
      yield* TestClock.adjust("1 hour")
      expect(yield* queue.claim(Work, { owner, leaseMs: 60_000 })).toEqual([])
      expect(yield* queue.get(job.id)).toMatchObject({ state: "dead", attempts: 3, lastError: "attempt 3 broke" })
      const history = yield* queue.history(job.id)
      expect(history.map((h) => [h.from, h.to])).toEqual([
        [undefined, "queued"],
        ["queued", "queued"],
        ["queued", "queued"],
        ["queued", "dead"]
      ])
      expect(history[1].reason).toMatch(/^attempt 1 of 3 failed: attempt 1 broke; retry at /)
      expect(history[3].reason).toBe("attempt 3 of 3 failed, none left: attempt 3 broke")
    })))

  it.effect("jitter comes from Random: delays vary within [base·(1−jitter), base] and never pass maxDelay", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* Effect.forEach(Array.from({ length: 40 }, (_, n) => n), (n) => queue.enqueue(Work, { n }, { maxAttempts: 10 }))
      const firstDelays: Array<number> = []
      for (const held of yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 40 })) {
        const after = yield* queue.fail(held, "flaky")
        firstDelays.push(after.runAt)
      }
      expect(Math.min(...firstDelays)).toBeGreaterThanOrEqual(500)
      expect(Math.max(...firstDelays)).toBeLessThanOrEqual(1000)
      expect(new Set(firstDelays).size).toBeGreaterThan(10)
      // the fifth failure would be 16 s without the cap: it stays within [1.5 s, 3 s]
      for (let attempt = 2; attempt <= 5; attempt++) {
        yield* TestClock.adjust("1 minute")
        const now = yield* TestClock.currentTimeMillis
        for (const held of yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 40 })) {
          const after = yield* queue.fail(held, "flaky")
          if (attempt === 5) {
            expect(after.runAt - now).toBeGreaterThanOrEqual(1500)
            expect(after.runAt - now).toBeLessThanOrEqual(3000)
          }
        }
      }
    }).pipe(Effect.withRandom(Random.make("jobs-jitter")))))

  it.effect("a failure that is not retryable goes straight to dead", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.enqueue(Work, { n: 1 })
      const [held] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      const after = yield* queue.fail(held, "bad input", { retryable: false })
      expect(after).toMatchObject({ state: "dead", attempts: 1 })
      expect((yield* queue.history(held.id))[1].reason).toBe("failed, not retryable: bad input")
    })))

  it.effect("leases expire on the test clock: heartbeats extend them, reclaim counts the lost attempt", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      const [held] = yield* queue.claim(Work, { owner, leaseMs: 5_000 })
      yield* TestClock.adjust("4 seconds")
      expect(yield* queue.reclaimExpired()).toBe(0)
      // a runner reporting over HTTP knows only the id and its token
      expect(yield* queue.heartbeat({ id: held.id, token: held.token }, 5_000)).toBe(9_000)
      yield* TestClock.adjust("4999 millis")
      expect(yield* queue.reclaimExpired()).toBe(0)
      yield* TestClock.adjust("1 millis")
      expect(yield* queue.reclaimExpired()).toBe(1)
      expect(yield* queue.reclaimExpired()).toBe(0)
      expect(yield* queue.get(job.id)).toMatchObject({ state: "queued", attempts: 1, token: undefined })
      expect((yield* Effect.flip(queue.transition(held, "succeeded", { reason: "late", result: { ok: true } })))._tag)
        .toBe("LeaseLost")
      // two more expiries use up maxAttempts 3: the job goes dead and stays
      for (let i = 0; i < 2; i++) {
        yield* queue.claim(Work, { owner, leaseMs: 1_000 })
        yield* TestClock.adjust("1 second")
        expect(yield* queue.reclaimExpired()).toBe(1)
      }
      expect(yield* queue.get(job.id)).toMatchObject({ state: "dead", attempts: 3 })
      const history = yield* queue.history(job.id)
      expect(history.map((h) => [h.from, h.to, h.owner])).toEqual([
        [undefined, "queued", undefined],
        ["queued", "queued", owner],
        ["queued", "queued", owner],
        ["queued", "dead", owner]
      ])
      expect(history[3].reason).toContain("attempt 3 of 3, none left")
    })))

  it.effect("a stored payload that no longer decodes goes dead instead of breaking claim", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      const ids = yield* Effect.forEach([1, 2, 3, 4], (n) => Effect.map(queue.enqueue(Work, { n }), (r) => r.job.id))
      // as if written by a build whose payload schema differed
      yield* sql`UPDATE orch_jobs SET payload = ${JSON.stringify({ n: "one" })} WHERE id = ${ids[0]}`
      yield* sql`UPDATE orch_jobs SET payload = ${"{not json"} WHERE id = ${ids[2]}`
      const claimed = yield* queue.claim(Work, { owner, leaseMs: 60_000, limit: 2 })
      expect(claimed.map((job) => job.payload.n)).toEqual([2, 4])
      const dead = yield* queue.get(ids[0])
      expect(dead.state).toBe("dead")
      expect(dead.payload).toEqual({ n: "one" })
      expect(dead.lastError).toMatch(/^payload does not decode/)
      expect((yield* queue.get(ids[2])).lastError).toMatch(/^payload is not JSON/)
      expect((yield* queue.history(ids[0])).at(-1)).toMatchObject({ from: "queued", to: "dead" })
      // a person can bring it back once it is fixed
      yield* sql`UPDATE orch_jobs SET payload = ${JSON.stringify({ n: 1 })} WHERE id = ${ids[0]}`
      expect(yield* queue.retry(ids[0], "payload fixed by hand")).toMatchObject({ state: "queued", attempts: 0 })
      const [again] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      expect(again.payload).toEqual({ n: 1 })
    })))

  it.effect("retry brings back dead or cancelled jobs only", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const { job } = yield* queue.enqueue(Work, { n: 1 }, { maxAttempts: 1 })
      const refused = yield* Effect.flip(queue.retry(job.id, "too early"))
      expect(refused).toMatchObject({ _tag: "IllegalTransition", from: "queued", to: "queued" })
      const [held] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      expect(yield* queue.fail(held, "broken")).toMatchObject({ state: "dead", attempts: 1 })
      yield* TestClock.adjust("1 minute")
      const retried = yield* queue.retry(job.id, "fixed upstream")
      expect(retried).toMatchObject({ state: "queued", attempts: 0, runAt: 60_000 })
      expect((yield* queue.history(job.id)).at(-1)).toMatchObject({ from: "dead", to: "queued", reason: "fixed upstream" })
      const [back] = yield* queue.claim(Work, { owner, leaseMs: 60_000 })
      expect(back.id).toBe(job.id)
    })))

  it.effect("an unregistered kind's jobs can be listed but not moved", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      const id = yield* Effect.provide(
        Effect.flatMap(JobQueue, (queue) => Effect.map(queue.enqueue(Wpt, { url: "https://a" }), (r) => r.job.id)),
        queueLayer([Work, Wpt], filename)
      )
      yield* Effect.gen(function*() {
        const queue = yield* JobQueue
        expect(yield* queue.get(id)).toMatchObject({ plugin: "watchdog", kind: "wpt", state: "AWAITING", payload: { url: "https://a" } })
        expect((yield* queue.list()).map((job) => job.id)).toEqual([id])
        const unknown = yield* Effect.flip(queue.cancel(id, "cli"))
        expect(unknown._tag).toBe("UnknownJobKind")
        expect(unknown.message).toContain("watchdog/wpt")
        expect((yield* Effect.flip(queue.enqueue(Wpt, { url: "https://b" })))._tag).toBe("UnknownJobKind")
        expect(yield* queue.reclaimExpired()).toBe(0)
      }).pipe(Effect.provide(queueLayer([Work], filename)))
    }))

  it.effect("list pages newest first and filters by plugin, kind and state", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const ids = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => Effect.map(queue.enqueue(Work, { n }), (r) => r.job.id))
      const wpt = (yield* queue.enqueue(Wpt, { url: "https://a" })).job.id
      yield* queue.cancel(ids[1], "not needed")
      const page1 = yield* queue.list({ plugin: "test", limit: 3 })
      expect(page1.map((job) => job.id)).toEqual([ids[4], ids[3], ids[2]])
      const page2 = yield* queue.list({ plugin: "test", limit: 3, beforeId: page1.at(-1)!.id })
      expect(page2.map((job) => job.id)).toEqual([ids[1], ids[0]])
      expect((yield* queue.list({ kind: "wpt" })).map((job) => job.id)).toEqual([wpt])
      expect((yield* queue.list({ state: "cancelled" })).map((job) => job.id)).toEqual([ids[1]])
      expect((yield* queue.list())[0].payload).toEqual({ url: "https://a" })
    })))

  it.effect("a job enqueued inside a caller's transaction rolls back with it", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      const attempt = sql.withTransaction(Effect.gen(function*() {
        yield* queue.enqueue(Work, { n: 1 })
        return yield* Effect.fail("the caller's own write failed")
      }))
      expect(yield* Effect.flip(attempt)).toBe("the caller's own write failed")
      expect(yield* queue.list()).toEqual([])
      yield* sql.withTransaction(queue.enqueue(Work, { n: 2 }))
      expect((yield* queue.list()).map((job) => job.payload)).toEqual([{ n: 2 }])
    })))

  it.effect("changes that share a commit survive another's SQL error", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      // fails the second statement of one enqueue, after its job row is written
      if (backend.name === "postgres") {
        yield* sql.unsafe(`CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          IF (SELECT payload FROM orch_jobs WHERE id = NEW.job_id) = '{"n":13}' THEN RAISE EXCEPTION 'thirteen refused'; END IF;
          RETURN NEW; END $$`)
        yield* sql.unsafe(`CREATE TRIGGER refuse_13 BEFORE INSERT ON orch_job_history FOR EACH ROW EXECUTE FUNCTION refuse_13()`)
      } else {
        yield* sql`CREATE TRIGGER refuse_13 BEFORE INSERT ON orch_job_history
          WHEN (SELECT payload FROM orch_jobs WHERE id = NEW.job_id) = '{"n":13}'
          BEGIN SELECT RAISE(ABORT, 'thirteen refused'); END`
      }
      const results = yield* Effect.forEach(
        Array.from({ length: 30 }, (_, n) => n),
        (n) => Effect.exit(queue.enqueue(Work, { n })),
        { concurrency: "unbounded" }
      )
      const failed = results.flatMap((exit, n) => (Exit.isFailure(exit) ? [n] : []))
      expect(failed).toEqual([13])
      const jobs = yield* queue.list({ limit: 100 })
      expect(jobs.map((job) => (job.payload as { n: number }).n).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 30 }, (_, n) => n).filter((n) => n !== 13)
      )
      for (const job of jobs) expect(yield* queue.history(job.id)).toHaveLength(1)
    })))

  it.effect("8 fibers claiming 500 jobs never hold one twice and lose none", () =>
    withQueue(Effect.gen(function*() {
      const queue = yield* JobQueue
      const jobCount = 500
      yield* Effect.forEach(Array.from({ length: jobCount }, (_, n) => n), (n) => queue.enqueue(Work, { n }), {
        concurrency: 8
      })
      const held = new Set<number>()
      const doubled: Array<number> = []
      const completedBy = new Map<number, string>()
      const worker = (w: number) =>
        Effect.gen(function*() {
          const me = `fiber-${w}`
          while (true) {
            const jobs: ReadonlyArray<Job<{ readonly n: number }, { readonly ok: boolean }, JobKind.SimpleState>> = yield* queue
              .claim(Work, { owner: me, leaseMs: 60_000, limit: 1 + (w % 4) })
            if (jobs.length === 0) return
            for (const job of jobs) {
              if (held.has(job.id) || completedBy.has(job.id)) doubled.push(job.id)
              held.add(job.id)
            }
            for (const job of jobs) {
              yield* Effect.yieldNow()
              yield* queue.transition(job, "succeeded", { reason: `done by ${me}`, result: { ok: true } })
              held.delete(job.id)
              completedBy.set(job.id, me)
            }
          }
        })
      const fibers = yield* Effect.forEach(Array.from({ length: 8 }, (_, w) => w), (w) => Effect.fork(worker(w)))
      yield* Fiber.joinAll(fibers)
      expect(doubled).toEqual([])
      expect(completedBy.size).toBe(jobCount)
      expect(new Set(completedBy.values()).size).toBeGreaterThan(1)
      expect(yield* queue.countByState()).toEqual([{ plugin: "test", kind: "work", state: "succeeded", count: jobCount }])
      const sql = yield* SqlClient.SqlClient
      const completions = yield* sql<{ job_id: number; n: number }>`SELECT job_id, COUNT(*) AS n FROM orch_job_history
        WHERE to_state = 'succeeded' GROUP BY job_id`
      expect(completions).toHaveLength(jobCount)
      expect(completions.every((row) => row.n === 1)).toBe(true)
    })))
})
