import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import type { Endpoint } from "../src/Endpoint.js"
import * as EndpointFiles from "../src/EndpointFiles.js"
import { MinHeap } from "../src/Heap.js"
import * as Timetable from "../src/Timetable.js"

const defaults = { timeoutMs: 2_000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }

const endpoints = (yaml: string): ReadonlyArray<Endpoint> => {
  const load = EndpointFiles.loadText(yaml, "t.yml", defaults)
  expect(load.problems.map(String)).toEqual([])
  return load.endpoints
}

/** A timetable whose checks take `checkMs` (of the test clock) and are recorded. */
const recording = (options: Timetable.Options, checkMs = 0) =>
  Effect.gen(function*() {
    const checks: Array<{ key: string; scheduledAt: number; lagMs: number }> = []
    const missed: Array<{ key: string; runs: number; reason: string }> = []
    const timetable = yield* Timetable.make(options, {
      check: (endpoint, scheduledAt, lagMs) =>
        Effect.sync(() => checks.push({ key: endpoint.key, scheduledAt, lagMs })).pipe(
          Effect.zipRight(checkMs > 0 ? Effect.sleep(`${checkMs} millis`) : Effect.void)
        ),
      missed: (endpoint, runs, reason) => Effect.sync(() => missed.push({ key: endpoint.key, runs, reason }))
    })
    return { timetable, checks, missed }
  })

const minute = 60_000

describe("heap", () => {
  it("pops in time order", () => {
    const heap = new MinHeap<{ at: number }>()
    const times = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000)
    for (const at of times) heap.push({ at })
    const out: Array<number> = []
    while (heap.size > 0) out.push(heap.pop()!.at)
    expect(out).toEqual([...times].sort((a, b) => a - b))
  })
})

describe("timetable", () => {
  it.scoped("cron runs at each cron time plus the endpoint's fixed offset, with zero lag when nothing is busy", () =>
    Effect.gen(function*() {
      const { timetable, checks, missed } = yield* recording({ concurrency: 10, maxJitterMs: 5_000 })
      const [a, b] = endpoints(`a:\n  cron_schedule: "* * * * *"\n  url: http://127.0.0.1:1/\nb:\n  cron_schedule: "*/2 * * * *"\n  url: http://127.0.0.1:1/\n`)
      yield* timetable.set([a!, b!])
      yield* TestClock.adjust(4 * minute + 10_000)
      const offsetA = Timetable.offsetOf(a!, 5_000, 0)
      const offsetB = Timetable.offsetOf(b!, 5_000, 0)
      expect(offsetA).toBeGreaterThanOrEqual(0)
      expect(offsetA).toBeLessThan(5_000)
      expect(checks.filter((c) => c.key === "a").map((c) => c.scheduledAt)).toEqual([0, 1, 2, 3, 4].map((m) => m * minute + offsetA))
      expect(checks.filter((c) => c.key === "b").map((c) => c.scheduledAt)).toEqual([0, 2, 4].map((m) => m * minute + offsetB))
      expect(checks.every((c) => c.lagMs === 0)).toBe(true)
      expect(missed).toEqual([])
    }))

  it.scoped("an interval runs every period from the previous scheduled time, not from the end of the check", () =>
    Effect.gen(function*() {
      const { timetable, checks } = yield* recording({ concurrency: 10, maxJitterMs: 0 }, 3_000)
      yield* timetable.set(endpoints(`i:\n  interval: 10s\n  url: http://127.0.0.1:1/\n`))
      yield* TestClock.adjust(35_000)
      expect(checks.map((c) => c.scheduledAt)).toEqual([0, 10_000, 20_000, 30_000])
    }))

  it.scoped("bounded concurrency: checks wait for a slot (their lag recorded); a run due while the last still runs is missed", () =>
    Effect.gen(function*() {
      const { timetable, checks, missed } = yield* recording({ concurrency: 2, maxJitterMs: 0 }, 4_000)
      yield* timetable.set(endpoints(["p", "q", "r", "s"].map((k) => `${k}:\n  interval: 10s\n  url: http://127.0.0.1:1/\n`).join("")))
      yield* TestClock.adjust(9_000)
      // two at 0, two more once those end at 4 s
      expect(checks.map((c) => [c.scheduledAt, c.lagMs])).toEqual([[0, 0], [0, 0], [0, 4_000], [0, 4_000]])
      expect(new Set(checks.map((c) => c.key))).toEqual(new Set(["p", "q", "r", "s"]))
      expect(missed).toEqual([])

      const { timetable: slow, checks: slowChecks, missed: slowMissed } = yield* recording({ concurrency: 4, maxJitterMs: 0 }, 25_000)
      yield* slow.set(endpoints(`z:\n  interval: 10s\n  url: http://127.0.0.1:1/\n`))
      yield* TestClock.adjust(41_000)
      // from t0 = 9 s: the first check runs to t0+25 s, so t0+10 and t0+20 are missed; the one of t0+30 runs
      // to t0+55 s, so t0+40 is missed too
      expect(slowChecks.map((c) => c.scheduledAt - 9_000)).toEqual([0, 30_000])
      expect(slowMissed).toEqual(Array.from({ length: 3 }, () => ({ key: "z", runs: 1, reason: "busy" })))
    }))

  it.scoped("changed endpoints are rescheduled, removed ones stop, unchanged ones keep their runs", () =>
    Effect.gen(function*() {
      const { timetable, checks } = yield* recording({ concurrency: 10, maxJitterMs: 0 })
      yield* timetable.set(endpoints(`a:\n  interval: 10s\n  url: http://127.0.0.1:1/\nb:\n  interval: 10s\n  url: http://127.0.0.1:1/\n`))
      yield* TestClock.adjust(15_000)
      yield* timetable.set(endpoints(`a:\n  interval: 10s\n  url: http://127.0.0.1:1/\nc:\n  interval: 20s\n  url: http://127.0.0.1:1/\n`))
      yield* TestClock.adjust(30_000)
      expect(checks.filter((c) => c.key === "a").map((c) => c.scheduledAt)).toEqual([0, 10_000, 20_000, 30_000, 40_000])
      expect(checks.filter((c) => c.key === "b").map((c) => c.scheduledAt)).toEqual([0, 10_000])
      expect(checks.filter((c) => c.key === "c").map((c) => c.scheduledAt)).toEqual([15_000, 35_000])
      expect((yield* timetable.nextRuns).get("c")).toBe(55_000)
    }))

  it("a timetable far behind (the process was stalled) skips to the next run ahead and counts the ones it skipped", () => {
    const [a] = endpoints(`a:\n  interval: 10s\n  url: http://127.0.0.1:1/\n`)
    expect(Timetable.nextAhead(a!.cadence, 0, 0, 5_000)).toEqual({ slot: 10_000, behind: 0 })
    expect(Timetable.nextAhead(a!.cadence, 0, 0, 55_000)).toEqual({ slot: 60_000, behind: 5 })
    expect(Timetable.nextAhead(a!.cadence, 0, 2_000, 51_000)).toEqual({ slot: 50_000, behind: 4 })
    const [c] = endpoints(`c:\n  cron_schedule: "*/5 * * * *"\n  url: http://127.0.0.1:1/\n`)
    expect(Timetable.nextAhead(c!.cadence, 0, 0, 16 * minute)).toEqual({ slot: 20 * minute, behind: 3 })
  })

  it.scoped("endpoints removed (their jobset let go) leave the heap and the queue for a slot; added ones join from their next run", () =>
    Effect.gen(function*() {
      const { timetable, checks } = yield* recording({ concurrency: 1, maxJitterMs: 0 }, 1_000)
      const all = endpoints(["a", "b", "c"].map((k) => `${k}:\n  cron_schedule: "*/10 * * * * *"\n  url: http://127.0.0.1:1/\n`).join(""))
      yield* timetable.set(all)
      yield* TestClock.adjust(500) // a runs (1 s each); b and c wait for the one slot
      yield* timetable.set([all[0]!]) // b and c let go while waiting
      yield* TestClock.adjust(9_000)
      expect(checks.map((c) => c.key)).toEqual(["a"])
      expect([...(yield* timetable.nextRuns).keys()]).toEqual(["a"])
      yield* timetable.set(all) // taken back at 9.5 s: from their next run, at 10 s
      yield* TestClock.adjust(10_000)
      expect(checks.map((c) => `${c.key}@${c.scheduledAt}`).sort()).toEqual(["a@0", "a@10000", "b@10000", "c@10000"])
    }))
})
