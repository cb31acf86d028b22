import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as State from "../src/State.js"

describe("/api/state's long-poll (TestClock)", () => {
  it.effect("answers at once for t=0 or an older t; otherwise at the next change, or after the timeout", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("1 second") // t=0 means "now" to the API: start past it
      const state = yield* State.make({ pid: 42, since: 0 })
      const first = yield* state.get
      expect(first).toMatchObject({ current: "idle", events: { pid: 42, since: 0 } })
      expect(yield* state.waitNewer(0, "60 seconds")).toEqual(first)

      // nothing changes: the poll ends at the timeout with the same state
      const quiet = yield* Effect.fork(state.waitNewer(first.t, "60 seconds"))
      yield* TestClock.adjust("59 seconds")
      expect(quiet.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(quiet)).toEqual(first)

      // a change wakes a waiting poll at once, with the new state
      const waiting = yield* Effect.fork(state.waitNewer(first.t, "60 seconds"))
      yield* Effect.yieldNow()
      yield* state.publish({ current: "test", events: { test_name: "speedtest" } })
      const woken = yield* Fiber.join(waiting)
      expect(woken.t).toBeGreaterThan(first.t)
      expect(woken).toMatchObject({ current: "test", events: { pid: 42, test_name: "speedtest" } })
      // an older t is answered at once
      expect(yield* state.waitNewer(first.t, "60 seconds")).toEqual(woken)
    }))

  it.effect("t grows with every change, even within one millisecond", () =>
    Effect.gen(function*() {
      const state = yield* State.make({})
      const ts: Array<number> = []
      for (let i = 0; i < 5; i++) {
        yield* state.publish({ events: { i } })
        ts.push((yield* state.get).t)
      }
      expect(new Set(ts).size).toBe(5)
      expect(ts).toEqual([...ts].sort((a, b) => a - b))
    }))
})
