import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { waitFor, waitUntil } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import * as Database from "../src/Database.js"
import * as Singletons from "../src/Singletons.js"
import * as Sql from "../src/sql/singletons.js"

const ttlMs = 3_000

/** One node's database: its own connection (pool) to the database at `place`, in `scope`. */
const connect = (backend: Backend, place: string, scope: Scope.Scope) =>
  Effect.map(Layer.buildWithScope(backend.database(place), scope), (context) => Context.get(context, SqlClient.SqlClient))

/** Moves the test clock in steps, letting each step's database round trips (real I/O) finish. */
const advance = (ms: number, step = 250) =>
  Effect.gen(function*() {
    for (let moved = 0; moved < ms; moved += step) {
      yield* TestClock.adjust(step)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
    }
  })

/** What the nodes' work did, in clock time: never two at once. */
const makeLedger = () => {
  const events: Array<{ readonly node: string; readonly what: "start" | "stop"; readonly at: number }> = []
  let active = 0
  let maxActive = 0
  const work = (node: string) =>
    Effect.gen(function*() {
      const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      active++
      maxActive = Math.max(maxActive, active)
      events.push({ node, what: "start", at: started })
      return yield* Effect.never
    }).pipe(Effect.onInterrupt(() =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          active--
          events.push({ node, what: "stop", at: clock.unsafeCurrentTimeMillis() })
        })
      )
    ))
  return { events, work, maxActive: () => maxActive }
}

describeBackends("Singletons", (backend) => {
  it.scoped("a holder that cannot renew stops its work before another node takes over, with a larger token", () =>
    Effect.gen(function*() {
      const place = backend.place()
      const ledger = makeLedger()
      // node A's connection closes under its election: its renewals fail from then on
      const connectionA = yield* Scope.make()
      const sqlA = yield* connect(backend, place, connectionA)
      const sqlB = yield* connect(backend, place, yield* Effect.scope)
      // A's election is left running on its dead connection, as a partitioned node's would be
      // (closing it would wait on SQLite's client, closed under it)
      const electionA = yield* Singletons.elect({ name: "test:loop", holder: "node-a", ttl: ttlMs }).pipe(
        Effect.provideService(SqlClient.SqlClient, sqlA),
        Scope.extend(yield* Scope.make())
      )
      const workA = yield* Effect.fork(electionA.whileHeld(ledger.work("a")))
      const leaseA = yield* waitFor("node A holds the lease", Effect.map(electionA.status, (s) => s.leader ? s : undefined))
      const electionB = yield* Singletons.elect({ name: "test:loop", holder: "node-b", ttl: ttlMs }).pipe(
        Effect.provideService(SqlClient.SqlClient, sqlB)
      )
      const workB = yield* Effect.fork(electionB.whileHeld(ledger.work("b")))
      yield* waitUntil("node B sees node A holding", Effect.map(electionB.status, (s) => s.holder === "node-a"))

      // renewals keep A in charge well past the ttl
      yield* advance(2 * ttlMs)
      expect((yield* electionA.status).leader).toBe(true)
      expect((yield* electionB.status).leader).toBe(false)
      expect(ledger.events.map((e) => `${e.node} ${e.what}`)).toEqual(["a start"])
      const lastRenewal = yield* Effect.map(Sql.getSingleton(sqlB, "test:loop"), (row) => row!.expires_at - ttlMs)

      yield* Scope.close(connectionA, Exit.void)
      yield* advance(2 * ttlMs)
      yield* waitUntil("node B took over", Effect.map(electionB.status, (s) => s.leader))
      expect(Option.isNone(yield* Fiber.join(workA))).toBe(true)

      const aStop = ledger.events.find((e) => e.node === "a" && e.what === "stop")!
      const bStart = ledger.events.find((e) => e.node === "b" && e.what === "start")!
      expect(ledger.maxActive()).toBe(1)
      // A stopped by 2·ttl/3 after its last renewal; B took over only once the row had expired
      expect(aStop.at).toBeLessThanOrEqual(lastRenewal + (2 * ttlMs) / 3)
      expect(bStart.at).toBeGreaterThanOrEqual(lastRenewal + ttlMs)
      const leaseB = yield* electionB.status
      expect(leaseB.token).toBeGreaterThan(leaseA.token!)

      // the deposed holder's fenced write rolls back; the new holder's commits
      yield* sqlB`CREATE TABLE test_fenced (by_node TEXT NOT NULL)`
      const write = (lease: Singletons.SingletonLeaseService) =>
        Database.transaction(Effect.zipRight(Singletons.assertHeld(lease), sqlB`INSERT INTO test_fenced (by_node) VALUES (${lease.holder})`)).pipe(
          Effect.provideService(SqlClient.SqlClient, sqlB)
        )
      const deposed = yield* Effect.either(write({ name: "test:loop", holder: "node-a", token: leaseA.token! }))
      expect(deposed._tag === "Left" && deposed.left._tag).toBe("SingletonLost")
      yield* write({ name: "test:loop", holder: "node-b", token: leaseB.token! })
      expect(yield* sqlB<{ by_node: string }>`SELECT by_node FROM test_fenced`).toEqual([{ by_node: "node-b" }])
      yield* Fiber.interrupt(workB)
    }))

  it.scoped("a node that stops gives the lease up: the next takes over within ttl/3, not after the ttl", () =>
    Effect.gen(function*() {
      const place = backend.place()
      const ledger = makeLedger()
      const sqlB = yield* connect(backend, place, yield* Effect.scope)
      const nodeA = yield* Scope.make()
      const sqlA = yield* connect(backend, place, nodeA)
      const electionA = yield* Singletons.elect({ name: "test:handover", holder: "node-a", ttl: ttlMs }).pipe(
        Effect.provideService(SqlClient.SqlClient, sqlA),
        Scope.extend(nodeA)
      )
      yield* Effect.forkIn(electionA.whileHeld(ledger.work("a")), nodeA)
      yield* waitUntil("node A holds the lease", Effect.map(electionA.status, (s) => s.leader))
      const electionB = yield* Singletons.elect({ name: "test:handover", holder: "node-b", ttl: ttlMs }).pipe(
        Effect.provideService(SqlClient.SqlClient, sqlB)
      )
      yield* Effect.fork(electionB.whileHeld(ledger.work("b")))
      yield* waitUntil("node B sees node A holding", Effect.map(electionB.status, (s) => s.holder === "node-a"))
      const stoppedAt = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* Scope.close(nodeA, Exit.void)
      expect((yield* Sql.getSingleton(sqlB, "test:handover"))?.expires_at).toBe(0)
      yield* advance(ttlMs / 3)
      yield* waitUntil("node B took over", Effect.map(electionB.status, (s) => s.leader))
      expect(ledger.maxActive()).toBe(1)
      const bStart = ledger.events.find((e) => e.node === "b" && e.what === "start")!
      expect(bStart.at).toBeLessThanOrEqual(stoppedAt + ttlMs / 3)
    }))

  it.scoped("a holder whose lease was taken over stops at once", () =>
    Effect.gen(function*() {
      const ledger = makeLedger()
      const sql = yield* connect(backend, backend.place(), yield* Effect.scope)
      const election = yield* Singletons.elect({ name: "test:taken", holder: "node-a", ttl: ttlMs }).pipe(
        Effect.provideService(SqlClient.SqlClient, sql)
      )
      const work = yield* Effect.fork(election.whileHeld(ledger.work("a")))
      yield* waitUntil("node A holds the lease", Effect.map(election.status, (s) => s.leader))
      // another node's take, as after a pause longer than the ttl
      yield* sql`UPDATE orch_singletons SET holder = 'node-b', token = token + 1000 WHERE name = 'test:taken'`
      yield* advance(ttlMs / 3)
      expect(Option.isNone(yield* Fiber.join(work))).toBe(true)
      expect((yield* election.status).leader).toBe(false)
      expect((yield* election.status).holder).toBe("node-b")
    }))
})

describeBackends("Singletons race", (backend) => {
  it.live("of two nodes taking a free lease at once, one gets it", () =>
    Effect.scoped(Effect.gen(function*() {
      const place = backend.place()
      const sqlA = yield* connect(backend, place, yield* Effect.scope)
      const sqlB = yield* connect(backend, place, yield* Effect.scope)
      const take = (sql: SqlClient.SqlClient, holder: string, token: number) =>
        Database.transaction(Sql.takeSingleton(sql, { name: "test:race", holder, token, expiresAt: 2_000, now: 1_000 })).pipe(
          Effect.provideService(SqlClient.SqlClient, sql)
        )
      for (let round = 0; round < 30; round++) {
        yield* sqlA`UPDATE orch_singletons SET expires_at = 0 WHERE name = 'test:race'`
        const [a, b] = yield* Effect.all([take(sqlA, "node-a", 2 * round + 1), take(sqlB, "node-b", 2 * round + 2)], {
          concurrency: "unbounded"
        })
        expect([a, b].filter(Boolean)).toHaveLength(1)
        const row = yield* Sql.getSingleton(sqlA, "test:race")
        expect(row?.holder).toBe(a ? "node-a" : "node-b")
      }
      // and two elections started together agree on one leader
      const [electionA, electionB] = yield* Effect.all([
        Singletons.elect({ name: "test:elect", holder: "node-a" }).pipe(Effect.provideService(SqlClient.SqlClient, sqlA)),
        Singletons.elect({ name: "test:elect", holder: "node-b" }).pipe(Effect.provideService(SqlClient.SqlClient, sqlB))
      ], { concurrency: "unbounded" })
      yield* waitUntil(
        "one leader, seen by both",
        Effect.map(Effect.all([electionA.status, electionB.status]), ([a, b]) => a.leader !== b.leader && a.holder === b.holder && a.token === b.token)
      )
    })), 20_000)
})
