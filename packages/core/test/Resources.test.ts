import { describe, expect, it, layer } from "@effect/vitest"
import { Clock, Context, Effect, FastCheck as fc, Layer, Option, TestClock } from "effect"
import { Resources, ResourceKind } from "../src/Resources.js"
import type { Lease } from "../src/Resources.js"
import { describeBackends, sqlite } from "@orch/testing/Backends"
import { sqliteOnly } from "@orch/testing/TestBackend"

const Device = ResourceKind.make({
  plugin: "test",
  name: "device",
  states: ["ready", "cleaning", "broken"],
  initial: "ready",
  leasable: ["ready"]
})


const addDevices = (resources: Context.Tag.Service<Resources>, count: number, labels: Record<string, string> = {}) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => `d${String(i).padStart(2, "0")}`),
    (name) => resources.upsert(Device, { name, labels })
  )

describe("ResourceKind.make", () => {
  it("rejects kinds that cannot work, naming the problem", () => {
    const base = { plugin: "p", name: "k", states: ["a", "b"], initial: "a", leasable: ["a"] } as const
    expect(() => ResourceKind.make({ ...base, states: [] as Array<string>, initial: "a", leasable: [] })).toThrow(/no states/)
    expect(() => ResourceKind.make({ ...base, states: ["a", "a"] })).toThrow(/"a" twice/)
    expect(() => ResourceKind.make({ ...base, initial: "c" as "a" })).toThrow(/initial state "c"/)
    expect(() => ResourceKind.make({ ...base, leasable: ["z" as "a"] })).toThrow(/leasable state "z"/)
    expect(() => ResourceKind.make({ ...base, name: "" })).toThrow(/name must be/)
    expect(ResourceKind.make(base).leasable).toEqual(["a"])
  })
})

describeBackends("Resources", (backend) => {
/** One `orch` process's view: its own connection to the database at `place` (by default a new one). */
const processLayer = (place = backend.place()) =>
  Resources.layer([Device]).pipe(Layer.provideMerge(backend.database(place)))

const withResources = <A, E>(effect: Effect.Effect<A, E, Resources>) => Effect.provide(effect, processLayer())

describe("Resources", () => {
  it.effect("upsert registers, keeps state and lease on update, and records state changes", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      const created = yield* resources.upsert(Device, { name: "a", labels: { model: "pixel" }, data: { ip: "10.0.0.1" } })
      expect(created).toMatchObject({ name: "a", state: "ready", labels: { model: "pixel" }, data: { ip: "10.0.0.1" } })
      const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "job-1", ttlMs: 60_000 }))
      yield* TestClock.adjust(1000)
      const updated = yield* resources.upsert(Device, { name: "a", labels: { model: "pixel", os: "14" } })
      expect(updated.state).toBe("ready")
      expect(updated.data).toEqual({ ip: "10.0.0.1" })
      expect(updated.lease?.id).toBe(lease.id)
      expect(updated.labels).toEqual({ model: "pixel", os: "14" })
      const moved = yield* resources.upsert(Device, { name: "a", labels: {}, state: "broken", reason: "inventory says so" })
      expect(moved.state).toBe("broken")
      expect(moved.labels).toEqual({})
      const history = yield* resources.history(Device, "a")
      expect(history.map((e) => [e.from, e.to, e.reason])).toEqual([
        ["ready", "broken", "inventory says so"],
        [undefined, "ready", "created"]
      ])
      const unknown = yield* Effect.flip(resources.upsert(Device, { name: "a", labels: {}, state: "melted" as "ready" }))
      expect(unknown._tag).toBe("UnknownResourceState")
    })))

  it.effect("leases by labels, and answers None when nothing matching is free", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* resources.upsert(Device, { name: "p13", labels: { model: "pixel", os: "13" } })
      yield* resources.upsert(Device, { name: "p14", labels: { model: "pixel", os: "14" } })
      yield* resources.upsert(Device, { name: "g14", labels: { model: "galaxy", os: "14" } })

      const pixel14 = yield* resources.lease(Device, { holder: "a", ttlMs: 1000, labels: { model: "pixel", os: "14" } })
      expect(Option.map(pixel14, (l) => l.resource.name)).toEqual(Option.some("p14"))
      const galaxy = yield* resources.lease(Device, { holder: "b", ttlMs: 1000, labels: { model: "galaxy" } })
      expect(Option.map(galaxy, (l) => l.resource.name)).toEqual(Option.some("g14"))
      expect(yield* resources.lease(Device, { holder: "c", ttlMs: 1000, labels: { os: "14" } })).toEqual(Option.none())
      expect(yield* resources.lease(Device, { holder: "c", ttlMs: 1000, labels: { model: "iphone" } })).toEqual(Option.none())
      expect(yield* resources.lease(Device, { holder: "c", ttlMs: 1000, name: "p14" })).toEqual(Option.none())
      const byName = yield* resources.lease(Device, { holder: "c", ttlMs: 1000, name: "p13" })
      expect(Option.map(byName, (l) => l.resource.name)).toEqual(Option.some("p13"))
      expect(yield* resources.lease(Device, { holder: "d", ttlMs: 1000 })).toEqual(Option.none())

      const leased = yield* resources.list({ kind: Device, leased: true, labels: { os: "14" } })
      expect(leased.map((r) => [r.name, r.lease?.holder])).toEqual([["g14", "b"], ["p14", "a"]])
    })))

  it.effect("leases only in a leasable state, not retired, and spreads wear over the least recently released", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 3)
      yield* resources.setState(Device, "d01", "cleaning", { reason: "dirty" })
      yield* resources.retire(Device, "d02")
      const first = Option.getOrThrow(yield* resources.lease(Device, { holder: "a", ttlMs: 1000 }))
      expect(first.resource.name).toBe("d00")
      expect(yield* resources.lease(Device, { holder: "b", ttlMs: 1000 })).toEqual(Option.none())
      yield* resources.release(first.id, { reason: "done" })

      // all three free now: never-released ones first, then the longest unused
      yield* resources.setState(Device, "d01", "ready", { from: "cleaning", reason: "clean" })
      yield* resources.upsert(Device, { name: "d02", labels: {} })
      const order: Array<string> = []
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust(10)
        const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "a", ttlMs: 1000 }))
        order.push(lease.resource.name)
        yield* resources.release(lease.id, { reason: "done" })
      }
      expect(order).toEqual(["d01", "d02", "d00", "d01", "d02", "d00"])
    })))

  it.effect("setState is a compare-and-set over declared states, with an event per change", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* resources.upsert(Device, { name: "a", labels: {} })
      const conflict = yield* Effect.flip(resources.setState(Device, "a", "ready", { from: ["cleaning", "broken"], reason: "x" }))
      expect(conflict._tag).toBe("ResourceStateConflict")
      expect(conflict.message).toContain("is ready, not cleaning or broken")
      const unknown = yield* Effect.flip(resources.setState(Device, "a", "gone" as "ready", { reason: "x" }))
      expect(unknown._tag).toBe("UnknownResourceState")
      const missing = yield* Effect.flip(resources.setState(Device, "nope", "ready", { reason: "x" }))
      expect(missing._tag).toBe("ResourceNotFound")
      yield* TestClock.adjust(5)
      const moved = yield* resources.setState(Device, "a", "cleaning", { from: "ready", reason: "released" })
      expect(moved).toMatchObject({ state: "cleaning", stateChangedAt: 5 })
      yield* resources.setState(Device, "a", "cleaning", { reason: "again" })
      const history = yield* resources.history(Device, "a")
      expect(history.map((e) => [e.at, e.from, e.to, e.reason])).toEqual([[5, "ready", "cleaning", "released"], [0, undefined, "ready", "created"]])
      expect(yield* resources.countByState()).toEqual([{ plugin: "test", kind: "device", state: "cleaning", count: 1, leased: 0 }])
    })))

  it.effect("heartbeat records when a resource was last seen", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* resources.upsert(Device, { name: "a", labels: {} })
      expect((yield* resources.get(Device, "a")).lastSeenAt).toBeUndefined()
      yield* TestClock.adjust(1234)
      yield* resources.heartbeat(Device, "a")
      const [listed] = yield* resources.list({ plugin: "test", kind: "device" })
      expect(listed.lastSeenAt).toBe(1234)
      expect((yield* Effect.flip(resources.heartbeat(Device, "b")))._tag).toBe("ResourceNotFound")
    })))

  it.effect("keepalive extends a live lease; a lapsed one is gone and reclaimExpired hands it back", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 1)
      const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "job", ttlMs: 1000 }))
      expect(lease).toMatchObject({ holder: "job", grantedAt: 0, expiresAt: 1000, endedAt: undefined })
      yield* TestClock.adjust(900)
      expect(yield* resources.keepalive(lease.id, 1000, { holder: "job" })).toBe(1900)
      yield* TestClock.adjust(900)
      expect(yield* resources.keepalive(lease.id, 1000)).toBe(2800)
      expect(yield* resources.reclaimExpired(Device)).toEqual([])

      yield* TestClock.adjust(1000) // now 2800: expired on the dot
      const gone = yield* Effect.flip(resources.keepalive(lease.id, 1000, { holder: "job" }))
      expect(gone._tag).toBe("LeaseGone")
      expect((yield* Effect.flip(resources.release(lease.id, { reason: "late" })))._tag).toBe("LeaseGone")
      // still held until reclaimed, so its owner sees the expiry
      expect(yield* resources.lease(Device, { holder: "other", ttlMs: 1000 })).toEqual(Option.none())

      const reclaimed = yield* resources.reclaimExpired()
      expect(reclaimed.map((l) => [l.id, l.endReason, l.endedAt, l.resource.name, l.resource.lease])).toEqual([
        [lease.id, "expired", 2800, "d00", undefined]
      ])
      expect(yield* resources.reclaimExpired()).toEqual([])
      const after = yield* Effect.flip(resources.keepalive(lease.id, 1000))
      expect(after).toMatchObject({ _tag: "LeaseGone", endReason: "expired" })
      const next = Option.getOrThrow(yield* resources.lease(Device, { holder: "other", ttlMs: 1000 }))
      expect(next.token).toBeGreaterThan(lease.token)
    })))

  it.effect("release ends the lease and frees the resource; unknown ids and other holders are refused", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 1)
      const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "job", ttlMs: 1000 }))
      const mismatch = yield* Effect.flip(resources.keepalive(lease.id, 1000, { holder: "thief" }))
      expect(mismatch).toMatchObject({ _tag: "LeaseHolderMismatch", holder: "job", requestedBy: "thief" })
      expect((yield* Effect.flip(resources.release(lease.id, { holder: "thief", reason: "x" })))._tag).toBe("LeaseHolderMismatch")
      expect((yield* Effect.flip(resources.keepalive("no-such-lease", 1000)))._tag).toBe("LeaseNotFound")

      yield* TestClock.adjust(10)
      const released = yield* resources.release(lease.id, { holder: "job", reason: "test finished" })
      expect(released).toMatchObject({ endedAt: 10, endReason: "test finished", resource: { name: "d00", lastReleasedAt: 10 } })
      expect(released.resource.lease).toBeUndefined()
      expect((yield* Effect.flip(resources.release(lease.id, { reason: "twice" })))._tag).toBe("LeaseGone")
      const history = yield* resources.leases({ kind: Device, active: false })
      expect(history.map((l) => [l.id, l.endReason])).toEqual([[lease.id, "test finished"]])
      expect(yield* resources.leases({ kind: Device, active: true })).toEqual([])
    })))

  it.effect("remove is refused while a lease holds the resource; retire keeps it from new leases", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 2)
      const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "job", ttlMs: 1000, name: "d00" }))
      const refused = yield* Effect.flip(resources.remove(Device, "d00"))
      expect(refused).toMatchObject({ _tag: "ResourceLeased", leaseId: lease.id, holder: "job" })
      // it left the inventory while leased: retire now, remove after the lease ends
      const retired = yield* resources.retire(Device, "d00")
      expect(retired.retiredAt).toBe(0)
      expect(yield* resources.keepalive(lease.id, 1000)).toBe(1000)
      yield* resources.release(lease.id, { reason: "done" })
      expect(yield* resources.lease(Device, { holder: "next", ttlMs: 1000, name: "d00" })).toEqual(Option.none())
      expect((yield* resources.list({ retired: false })).map((r) => r.name)).toEqual(["d01"])
      yield* resources.remove(Device, "d00")
      expect((yield* Effect.flip(resources.get(Device, "d00")))._tag).toBe("ResourceNotFound")
      expect((yield* Effect.flip(resources.remove(Device, "d00")))._tag).toBe("ResourceNotFound")
    })))

  it.effect("fencing tokens strictly increase across grants", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 3)
      const tokens: Array<number> = []
      for (let i = 0; i < 10; i++) {
        const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: `h${i}`, ttlMs: 1000 }))
        tokens.push(lease.token)
        if (i % 2 === 0) yield* resources.release(lease.id, { reason: "done" })
        else {
          yield* TestClock.adjust(1000)
          yield* resources.reclaimExpired()
        }
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1])
    })))

  it.scoped("200 concurrent fibers over two connections, leasing over 10 resources, never hold the same one at once", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      // two connections, as two processes have: half the fibers lease through each
      const connections = [
        Context.get(yield* Layer.build(processLayer(filename)), Resources),
        Context.get(yield* Layer.build(processLayer(filename)), Resources)
      ]
      yield* addDevices(connections[0], 10, { pool: "main" })
      const owner = new Map<string, number>()
      const tokens = new Set<number>()
      let grants = 0
      let refusals = 0
      const worker = (id: number) =>
        Effect.gen(function*() {
          const resources = connections[id % 2]
          for (let attempt = 0; attempt < 5; attempt++) {
            const granted = yield* resources.lease(Device, { holder: `w${id}`, ttlMs: 60_000, labels: { pool: "main" } })
            if (Option.isNone(granted)) {
              refusals++
              yield* Effect.yieldNow()
              continue
            }
            const lease = granted.value
            const name = lease.resource.name
            expect(owner.get(name), `${name} granted to w${id} while w${owner.get(name)} holds it`).toBeUndefined()
            expect(tokens.has(lease.token)).toBe(false)
            owner.set(name, id)
            tokens.add(lease.token)
            grants++
            yield* Effect.yieldNow()
            yield* resources.keepalive(lease.id, 60_000, { holder: `w${id}` })
            yield* Effect.yieldNow()
            expect(owner.get(name)).toBe(id)
            owner.delete(name)
            yield* resources.release(lease.id, { holder: `w${id}`, reason: "done" })
          }
        })
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), worker, { concurrency: "unbounded", discard: true }).pipe(
        // fibers interleave between calls, never inside one: two connections in one thread
        // must not, or one's wait for the write lock would block the thread the other needs
        Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER)
      )
      expect(grants).toBeGreaterThan(10)
      expect(refusals).toBeGreaterThan(0)
      expect(grants + refusals).toBe(1000)
      expect(yield* connections[1].leases({ active: true })).toEqual([])
      expect((yield* connections[1].leases({ limit: 10_000 })).length).toBe(grants)
    }), { timeout: 30_000 })

  it.scoped("a second process on the same file sees the same leases and never gets a held resource", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      // two connections, as two processes have; each call runs whole before the next
      const a = Context.get(yield* Layer.build(processLayer(filename)), Resources)
      const b = Context.get(yield* Layer.build(processLayer(filename)), Resources)
      yield* addDevices(a, 2)
      const first = Option.getOrThrow(yield* a.lease(Device, { holder: "a", ttlMs: 1000 }))
      expect((yield* b.get(Device, first.resource.name)).lease?.holder).toBe("a")
      const second = Option.getOrThrow(yield* b.lease(Device, { holder: "b", ttlMs: 1000 }))
      expect(second.resource.name).not.toBe(first.resource.name)
      expect(second.token).toBeGreaterThan(first.token)
      expect(yield* a.lease(Device, { holder: "a", ttlMs: 1000 })).toEqual(Option.none())
      expect(yield* b.keepalive(first.id, 2000, { holder: "a" })).toBe(2000)
      yield* TestClock.adjust(1000)
      const reclaimed = yield* a.reclaimExpired(Device)
      expect(reclaimed.map((l) => l.id)).toEqual([second.id])
      const third = Option.getOrThrow(yield* a.lease(Device, { holder: "a", ttlMs: 1000 }))
      expect(third.resource.name).toBe(second.resource.name)
      expect(third.token).toBeGreaterThan(second.token)
      expect((yield* b.leases({ active: true })).map((l) => l.id).sort()).toEqual([first.id, third.id].sort())
    }))
})

describe("Resources in batches", () => {
  it.effect("leaseMany serves requests in order from one query per kind of request, like lease one by one", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 3, { model: "pixel" })
      yield* resources.upsert(Device, { name: "other", labels: { model: "moto" } })
      const outcomes = yield* resources.leaseMany(Device, [
        { holder: "a", ttlMs: 1000, labels: { model: "pixel" } },
        { holder: "b", ttlMs: 2000, labels: { model: "moto" } },
        { holder: "c", ttlMs: 1000, labels: { model: "pixel" } },
        { holder: "d", ttlMs: 1000, labels: { model: "moto" } },
        { holder: "e", ttlMs: 1000, labels: { model: "pixel" } },
        { holder: "f", ttlMs: 1000, labels: { model: "pixel" } }
      ])
      expect(outcomes.map((o) => Option.map(o, (l) => [l.holder, l.resource.name, l.expiresAt]))).toEqual([
        Option.some(["a", "d00", 1000]),
        Option.some(["b", "other", 2000]),
        Option.some(["c", "d01", 1000]),
        Option.none(),
        Option.some(["e", "d02", 1000]),
        Option.none()
      ])
      const tokens = outcomes.flatMap((o) => (Option.isSome(o) ? [o.value.token] : []))
      expect(new Set(tokens).size).toBe(4)
      expect(Option.isNone(yield* resources.lease(Device, { holder: "g", ttlMs: 1000 }))).toBe(true)
    })))

  it.effect("releaseMany and keepaliveMany answer per item: released, gone, someone else's, unknown", () =>
    withResources(Effect.gen(function*() {
      const resources = yield* Resources
      yield* addDevices(resources, 3)
      const [a, b, c] = (yield* resources.leaseMany(Device, ["a", "b", "c"].map((holder) => ({ holder, ttlMs: 1000 })))).map(Option.getOrThrow)
      yield* TestClock.adjust(500)
      const kept = yield* resources.keepaliveMany([
        { leaseId: a!.id, ttlMs: 3000, holder: "a" },
        { leaseId: b!.id, ttlMs: 3000, holder: "x" },
        { leaseId: "nope", ttlMs: 3000 },
        { leaseId: c!.id, ttlMs: 100 }
      ])
      expect(kept.map((o) => (o._tag === "Right" ? o.right : o.left._tag))).toEqual([3500, "LeaseHolderMismatch", "LeaseNotFound", 600])
      yield* TestClock.adjust(500)
      const released = yield* resources.releaseMany([
        { leaseId: a!.id, holder: "a", reason: "done" },
        { leaseId: a!.id, holder: "a", reason: "again" },
        { leaseId: b!.id, holder: "x", reason: "done" },
        { leaseId: c!.id, reason: "done" },
        { leaseId: "nope", reason: "done" }
      ])
      expect(released.map((o) => (o._tag === "Right" ? [o.right.id, o.right.endReason, o.right.resource.lease] : o.left._tag))).toEqual([
        [a!.id, "done", undefined],
        "LeaseGone",
        "LeaseHolderMismatch",
        "LeaseGone",
        "LeaseNotFound"
      ])
      expect((yield* resources.get(Device, a!.resource.name)).lastReleasedAt).toBe(1000)
      expect((yield* resources.leases({ active: true })).map((l) => l.id).sort()).toEqual([b!.id, c!.id].sort())
    })))
})
})

// SQLite only for now: on PostgreSQL, with this shared-layer suite in the file, a test of the
// suites above started on the previous test's TestClock (an @effect/vitest layer memo issue, not
// yet understood; the resource SQL itself passes every test above on both engines)
const processLayer = (place = sqlite.place()) => Resources.layer([Device]).pipe(Layer.provideMerge(sqlite.database(place)))

// the runs share one database and one test clock
// in the postgres pass it would only run the sqlite pass's runs again
describe.skipIf(sqliteOnly)("SQLite only (see above)", () => {
layer(processLayer())("Resources under random interleavings", (it) => {
  type Command =
    | { readonly _tag: "lease"; readonly holder: number; readonly ttlMs: number }
    | { readonly _tag: "keepalive"; readonly pick: number; readonly ttlMs: number }
    | { readonly _tag: "release"; readonly pick: number }
    | { readonly _tag: "advance"; readonly ms: number }
    | { readonly _tag: "reclaim" }

  // whole tenths of a second, so that the clock often lands exactly on an expiry
  const tenths = (min: number, max: number) => fc.integer({ min, max }).map((n) => n * 100)
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({ _tag: fc.constant("lease" as const), holder: fc.integer({ min: 0, max: 4 }), ttlMs: tenths(1, 30) }),
    fc.record({ _tag: fc.constant("keepalive" as const), pick: fc.nat(), ttlMs: tenths(1, 30) }),
    fc.record({ _tag: fc.constant("release" as const), pick: fc.nat() }),
    fc.record({ _tag: fc.constant("advance" as const), ms: tenths(0, 20) }),
    fc.constant({ _tag: "reclaim" as const })
  )

  let run = 0
  it.effect.prop(
    "random interleavings of lease, keepalive, release, reclaim and time never give one resource two live holders, and tokens only grow",
    [fc.array(command, { minLength: 1, maxLength: 60 })],
    ([commands]) =>
      Effect.gen(function*() {
        const resources = yield* Resources
        // each run gets its own kind, so runs share one database without seeing each other
        const kind = ResourceKind.make({ ...Device, name: `device-${run++}` })
        for (const name of ["x", "y", "z"]) yield* resources.upsert(kind, { name, labels: {} })
        const granted: Array<Lease> = [] // every lease granted in this run, in grant order
        const ended = new Set<string>()
        let lastToken = 0
        for (const step of commands) {
          const now = yield* Clock.currentTimeMillis
          const liveLeases = () => granted.filter((l) => !ended.has(l.id) && l.expiresAt > now)
          switch (step._tag) {
            case "lease": {
              const result = yield* resources.lease(kind, { holder: `h${step.holder}`, ttlMs: step.ttlMs })
              if (Option.isSome(result)) {
                const lease = result.value
                expect(lease.token).toBeGreaterThan(lastToken)
                lastToken = lease.token
                // the resource had no lease we know of that is open, live or not
                expect(granted.filter((l) => !ended.has(l.id) && l.resource.name === lease.resource.name)).toEqual([])
                granted.push(lease)
              } else {
                // None only when each resource is held by an open lease
                expect(new Set(granted.filter((l) => !ended.has(l.id)).map((l) => l.resource.name)).size).toBe(3)
              }
              break
            }
            case "keepalive":
            case "release": {
              if (granted.length === 0) break
              const lease = granted[step.pick % granted.length]
              const live = !ended.has(lease.id) && lease.expiresAt > now
              const outcome = step._tag === "keepalive"
                ? yield* Effect.either(resources.keepalive(lease.id, step.ttlMs, { holder: lease.holder }))
                : yield* Effect.either(resources.release(lease.id, { holder: lease.holder, reason: "done" }))
              expect(outcome._tag === "Right", `${step._tag} of a ${live ? "live" : "lapsed"} lease`).toBe(live)
              if (outcome._tag === "Left") expect(outcome.left._tag).toBe("LeaseGone")
              if (outcome._tag === "Right" && step._tag === "keepalive") {
                granted[granted.indexOf(lease)] = { ...lease, expiresAt: outcome.right as number }
              }
              if (outcome._tag === "Right" && step._tag === "release") ended.add(lease.id)
              break
            }
            case "advance":
              yield* TestClock.adjust(step.ms)
              break
            case "reclaim": {
              const reclaimed = yield* resources.reclaimExpired(kind)
              const expected = granted.filter((l) => !ended.has(l.id) && l.expiresAt <= now).map((l) => l.id)
              expect(reclaimed.map((l) => l.id).sort()).toEqual(expected.sort())
              for (const l of reclaimed) ended.add(l.id)
              break
            }
          }
          const holders = liveLeases().map((l) => l.resource.name)
          expect(new Set(holders).size).toBe(holders.length)
          const open = yield* resources.leases({ kind, active: true })
          expect(open.map((l) => l.id).sort()).toEqual(granted.filter((l) => !ended.has(l.id)).map((l) => l.id).sort())
        }
      }),
    { fastCheck: { numRuns: 60 } }
  )
})
})
