/**
 * Waiting, in an Effect test, for what other fibers or processes do (a worker's own fibers,
 * a daemon's sockets): on real time, a few ms a try, since the TestClock does not move them.
 * `Orch.eventually` is the same for Promise-based tests.
 */
import { Chunk, Clock, Effect, Fiber, Option, TestClock } from "effect"

/** Waits until `check` gives a value and returns it; dies naming `what` after `timeoutMs`. */
export const waitFor = <A, E, R>(what: string, check: Effect.Effect<A | undefined, E, R>, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const tries = Math.ceil(timeoutMs / 5)
    for (let i = 0; i < tries; i++) {
      const value = yield* check
      if (value !== undefined) return value
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    return yield* Effect.dieMessage(`timed out after ${timeoutMs} ms waiting until ${what}`)
  })

/** Waits until `check` holds; dies naming `what` after `timeoutMs`. */
export const waitUntil = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeoutMs = 10_000): Effect.Effect<void, E, R> =>
  Effect.asVoid(waitFor(what, Effect.map(check, (holds) => (holds ? true : undefined)), timeoutMs))

/**
 * `TestClock.adjust(ms)` for fibers whose work between sleeps waits on real I/O (a
 * PostgreSQL round trip): the clock moves one pending sleep at a time, and after each
 * step waits (on real time) until every fiber of `fibers` still running is asleep again,
 * so each one sees the time it slept until, as under SQLite's synchronous driver.
 */
export const advanceClock = (ms: number, fibers: ReadonlyArray<Fiber.Fiber<unknown, unknown>>) =>
  Effect.gen(function*() {
    const target = (yield* Clock.currentTimeMillis) + ms
    const pending = Effect.map(TestClock.sleeps(), Chunk.toReadonlyArray)
    const settled = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const sleeps = yield* pending
      const running = (yield* Effect.forEach(fibers, Fiber.poll)).filter(Option.isNone).length
      return sleeps.length >= running && sleeps.every((at) => at > now)
    })
    for (;;) {
      yield* waitUntil("the clock's fibers are asleep again", settled)
      const sleeps = yield* pending
      const next = sleeps.length === 0 ? Infinity : Math.min(...sleeps)
      if (next > target) return yield* TestClock.setTime(target)
      yield* TestClock.setTime(next)
    }
  })
