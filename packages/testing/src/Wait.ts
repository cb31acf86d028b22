/**
 * Waiting, in an Effect test, for what other fibers or processes do (a worker's own fibers,
 * a daemon's sockets): on real time, a few ms a try, since the TestClock does not move them.
 * `Orch.eventually` is the same for Promise-based tests.
 */
import { Effect } from "effect"

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
