/**
 * When each endpoint is checked: one heap of due times and one fiber that sleeps until
 * the earliest, for every endpoint (not a fiber per endpoint), so tens of thousands of
 * endpoints cost one timer. Runs are scheduled from the cron (or interval) times, never
 * from the end of the last check, each endpoint a fixed offset after them (its jitter, under 0.9 of a period,
 * from a hash of its key, so a minute's checks spread out and stay put across restarts);
 * at most `concurrency` checks run at once.
 *
 * A run is missed, and counted, when the endpoint's previous check (or its wait for a
 * slot) has not ended when the run falls due, or when the timetable fell more than a
 * period behind. Runs that fell due while no process was up are not caught up: a monitor
 * wants the state now, not the history it missed.
 */
import { Clock, Cron, Duration, Effect, FiberSet, Queue, type Scope } from "effect"
import * as crypto from "node:crypto"
import type { Cadence, Endpoint } from "./Endpoint.js"
import { MinHeap } from "./Heap.js"

export interface Hooks<R> {
  /** Runs a check; `scheduledAt` is the run's due time (cron time plus offset), `lagMs` how late it started. */
  readonly check: (endpoint: Endpoint, scheduledAt: number, lagMs: number) => Effect.Effect<void, never, R>
  readonly missed: (endpoint: Endpoint, runs: number, reason: "busy" | "behind") => Effect.Effect<void, never, R>
}

export interface Options {
  readonly concurrency: number
  readonly maxJitterMs: number
}

export interface Timetable {
  /**
   * Replaces the endpoints: new and changed ones are scheduled from now, removed ones dropped
   * (with their runs waiting for a slot), others keep their runs.
   */
  readonly set: (endpoints: ReadonlyArray<Endpoint>) => Effect.Effect<void>
  /** The next due time of each endpoint (for status and tests). */
  readonly nextRuns: Effect.Effect<ReadonlyMap<string, number>>
  /** Checks running or waiting for a slot. */
  readonly inFlight: Effect.Effect<number>
}

interface Entry {
  readonly at: number
  /** The cron (or interval) time the run belongs to; `at` is this plus the endpoint's offset. */
  readonly slot: number
  readonly key: string
  readonly generation: number
}

interface Scheduled {
  readonly endpoint: Endpoint
  readonly generation: number
  readonly offsetMs: number
  next: number
}

/** The slot after `slot` (strictly). */
export const slotAfter = (cadence: Cadence, slot: number): number =>
  cadence._tag === "Cron" ? Cron.next(cadence.cron, slot).getTime() : slot + cadence.everyMs

/** The first slot of a new endpoint: the next cron time, or now for an interval. */
const firstSlot = (cadence: Cadence, now: number): number => cadence._tag === "Cron" ? slotAfter(cadence, now - 1) : now

/**
 * The first slot after `slot` whose due time (plus `offsetMs`) is still ahead of `now`,
 * and how many slots before it fell due already (runs missed by a timetable that fell behind).
 */
export const nextAhead = (cadence: Cadence, slot: number, offsetMs: number, now: number): { readonly slot: number; readonly behind: number } => {
  let next = slotAfter(cadence, slot)
  let behind = 0
  while (next + offsetMs <= now) {
    behind++
    next = slotAfter(cadence, next)
  }
  return { slot: next, behind }
}

/** How long one period is around `at` (cron periods vary: this is the one after `at`). */
const periodMs = (cadence: Cadence, at: number): number => {
  if (cadence._tag === "Interval") return cadence.everyMs
  const first = slotAfter(cadence, at)
  return slotAfter(cadence, first) - first
}

/**
 * A fixed offset in [0, min(maxJitterMs, 0.9 period)) from a hash of the key: a run always
 * starts before the next one is due.
 */
export const offsetOf = (endpoint: Endpoint, maxJitterMs: number, now: number): number => {
  const bound = Math.floor(Math.min(maxJitterMs, periodMs(endpoint.cadence, now) * 0.9))
  if (bound <= 0) return 0
  return crypto.createHash("sha1").update(endpoint.key).digest().readUInt32BE(0) % bound
}

/** The longest single sleep, so a clock jump is noticed within it. */
const maxSleepMs = 60_000

/** Starts the timetable; it runs (and its checks are interrupted) until the scope closes. */
export const make = <R>(options: Options, hooks: Hooks<R>): Effect.Effect<Timetable, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const heap = new MinHeap<Entry>()
    const scheduled = new Map<string, Scheduled>()
    const running = new Set<string>()
    let generation = 0
    const wake = yield* Queue.sliding<void>(1)
    const checks = yield* FiberSet.make<void>()

    const enqueue = (key: string, entry: Scheduled, slot: number) => {
      entry.next = slot + entry.offsetMs
      heap.push({ at: entry.next, slot, key, generation: entry.generation })
    }

    const set = (endpoints: ReadonlyArray<Endpoint>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const keep = new Set<string>()
        for (const endpoint of endpoints) {
          keep.add(endpoint.key)
          const current = scheduled.get(endpoint.key)
          if (current?.endpoint.fingerprint === endpoint.fingerprint) continue
          const entry: Scheduled = { endpoint, generation: ++generation, offsetMs: offsetOf(endpoint, options.maxJitterMs, now), next: 0 }
          scheduled.set(endpoint.key, entry)
          let slot = firstSlot(endpoint.cadence, now)
          // a slot whose offset time has passed would start late: the next one is this endpoint's first
          while (slot + entry.offsetMs < now) slot = slotAfter(endpoint.cadence, slot)
          enqueue(endpoint.key, entry, slot)
        }
        for (const key of scheduled.keys()) if (!keep.has(key)) scheduled.delete(key) // its heap entries are skipped when popped
        yield* Queue.offer(wake, undefined)
      })

    // Checks waiting for a slot, first come first served. Not a semaphore: Effect's wakes
    // every waiter on each release, which with thousands waiting stalls the process.
    const waiting: Array<{ readonly entry: Scheduled; readonly at: number }> = []
    let head = 0
    let active = 0

    const runCheck = (entry: Scheduled, at: number): Effect.Effect<void, never, R> =>
      Effect.flatMap(Clock.currentTimeMillis, (startedAt) => hooks.check(entry.endpoint, at, startedAt - at)).pipe(
        Effect.ensuring(Effect.suspend(() => {
          active--
          running.delete(entry.endpoint.key)
          return startWaiting
        }))
      )

    /** Starts waiting checks while there are free slots. */
    const startWaiting: Effect.Effect<void, never, R> = Effect.suspend(() => {
      const starts: Array<{ readonly entry: Scheduled; readonly at: number }> = []
      while (active < options.concurrency && head < waiting.length) {
        const next = waiting[head++]!
        // removed (its jobset let go) or changed while it waited: that run is no longer this timetable's
        if (scheduled.get(next.entry.endpoint.key) !== next.entry) {
          running.delete(next.entry.endpoint.key)
          continue
        }
        starts.push(next)
        active++
      }
      if (head > 1024 && head * 2 > waiting.length) {
        waiting.splice(0, head)
        head = 0
      }
      return Effect.forEach(starts, ({ at, entry }) => FiberSet.run(checks, runCheck(entry, at)), { discard: true })
    })

    const start = (entry: Scheduled, at: number) =>
      Effect.suspend(() => {
        running.add(entry.endpoint.key)
        waiting.push({ entry, at })
        return startWaiting
      })

    /** Pops and acts on every entry due by `now`. */
    const fireDue = (now: number) =>
      Effect.gen(function*() {
        for (let top = heap.peek(); top !== undefined && top.at <= now; top = heap.peek()) {
          heap.pop()
          const entry = scheduled.get(top.key)
          if (entry === undefined || entry.generation !== top.generation) continue // removed or changed since
          const { cadence } = entry.endpoint
          const { behind, slot } = nextAhead(cadence, top.slot, entry.offsetMs, now)
          enqueue(top.key, entry, slot)
          if (behind > 0) yield* hooks.missed(entry.endpoint, behind, "behind")
          if (running.has(top.key)) yield* hooks.missed(entry.endpoint, 1, "busy")
          else yield* start(entry, top.at)
        }
      })

    const loop = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* fireDue(now)
      const top = heap.peek()
      const wait = top === undefined ? maxSleepMs : Math.min(maxSleepMs, top.at - now)
      if (wait > 0) yield* Effect.raceFirst(Effect.sleep(Duration.millis(wait)), Queue.take(wake))
    })
    yield* Effect.forkScoped(Effect.forever(loop))

    return {
      set,
      nextRuns: Effect.sync(() => new Map([...scheduled].map(([key, entry]) => [key, entry.next]))),
      inFlight: Effect.sync(() => running.size)
    }
  })
