/**
 * The queue and the worker protocol's logic (`Workers.status`) over a real repository and a
 * real database (SQLite and PostgreSQL), with the clock driven by TestClock: who gets which commit, exactly-once
 * submits, aborts, secrets, and a worker gone past its timeout.
 */
import { expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, TestClock } from "effect"
import type * as Protocol from "../src/Protocol.js"
import * as Repo from "../src/Repo.js"
import * as Sql from "../src/sql/index.js"
import * as Workers from "../src/Workers.js"
import { benchDatabaseOn, makeRepo } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

const options: Workers.StatusOptions = { timeoutMs: 60_000, benchMethod: Effect.succeed({ type: "internal" }) }
const idle: Protocol.WorkerStatus = { type: "idle" }
const ask = (name: string, secret = `s-${name}`, extra: Partial<Protocol.WorkerRequest> = {}) =>
  Workers.status(options, name, { secret, status: idle, request_run: true, ...extra })
const working = (run: Protocol.Run): Protocol.WorkerStatus => ({
  type: "working", id: run.id, hash: run.hash, bench_method: "internal", start: run.start, last_output: [[1, "running"]]
})
const finished = (run: Protocol.Run, value = 1.5): Protocol.FinishedRun => ({
  id: run.id, hash: run.hash, bench_method: "internal", start: run.start, end: null, exit_code: 0,
  output: [[1, "line one"], [2, "a warning"]],
  measurements: { "sort/time": { value, unit: "s", direction: "less_is_better" }, "sort/rss": { value: 100 } }
})

/** A repository of `count` commits on main, imported, with every commit queued (oldest first). */
const setup = (count: number) =>
  Effect.gen(function*() {
    const repo = makeRepo()
    const hashes = Array.from({ length: count }, (_, i) => repo.commit(`c${i}`))
    yield* Repo.update({ dir: repo.dir, firstImportQueue: 0 })
    const sql = yield* SqlClient.SqlClient
    for (const [i, hash] of hashes.entries()) yield* Sql.enqueue(sql, hash, 0, "new", 1000 + i)
    return { repo, hashes, sql }
  })

describeBackends("the worker protocol", (backend) => {
  const benchDatabase = () => benchDatabaseOn(backend)
  it.effect("request_run: the highest priority first, then the newest; never the same commit to two live workers", () =>
    Effect.gen(function*() {
      const { hashes, sql } = yield* setup(4)
      yield* Sql.enqueue(sql, hashes[1]!, 5, "manual", 0)
      const first = yield* ask("w1")
      expect(first.run).toMatchObject({ hash: hashes[1], bench_method: { type: "internal" } })
      expect(first.run!.id).toMatch(/^r-[0-9a-z]{30}$/)
      expect(first.run!.start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      const second = yield* ask("w2")
      expect(second.run?.hash).toBe(hashes[3])
      const third = yield* ask("w3")
      expect(third.run?.hash).toBe(hashes[2])
      // w1 reports it works on its run: it keeps it; asking again hands it nothing new beyond the queue's rest
      const again = yield* Workers.status(options, "w1", { secret: "s-w1", status: working(first.run!), request_run: false })
      expect(again).toEqual({})
      const workers = yield* Sql.listWorkers(sql)
      expect(workers.map((w) => [w.name, w.run_hash])).toEqual([["w1", hashes[1]], ["w2", hashes[3]], ["w3", hashes[2]]])
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("submit_run is stored once, even sent twice; its commit leaves the queue; direction is set once", () =>
    Effect.gen(function*() {
      const { hashes, sql } = yield* setup(2)
      const { run } = yield* ask("w1", "s-1", { info: JSON.stringify({ cpu: "Test CPU", cores: 2, kernel: "6.1", governor: "performance", noise: 0.01 }) })
      const submit = { secret: "s-1", status: idle, submit_run: finished(run!) }
      expect(yield* Workers.status(options, "w1", submit)).toEqual({})
      expect(yield* Workers.status(options, "w1", submit)).toEqual({})
      const stored = yield* Sql.listRuns(sql, { limit: 10 })
      expect(stored).toHaveLength(1)
      expect(stored[0]).toMatchObject({ id: run!.id, hash: hashes[1], worker_name: "w1", source: "worker", exit_code: 0, measurements: 2 })
      expect(JSON.parse(stored[0]!.fingerprint!)).toMatchObject({ cpu: "Test CPU", cores: 2 })
      expect(yield* sql`SELECT line, source, text FROM bench_run_output ORDER BY line`).toEqual([
        { line: 0, source: 1, text: "line one" },
        { line: 1, source: 2, text: "a warning" }
      ])
      expect(yield* Sql.isQueued(sql, hashes[1]!)).toBe(false)
      // a later run says more is better and gives another unit: neither changes what is known
      const next = yield* ask("w1", "s-1")
      expect(next.run?.hash).toBe(hashes[0])
      const other = finished(next.run!, 2)
      yield* Workers.status(options, "w1", {
        secret: "s-1", status: idle,
        submit_run: { ...other, measurements: { "sort/time": { value: 2, unit: "ms", direction: "more_is_better" }, "sort/rss": { value: 1, direction: "less_is_better" } } }
      })
      expect(yield* sql`SELECT name, unit, direction FROM bench_metrics ORDER BY name`).toEqual([
        { name: "sort/rss", unit: null, direction: -1 },
        { name: "sort/time", unit: "s", direction: -1 }
      ])
      expect(yield* Sql.queueDepth(sql)).toBe(0)
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("abort_run: when the commit left the queue, or when a worker that started it earlier holds it", () =>
    Effect.gen(function*() {
      const { hashes, sql } = yield* setup(2)
      const { run } = yield* ask("w1")
      expect(yield* Workers.status(options, "w1", { secret: "s-w1", status: working(run!) })).toEqual({})
      yield* Sql.dequeue(sql, run!.hash)
      expect(yield* Workers.status(options, "w1", { secret: "s-w1", status: working(run!) })).toEqual({ abort_run: true })
      // two workers on one commit (w3 was handed it elsewhere, later): the later one is told to abort
      yield* Sql.enqueue(sql, hashes[0]!, 0, "manual", 0)
      const a = yield* ask("w2")
      expect(a.run?.hash).toBe(hashes[0])
      yield* TestClock.adjust("1 second")
      const late = { ...a.run!, id: "r-late", start: new Date(Date.parse(a.run!.start) + 1000).toISOString() }
      expect(yield* Workers.status(options, "w3", { secret: "s-w3", status: working(late) })).toEqual({ abort_run: true })
      expect(yield* Workers.status(options, "w2", { secret: "s-w2", status: working(a.run!) })).toEqual({})
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("a name is pinned to its secret while the worker is live (409); a worker gone past the timeout frees its commit and name", () =>
    Effect.gen(function*() {
      const { hashes } = yield* setup(1)
      const { run } = yield* ask("w1", "s-first")
      expect(run?.hash).toBe(hashes[0])
      const clash = yield* Effect.flip(ask("w1", "s-second"))
      expect(clash).toMatchObject({ _tag: "Refused", status: 409 })
      expect(clash.message).toContain("in use by another worker")
      // while w1 is live, nobody else gets its commit
      expect((yield* ask("w2")).run).toBeUndefined()
      yield* TestClock.adjust("61 seconds")
      // w1 is gone: its commit, still queued, goes to the next worker that asks, and its name to a new secret
      expect((yield* ask("w2")).run?.hash).toBe(hashes[0])
      expect(yield* Effect.either(ask("w1", "s-second"))).toMatchObject({ _tag: "Right" })
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("request_run side by side (several connections, several orch nodes): 8 workers asking at once get 8 distinct commits", () =>
    Effect.gen(function*() {
      const { hashes, sql } = yield* setup(8)
      const answers = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => `w${i}`), (name) => ask(name), { concurrency: "unbounded" })
      expect(new Set(answers.map((answer) => answer.run?.hash)).size).toBe(8)
      expect(new Set((yield* Sql.listWorkers(sql)).map((w) => w.run_hash))).toEqual(new Set(hashes))
      // one name, two secrets at once: one is pinned, the other refused
      const clash = yield* Effect.forEach(["s-a", "s-b"], (secret) => Effect.either(ask("w9", secret)), { concurrency: "unbounded" })
      expect(clash.map((answer) => answer._tag).sort()).toEqual(["Left", "Right"])
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("a submit for a commit the server does not know is refused (400), nothing stored", () =>
    Effect.gen(function*() {
      const { sql } = yield* setup(1)
      const bogus = finished({ id: "r-x", hash: "0".repeat(40), bench_method: { type: "internal" }, start: "2024-01-01T00:00:00Z" })
      const refused = yield* Effect.flip(Workers.status(options, "w1", { secret: "s", status: idle, submit_run: bogus }))
      expect(refused).toMatchObject({ status: 400 })
      expect(yield* Sql.countRuns(sql)).toBe(0)
    }).pipe(Effect.provide(benchDatabase())))
})
