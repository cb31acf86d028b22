/**
 * Two allocators ("nodes") over one database (the same SQLite file, or two pools on the
 * same PostgreSQL schema), as several orch daemons share one: their waiting allocations
 * are served in one order of arrival across both.
 */
import { describe, expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Resources } from "@orch/core/Resources"
import { describeBackends, postgres } from "@orch/testing/Backends"
import { Context, Effect, Either, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import type { AllocatorService } from "../src/Allocator.js"
import type { AllocatorConfig } from "../src/AllocatorConfig.js"
import { Device, statusOf } from "../src/Device.js"
import { inventoryText, makeAllocator, notifiedServicesLayerOn, servicesLayerOn } from "./support.js"

const boards = (count: number) => inventoryText([{ type: "board", count }])

const request = (holder: string, waitMs = 60_000) => ({ type: "board", holder, ttlMs: 60_000, waitMs })

/** Real time, for what other connections and the event loop do (a write batch waits a turn). */
const pause = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

const until = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1_000; i++) {
      if (yield* check) return
      yield* pause(10)
    }
    return yield* Effect.dieMessage(`${what}: still not so after 10 s`)
  })

describeBackends("Waiters across nodes", (backend) => {
  /** Node A and node B over one new database, each with its own connections and allocator. */
  const twoNodes = (text: string, config: Partial<typeof AllocatorConfig.Encoded> = {}) =>
    Effect.gen(function*() {
      const place = backend.place()
      const servicesA = yield* Layer.build(servicesLayerOn(backend, place))
      const servicesB = yield* Layer.build(servicesLayerOn(backend, place))
      const a = yield* Effect.provide(makeAllocator(text, config), servicesA)
      const b = yield* Effect.provide(makeAllocator(text, config), servicesB)
      const sql = Context.get(servicesA, SqlClient.SqlClient)
      const resources = Context.get(servicesA, Resources)
      /** The shared line as the database holds it: holders in the one order. */
      const line = Effect.map(
        sql<{ holder: string; seq: number | string }>`SELECT holder, seq FROM allocator_waiters ORDER BY seq`,
        (rows) => rows.map((row) => ({ holder: row.holder, seq: Number(row.seq) }))
      ).pipe(Effect.orDie)
      const holders = Effect.map(line, (rows) => rows.map((row) => row.holder))
      /** `holder` waits on `node`; returns once its row is written (so the next one comes after it). */
      const waitOn = (node: AllocatorService, holder: string, waitMs = 60_000) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(node.allocate(request(holder, waitMs)))
          yield* until(Effect.map(holders, (written) => written.includes(holder)), `${holder} in the shared line`)
          return fiber
        })
      const openLeases = Effect.orDie(resources.leases({ active: true }))
      return { a, b, servicesB, line, holders, waitOn, resources, openLeases }
    })

  describe("order", () => {
    it.scoped("A1 (node A), then B1 (node B), then A2 wait for one device: B1 gets it before A2", () =>
      Effect.gen(function*() {
        const { a, b, holders, openLeases, resources, waitOn } = yield* twoNodes(boards(1))
        const held = yield* a.allocate(request("holder", 0))
        const a1 = yield* waitOn(a, "a1")
        const b1 = yield* waitOn(b, "b1")
        const a2 = yield* waitOn(a, "a2")
        expect(yield* holders).toEqual(["a1", "b1", "a2"])
        expect(yield* a.waitingCount).toBe(2)
        expect(yield* b.waitingCount).toBe(1)

        // released on A: A's own A1 is first in line
        yield* a.release(held.lease.id, {})
        const first = yield* Fiber.join(a1)
        expect(first.lease.holder).toBe("a1")

        // released on A again: B1 on node B comes before A2, so A's pass leaves the device free for it
        yield* a.release(first.lease.id, {})
        yield* a.serveWaiting
        expect(yield* Fiber.poll(a2)).toEqual(Option.none())
        expect(statusOf(yield* resources.get(Device, "board-0"))).toBe("free")
        // an allocation that does not wait is not served before B1 either, on either node
        expect(yield* Effect.flip(a.allocate(request("impatient-a", 0)))).toMatchObject({ reason: "none_free" })
        expect(yield* Effect.flip(b.allocate(request("impatient-b", 0)))).toMatchObject({ reason: "none_free" })
        // B's next pass (its poll, or a wake-up from another node's release) serves B1
        yield* b.serveWaiting
        const second = yield* Fiber.join(b1)
        expect(second.lease.holder).toBe("b1")
        expect(yield* holders).toEqual(["a2"])

        // released on B, whose line is now empty: A's poll serves A2
        yield* b.release(second.lease.id, {})
        yield* a.serveWaiting
        const third = yield* Fiber.join(a2)
        expect(third.lease.holder).toBe("a2")
        expect([first, second, third].map((grant) => grant.lease.token)).toEqual([...[first, second, third].map((grant) => grant.lease.token)].sort((x, y) => x - y))
        expect((yield* openLeases).map((lease) => lease.holder)).toEqual(["a2"])
        expect(yield* holders).toEqual([])
      }))

    it.scoped("a device nobody waiting elsewhere fits goes at once; one that another node's waiter fits is not taken", () =>
      Effect.gen(function*() {
        const { a, b, waitOn } = yield* twoNodes(inventoryText([{ type: "board", count: 1 }, { type: "phone", count: 1 }]))
        const held = yield* a.allocate(request("holder", 0))
        const waiting = yield* waitOn(b, "b1")
        // a phone: nobody waits for one
        expect((yield* a.allocate({ type: "phone", holder: "p", ttlMs: 1_000, waitMs: 0 })).device.type).toBe("phone")
        // the board comes free on A: A's fast path would take it, but B1 waits for it
        yield* a.release(held.lease.id, {})
        expect(yield* Effect.flip(a.allocate(request("late", 0)))).toMatchObject({
          reason: "none_free",
          message: expect.stringContaining("goes to an allocation that waits before this one")
        })
        yield* b.serveWaiting
        expect((yield* Fiber.join(waiting)).lease.holder).toBe("b1")
      }))
  })

  describe("liveness", () => {
    it.scoped("a node that stops passing is skipped after its TTL and pruned; alive again, it rejoins at the end of the line", () =>
      Effect.gen(function*() {
        const { a, b, line, waitOn } = yield* twoNodes(boards(1), { waiterTtlSeconds: 10 })
        const held = yield* a.allocate(request("holder", 0))
        const b1 = yield* waitOn(b, "b1")
        const a1 = yield* waitOn(a, "a1")
        const before = yield* line

        // B is alive (its last pass was at 0): A leaves the device for B1
        yield* a.release(held.lease.id, {})
        yield* a.serveWaiting
        yield* TestClock.adjust(9_999)
        yield* a.serveWaiting
        expect(yield* Fiber.poll(a1)).toEqual(Option.none())

        // B has not passed for 10 s: its waiters no longer count, and go
        yield* TestClock.adjust(1)
        yield* a.serveWaiting
        const grant = yield* Fiber.join(a1)
        expect(grant.lease.holder).toBe("a1")
        expect((yield* line).map((row) => row.holder)).toEqual([])

        // B passes again: it finds itself pruned and writes B1 again, after everyone before
        expect(yield* Fiber.poll(b1)).toEqual(Option.none())
        yield* b.serveWaiting
        yield* until(Effect.map(line, (rows) => rows.some((row) => row.holder === "b1")), "b1 back in the shared line")
        const [again] = yield* line
        expect(again!.seq).toBeGreaterThan(Math.max(...before.map((row) => row.seq)))
        yield* a.release(grant.lease.id, {})
        yield* b.serveWaiting
        expect((yield* Fiber.join(b1)).lease.holder).toBe("b1")
      }))

    it.scoped("a node that stops takes its waiters out of the shared line at once", () =>
      Effect.gen(function*() {
        const { a, holders, servicesB, waitOn } = yield* twoNodes(boards(1))
        const held = yield* a.allocate(request("holder", 0))
        // node C, on B's connections, in a scope of its own that closes as a daemon stopping does
        const scope = yield* Scope.make()
        const c = yield* makeAllocator(boards(1)).pipe(Effect.provide(servicesB), Scope.extend(scope))
        const c1 = yield* waitOn(c, "c1")
        const a1 = yield* waitOn(a, "a1")
        yield* Scope.close(scope, Exit.void)
        expect(yield* holders).toEqual(["a1"])
        yield* Fiber.interrupt(c1)
        // A's own A1 comes first now, without waiting for C's TTL
        yield* a.release(held.lease.id, {})
        expect((yield* Fiber.join(a1)).lease.holder).toBe("a1")
      }))

    it.scoped("deadlines still fire; a waiter whose wait ran out holds up no other node's", () =>
      Effect.gen(function*() {
        const { a, b, holders, waitOn } = yield* twoNodes(boards(1))
        const held = yield* a.allocate(request("holder", 0))
        const b1 = yield* waitOn(b, "b1", 1_000)
        const a1 = yield* waitOn(a, "a1", 60_000)
        yield* TestClock.adjust(1_000)
        const denied = yield* Effect.either(Fiber.join(b1))
        expect(Either.isLeft(denied) && denied.left._tag === "AllocationDenied" && denied.left.reason).toBe("all_leased")
        // its row goes in B's next batch; whether or not it is gone yet, it no longer counts
        yield* a.release(held.lease.id, {})
        expect((yield* Fiber.join(a1)).lease.holder).toBe("a1")
        yield* until(Effect.map(holders, (written) => written.length === 0), "the shared line empty")
      }))
  })

  describe("safety", () => {
    it.scoped("40 allocations waiting on two nodes for 3 devices, each released by its node once granted: all served, no device ever held twice", () =>
      Effect.gen(function*() {
        const { a, b, openLeases } = yield* twoNodes(boards(3))
        const held = new Set<string>()
        const doubled: Array<string> = []
        const served: Array<string> = []
        // the nodes' polls, in real time
        for (const node of [a, b]) yield* Effect.forkScoped(Effect.forever(Effect.zipRight(node.serveWaiting, pause(5))))
        yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) =>
          Effect.gen(function*() {
            const node = i % 2 === 0 ? a : b
            const grant = yield* node.allocate(request(`w${i}`))
            if (held.has(grant.device.name)) doubled.push(grant.device.name)
            held.add(grant.device.name)
            served.push(grant.lease.holder)
            yield* pause(1)
            held.delete(grant.device.name)
            yield* node.release(grant.lease.id, {})
          }), { concurrency: "unbounded", discard: true })
        expect(doubled).toEqual([])
        expect(served).toHaveLength(40)
        expect(yield* openLeases).toEqual([])
      }))
  })
})

/**
 * On PostgreSQL each node's allocator hears of devices come free on the others (core's
 * Notifications, LISTEN/NOTIFY): no poll runs here (the daemon's `waiters` loop is not
 * started), so a waiter on node B is served only if node A's release wakes it.
 */
describe.skipIf(postgres.skip !== undefined)("Waiters across nodes, woken by NOTIFY (postgres)", () => {
  it.scopedLive("a device released on node A goes to node B's waiter at once, before node A's later waiter", () =>
    Effect.gen(function*() {
      const place = postgres.place()
      const node = () => notifiedServicesLayerOn(postgres, place)
      const servicesA = yield* Layer.build(node())
      const servicesB = yield* Layer.build(node())
      const a = yield* Effect.provide(makeAllocator(boards(1)), servicesA)
      const b = yield* Effect.provide(makeAllocator(boards(1)), servicesB)
      const sql = Context.get(servicesA, SqlClient.SqlClient)
      const holders = Effect.map(sql<{ holder: string }>`SELECT holder FROM allocator_waiters ORDER BY seq`, (rows) => rows.map((r) => r.holder))
        .pipe(Effect.orDie)
      const held = yield* a.allocate(request("holder", 0))
      const b1 = yield* Effect.fork(b.allocate(request("b1")))
      yield* until(Effect.map(holders, (line) => line.includes("b1")), "b1 in the shared line")
      const a2 = yield* Effect.fork(a.allocate(request("a2")))
      yield* until(Effect.map(holders, (line) => line.includes("a2")), "a2 in the shared line")

      yield* a.release(held.lease.id, {})
      const grant = yield* Fiber.join(b1).pipe(
        Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("node B's waiter was not woken") })
      )
      expect(grant.lease.holder).toBe("b1")
      expect(yield* Fiber.poll(a2)).toEqual(Option.none())
      // and back: released on B, node A's waiter is woken
      yield* b.release(grant.lease.id, {})
      const second = yield* Fiber.join(a2).pipe(
        Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error("node A's waiter was not woken") })
      )
      expect(second.lease.holder).toBe("a2")
    }), { timeout: 60_000 })
})
