import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Ref, TestClock } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as Supervisor from "../src/Supervisor.js"

const restartsOf = (name: string) =>
  Effect.map(Metric.value(Metric.tagged(Metrics.loopRestarts, "loop", name)), (state) => state.count)

describe("Supervisor", () => {
  it.scoped("restarts a failing loop with exponential backoff and counts each restart", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const runs = yield* Ref.make(0)
      yield* supervisor.loop(
        "test:flaky",
        Effect.zipRight(Ref.update(runs, (n) => n + 1), Effect.fail("boom")),
        { backoff: { initial: "1 second", max: "4 seconds" } }
      )
      yield* Effect.yieldNow()
      expect(yield* Ref.get(runs)).toBe(1)
      yield* TestClock.adjust("1 second") // first retry after 1 s
      expect(yield* Ref.get(runs)).toBe(2)
      yield* TestClock.adjust("1 second") // the second waits 2 s
      expect(yield* Ref.get(runs)).toBe(2)
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(runs)).toBe(3)
      yield* TestClock.adjust("4 seconds") // capped at 4 s from now on
      expect(yield* Ref.get(runs)).toBe(4)
      yield* TestClock.adjust("4 seconds")
      expect(yield* Ref.get(runs)).toBe(5)
      expect(yield* restartsOf("test:flaky")).toBeGreaterThanOrEqual(5)
      const [status] = yield* supervisor.status
      expect(status).toMatchObject({ name: "test:flaky", running: true, consecutiveFailures: 5, lastError: "boom" })
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("a resource that comes up and breaks again and again stays failing across its restarts, until it stays up", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const attempts = yield* Ref.make(0)
      const statusOf = Effect.map(supervisor.status, (all) => all.find((s) => s.name === "test:flapping")!)
      yield* supervisor.resource(
        "test:flapping",
        Ref.updateAndGet(attempts, (n) => n + 1),
        // the first three builds break at once in use; the fourth stays up
        (attempt) => attempt <= 3 ? Effect.fail(`broken in use (${attempt})`) : Effect.never,
        { backoff: { initial: "1 second", max: "1 second" } }
      )
      yield* Effect.yieldNow()
      expect(yield* statusOf).toMatchObject({ recentFailures: 1 })
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(attempts)).toBe(3)
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(attempts)).toBe(4)
      // up again: the backoff starts over, but the three breaks still count
      const up = yield* statusOf
      expect(up).toMatchObject({ running: true, starting: false, consecutiveFailures: 0, recentFailures: 3 })
      expect(Supervisor.isFailing(up)).toBe(true)
      yield* TestClock.adjust(Supervisor.stableAfter)
      const stable = yield* statusOf
      expect(stable).toMatchObject({ recentFailures: 0 })
      expect(Supervisor.isFailing(stable)).toBe(false)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("a loop's successful iteration forgives its failures", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const runs = yield* Ref.make(0)
      yield* supervisor.loop(
        "test:recovers",
        Effect.flatMap(Ref.updateAndGet(runs, (n) => n + 1), (n) => n <= 2 ? Effect.fail("boom") : Effect.void),
        { every: "10 seconds", backoff: { initial: "1 second", max: "1 second" } }
      )
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 second")
      const failing = (yield* supervisor.status)[0]!
      expect(failing).toMatchObject({ recentFailures: 2 })
      expect(Supervisor.isFailing(failing)).toBe(true)
      yield* TestClock.adjust("1 second")
      const recovered = (yield* supervisor.status)[0]!
      expect(recovered).toMatchObject({ recentFailures: 0, consecutiveFailures: 0 })
      expect(Supervisor.isFailing(recovered)).toBe(false)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("a loop that dies never stops another loop", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const healthy = yield* Ref.make(0)
      yield* supervisor.loop("test:dies", Effect.die(new Error("defect")), { every: "1 second" })
      yield* supervisor.loop("test:healthy", Ref.update(healthy, (n) => n + 1), { every: "1 second" })
      yield* TestClock.adjust("10 seconds")
      expect(yield* Ref.get(healthy)).toBe(11)
      const statuses = yield* supervisor.status
      expect(statuses.find((s) => s.name === "test:dies")?.lastError).toBe("defect")
      expect(statuses.find((s) => s.name === "test:healthy")?.consecutiveFailures).toBe(0)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("drain lets the iteration in hand finish and starts no new one", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const started = yield* Deferred.make<void>()
      const finished = yield* Ref.make(0)
      const iterations = yield* Ref.make(0)
      yield* supervisor.loop(
        "test:slow",
        Effect.gen(function*() {
          yield* Ref.update(iterations, (n) => n + 1)
          yield* Deferred.succeed(started, undefined)
          yield* Effect.sleep("3 seconds")
          yield* Ref.update(finished, (n) => n + 1)
        })
      )
      yield* Deferred.await(started)
      const drain = yield* Effect.fork(supervisor.drain("10 seconds"))
      yield* TestClock.adjust("3 seconds")
      yield* Fiber.join(drain)
      expect(yield* Ref.get(finished)).toBe(1)
      expect(yield* Ref.get(iterations)).toBe(1)
      expect(yield* supervisor.isDraining).toBe(true)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("drain interrupts what is still busy when the grace period runs out", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const finished = yield* Ref.make(false)
      yield* supervisor.loop("test:stuck", Effect.zipRight(Effect.sleep("1 hour"), Ref.set(finished, true)))
      yield* Effect.yieldNow()
      const drain = yield* Effect.fork(supervisor.drain("5 seconds"))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(drain)
      expect(yield* Ref.get(finished)).toBe(false)
      const [status] = yield* supervisor.status
      expect(status.running).toBe(false)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("a daemon that fails is restarted, and interrupted by drain", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const starts = yield* Ref.make(0)
      yield* supervisor.daemon(
        "test:daemon",
        Effect.zipRight(Ref.update(starts, (n) => n + 1), Effect.zipRight(Effect.sleep("1 second"), Effect.fail("lost"))),
        { backoff: { initial: "1 second", max: "1 second" } }
      )
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(starts)).toBe(2)
      yield* supervisor.drain("1 second")
      const [status] = yield* supervisor.status
      expect(status.running).toBe(false)
    }).pipe(Effect.provide(Supervisor.layer)))

  it.scoped("a resource is starting until acquired, rebuilt with backoff when acquiring fails, and released when its use fails", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const attempts = yield* Ref.make(0)
      const released = yield* Ref.make(0)
      const broken = yield* Deferred.make<void>()
      const statusOf = Effect.map(supervisor.status, (all) => all.find((s) => s.name === "test:resource")!)
      yield* supervisor.resource(
        "test:resource",
        Effect.gen(function*() {
          const attempt = yield* Ref.updateAndGet(attempts, (n) => n + 1)
          yield* Effect.addFinalizer(() => Ref.update(released, (n) => n + 1))
          if (attempt <= 2) return yield* Effect.fail(`attempt ${attempt} failed`)
          if (attempt === 3) yield* Effect.sleep("1 second") // slow to come up
          return attempt
        }),
        (attempt) => attempt === 3 ? Effect.zipRight(Deferred.await(broken), Effect.fail("broken in use")) : Effect.never,
        { backoff: { initial: "1 second", max: "10 seconds" } }
      )
      yield* Effect.yieldNow()
      expect(yield* statusOf).toMatchObject({ consecutiveFailures: 1, lastError: "attempt 1 failed", starting: false })
      yield* TestClock.adjust("1 second")
      expect(yield* statusOf).toMatchObject({ consecutiveFailures: 2, lastError: "attempt 2 failed" })
      yield* TestClock.adjust("1 second") // the second failure waits 2 s
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("1 second")
      expect(yield* statusOf).toMatchObject({ starting: true, consecutiveFailures: 2 })
      yield* TestClock.adjust("1 second")
      // acquired: the failures are forgiven, so the next restart waits the initial delay again
      expect(yield* statusOf).toMatchObject({ starting: false, consecutiveFailures: 0, running: true })
      expect(yield* Ref.get(released)).toBe(2)
      yield* Deferred.succeed(broken, undefined)
      yield* Effect.yieldNow()
      expect(yield* statusOf).toMatchObject({ consecutiveFailures: 1, lastError: "broken in use", restarts: 3 })
      expect(yield* Ref.get(released)).toBe(3)
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(attempts)).toBe(4)
      expect(yield* statusOf).toMatchObject({ consecutiveFailures: 0, running: true })
      yield* supervisor.drain("1 second")
      expect(yield* Ref.get(released)).toBe(4)
      expect(yield* statusOf).toMatchObject({ running: false })
    }).pipe(Effect.provide(Supervisor.layer)))
})
