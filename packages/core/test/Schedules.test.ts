import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Exit, Fiber, Layer, Random, Schema, TestClock } from "effect"
import type { MissedPolicy, SchedulesOptions } from "../src/Schedules.js"
import { cron, interval, ScheduleSpec, Schedules } from "../src/Schedules.js"
import { advanceClock } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"

/** One `orch` process's view: its own connection to the database at `place` (by default a new one). */
const processLayerOn = (backend: Backend) => (place = backend.place(), options: SchedulesOptions = {}) =>
  Schedules.layer(options).pipe(Layer.provideMerge(backend.database(place)))

const minute = 60_000
const hour = 60 * minute
const iso = (ms: number) => new Date(ms).toISOString()

/** What the tests' `onFire` writes: one row per fired run, in the claim's transaction. */
const recordFire = (by: string) => (scheduledAt: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    yield* sql`INSERT INTO test_fired (fired_by, scheduled_at, fired_at) VALUES (${by}, ${scheduledAt}, ${now})`
  })

const createFiredTable = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql.onDialectOrElse({
    // rows come back in insertion order: SQLite's rowid, PostgreSQL's identity
    pg: () => sql`CREATE TABLE IF NOT EXISTS test_fired (rowid BIGINT GENERATED ALWAYS AS IDENTITY,
      fired_by TEXT NOT NULL, scheduled_at BIGINT NOT NULL, fired_at BIGINT NOT NULL)`,
    orElse: () => sql`CREATE TABLE IF NOT EXISTS test_fired (fired_by TEXT NOT NULL, scheduled_at INTEGER NOT NULL, fired_at INTEGER NOT NULL)`
  }))

const firedRows = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ fired_by: string; scheduled_at: number; fired_at: number }>`SELECT fired_by, scheduled_at, fired_at FROM test_fired ORDER BY rowid`)

describe("ScheduleSpec", () => {
  it("decodes cron and interval specs and says what is wrong with a bad one", () => {
    const decode = Schema.decodeUnknownEither(ScheduleSpec)
    expect(decode({ _tag: "Cron", expression: "*/5 * * * *" })._tag).toBe("Right")
    expect(decode({ _tag: "Interval", everyMs: 1000, jitterMs: 10 })._tag).toBe("Right")
    const badCron = decode({ _tag: "Cron", expression: "61 * * * *" })
    expect(badCron._tag === "Left" && badCron.left.message).toContain("61 * * * *")
    const badZone = decode({ _tag: "Cron", expression: "0 9 * * *", timeZone: "Mars/Olympus" })
    expect(badZone._tag === "Left" && badZone.left.message).toContain("Mars/Olympus")
    const never = decode({ _tag: "Cron", expression: "0 0 30 2 *" })
    expect(never._tag === "Left" && never.left.message).toContain("never matches")
    const zero = decode({ _tag: "Interval", everyMs: 0 })
    expect(zero._tag === "Left" && zero.left.message).toContain("everyMs")
  })
})

describeBackends("Schedules", (backend) => {
  const processLayer = processLayerOn(backend)
  it.effect("an interval fires every everyMs plus a jitter within bounds, first after firstDelayMs", () =>
    Effect.gen(function*() {
      const schedules = yield* Schedules
      const created = yield* schedules.ensure("test", "jittery", interval(minute, { jitterMs: 10_000, firstDelayMs: 5 * minute }), { missed: "skip" })
      expect(created.nextRunAt).toBeGreaterThanOrEqual(5 * minute)
      expect(created.nextRunAt).toBeLessThanOrEqual(5 * minute + 10_000)
      expect(yield* schedules.claimDue("test", "jittery")).toEqual([])
      let scheduled = created.nextRunAt
      const gaps: Array<number> = []
      for (let i = 0; i < 20; i++) {
        yield* TestClock.setTime(scheduled)
        expect(yield* schedules.claimDue("test", "jittery")).toEqual([scheduled])
        expect(yield* schedules.claimDue("test", "jittery")).toEqual([])
        const [record] = yield* schedules.list("test")
        expect(record.lastRunAt).toBe(scheduled)
        gaps.push(record.nextRunAt - scheduled)
        scheduled = record.nextRunAt
      }
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(minute)
        expect(gap).toBeLessThanOrEqual(minute + 10_000)
      }
      expect(new Set(gaps).size).toBeGreaterThan(5)
    }).pipe(Effect.withRandom(Random.make("jitter")), Effect.provide(processLayer())))

  it.effect("run sleeps until each run and fires it, driven by the clock", () =>
    Effect.gen(function*() {
      const schedules = yield* Schedules
      const fired: Array<[number, number]> = []
      const fiber = yield* Effect.fork(schedules.run("test", "tick", interval(10 * minute), { missed: "skip", fire: "afterCommit" }, (at) =>
        Effect.map(Clock.currentTimeMillis, (now) => fired.push([at, now]))))
      yield* advanceClock(9 * minute, [fiber])
      expect(fired).toEqual([])
      yield* advanceClock(26 * minute, [fiber])
      expect(fired).toEqual([[10 * minute, 10 * minute], [20 * minute, 20 * minute], [30 * minute, 30 * minute]])
      const [record] = yield* schedules.list()
      expect(record).toMatchObject({ plugin: "test", name: "tick", nextRunAt: 40 * minute, lastRunAt: 30 * minute, lastFiredAt: 30 * minute })
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(processLayer())))

  it.effect("cron runs fall at the expression's times in UTC, in the configured zone and in the spec's zone", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2025-03-28T12:00:00Z")) // Europe/Rome moves to summer time on the 30th
      const runs = (options: SchedulesOptions, spec: ScheduleSpec) =>
        Effect.gen(function*() {
          const schedules = yield* Schedules
          const record = yield* schedules.ensure("test", "daily", spec, { missed: "skip" })
          const times = [record.nextRunAt]
          for (let i = 0; i < 3; i++) {
            yield* TestClock.setTime(times.at(-1)!)
            expect(yield* schedules.claimDue("test", "daily")).toEqual([times.at(-1)!])
            times.push((yield* schedules.list("test"))[0].nextRunAt)
          }
          return times.map(iso)
        }).pipe(Effect.provide(processLayer(undefined, options)))

      expect(yield* runs({}, cron("0 9 * * *"))).toEqual([
        "2025-03-29T09:00:00.000Z",
        "2025-03-30T09:00:00.000Z",
        "2025-03-31T09:00:00.000Z",
        "2025-04-01T09:00:00.000Z"
      ])
      yield* TestClock.setTime(Date.parse("2025-03-28T12:00:00Z"))
      expect(yield* runs({ timeZone: "Europe/Rome" }, cron("0 9 * * *"))).toEqual([
        "2025-03-29T08:00:00.000Z",
        "2025-03-30T07:00:00.000Z",
        "2025-03-31T07:00:00.000Z",
        "2025-04-01T07:00:00.000Z"
      ])
      yield* TestClock.setTime(Date.parse("2025-03-28T12:00:00Z"))
      expect(yield* runs({ timeZone: "Europe/Rome" }, cron("30 6 * * 1-5", "America/New_York"))).toEqual([
        "2025-03-31T10:30:00.000Z",
        "2025-04-01T10:30:00.000Z",
        "2025-04-02T10:30:00.000Z",
        "2025-04-03T10:30:00.000Z"
      ])
    }))

  it.effect("ensure keeps the stored next run for the same cadence and recomputes it from now for a new one", () =>
    Effect.gen(function*() {
      const schedules = yield* Schedules
      const first = yield* schedules.ensure("test", "s", interval(10 * minute), { missed: "skip" })
      expect(first.nextRunAt).toBe(10 * minute)
      yield* TestClock.adjust(3 * minute)
      const same = yield* schedules.ensure("test", "s", interval(10 * minute, { firstDelayMs: minute }), { missed: "all", maxCatchUp: 3 })
      expect(same).toMatchObject({ nextRunAt: 10 * minute, missed: "all", maxCatchUp: 3 })
      const changed = yield* schedules.ensure("test", "s", interval(20 * minute), { missed: "all" })
      expect(changed.nextRunAt).toBe(23 * minute)
      const invalid = yield* Effect.flip(schedules.ensure("test", "bad", cron("0 25 * * *"), { missed: "skip" }))
      expect(invalid._tag).toBe("InvalidSchedule")
      expect(invalid.message).toContain("test/bad")
      yield* schedules.remove("test", "s")
      expect(yield* schedules.list()).toEqual([])
      expect((yield* Effect.flip(schedules.remove("test", "s")))._tag).toBe("ScheduleNotFound")
      expect((yield* Effect.flip(schedules.claimDue("test", "s")))._tag).toBe("ScheduleNotFound")
    }).pipe(Effect.provide(processLayer())))

  it.effect("a restart neither loses nor doubles a run", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      /** One process's life: runs the schedule for `ms` of clock time, then stops. */
      const lifetime = (ms: number) =>
        Effect.gen(function*() {
          const schedules = yield* Schedules
          yield* createFiredTable
          const fiber = yield* Effect.fork(schedules.run("test", "tick", interval(minute), { missed: "all" }, recordFire("p")))
          yield* advanceClock(ms, [fiber])
          yield* Fiber.interrupt(fiber)
        }).pipe(Effect.provide(processLayer(filename)))

      yield* lifetime(150_000) // fires 60 s and 120 s
      yield* TestClock.adjust(20_000) // down, but not past the next run at 180 s
      yield* lifetime(130_000) // 170 s → 300 s: fires 180 s, 240 s, 300 s
      const rows = yield* firedRows.pipe(Effect.provide(backend.database(filename)))
      expect(rows.map((r) => r.scheduled_at)).toEqual([60_000, 120_000, 180_000, 240_000, 300_000])
      expect(rows.every((r) => r.fired_at === r.scheduled_at)).toBe(true)
    }))

  it.effect("a crash inside onFire undoes the claim, and the run fires after the restart", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      const crashed = yield* Effect.gen(function*() {
        const schedules = yield* Schedules
        yield* createFiredTable
        const fiber = yield* Effect.fork(schedules.run("test", "tick", interval(minute), { missed: "once" }, (at) =>
          Effect.zipRight(recordFire("first")(at), at === 120_000 ? Effect.dieMessage("power cut") : Effect.void)))
        yield* advanceClock(130_000, [fiber])
        return yield* Fiber.await(fiber)
      }).pipe(Effect.provide(processLayer(filename)))
      expect(Exit.isFailure(crashed)).toBe(true)

      yield* Effect.gen(function*() {
        const schedules = yield* Schedules
        expect((yield* schedules.list())[0]).toMatchObject({ nextRunAt: 120_000, lastRunAt: 60_000 })
        const fiber = yield* Effect.fork(schedules.run("test", "tick", interval(minute), { missed: "once" }, recordFire("second")))
        yield* advanceClock(60_000, [fiber])
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(processLayer(filename)))

      const rows = yield* firedRows.pipe(Effect.provide(backend.database(filename)))
      expect(rows.map((r) => [r.fired_by, r.scheduled_at, r.fired_at])).toEqual([
        ["first", 60_000, 60_000],
        ["second", 120_000, 130_000], // the catch-up, as soon as the second process started
        ["second", 180_000, 180_000]
      ])
    }))

  describe("runs missed while no process was up", () => {
    /**
     * A schedule every 10 min: the first process fires the run at 10 min and stops; the
     * next starts at 45 min, having missed 20, 30 and 40 min, and runs until 55 min.
     */
    const afterDowntime = (missed: MissedPolicy, extra: { readonly maxCatchUp?: number; readonly downUntil?: number } = {}) =>
      Effect.gen(function*() {
        yield* TestClock.setTime(0)
        const filename = backend.place()
        const options = { missed, ...(extra.maxCatchUp === undefined ? {} : { maxCatchUp: extra.maxCatchUp }) }
        const lifetime = (until: number) =>
          Effect.gen(function*() {
            const schedules = yield* Schedules
            yield* createFiredTable
            const fiber = yield* Effect.fork(schedules.run("test", "tick", interval(10 * minute), options, recordFire("p")))
            yield* advanceClock(until - (yield* Clock.currentTimeMillis), [fiber])
            yield* Fiber.interrupt(fiber)
          }).pipe(Effect.provide(processLayer(filename)))
        yield* lifetime(11 * minute)
        yield* TestClock.setTime(extra.downUntil ?? 45 * minute)
        yield* lifetime(55 * minute)
        const rows = yield* firedRows.pipe(Effect.provide(backend.database(filename)))
        return rows.map((r) => [r.scheduled_at / minute, r.fired_at / minute])
      })

    it.effect("skip drops them and fires the next one on time", () =>
      Effect.gen(function*() {
        expect(yield* afterDowntime("skip")).toEqual([[10, 10], [50, 50]])
      }))

    it.effect("skip still fires the latest one when it is less than graceMs late", () =>
      Effect.gen(function*() {
        expect(yield* afterDowntime("skip", { downUntil: 40.5 * minute })).toEqual([[10, 10], [40, 40.5], [50, 50]])
      }))

    it.effect("once fires the latest one at start, then carries on", () =>
      Effect.gen(function*() {
        expect(yield* afterDowntime("once")).toEqual([[10, 10], [40, 45], [50, 50]])
      }))

    it.effect("all fires each of them at start", () =>
      Effect.gen(function*() {
        expect(yield* afterDowntime("all")).toEqual([[10, 10], [20, 45], [30, 45], [40, 45], [50, 50]])
      }))

    // a test of its own: a clock of its own (sleeps the first run's fibers left would confuse advanceClock)
    it.effect("all fires at most maxCatchUp of the latest", () =>
      Effect.gen(function*() {
        expect(yield* afterDowntime("all", { maxCatchUp: 2 })).toEqual([[10, 10], [30, 45], [40, 45], [50, 50]])
      }))

    it.effect("a cron schedule catches up on the expression's own times", () =>
      Effect.gen(function*() {
        const start = Date.parse("2025-01-01T00:00:00Z")
        yield* TestClock.setTime(start)
        const schedules = yield* Schedules
        yield* schedules.ensure("test", "all", cron("*/10 * * * *"), { missed: "all" })
        yield* schedules.ensure("test", "skip", cron("*/10 * * * *"), { missed: "skip" })
        yield* TestClock.adjust(45 * minute)
        const offsets = (times: ReadonlyArray<number>) => times.map((t) => (t - start) / minute)
        expect(offsets(yield* schedules.claimDue("test", "all"))).toEqual([10, 20, 30, 40])
        expect(offsets(yield* schedules.claimDue("test", "skip"))).toEqual([])
        expect(offsets((yield* schedules.list("test")).map((s) => s.nextRunAt))).toEqual([50, 50])
      }).pipe(Effect.provide(processLayer())))
  })

  it.scoped("a running schedule follows a spec that another process changed", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      const runner = yield* Layer.build(processLayer(filename))
      const editor = yield* Layer.build(processLayer(filename))
      yield* Effect.provide(createFiredTable, runner)
      const fiber = yield* Effect.gen(function*() {
        const schedules = yield* Schedules
        yield* schedules.run("test", "edited", interval(hour), { missed: "skip" }, recordFire("runner"))
      }).pipe(Effect.provide(runner), Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER), Effect.fork)
      yield* advanceClock(5 * minute, [fiber])
      const edited = yield* Effect.flatMap(Schedules, (s) => s.ensure("test", "edited", interval(10 * minute), { missed: "skip" })).pipe(
        Effect.provide(editor)
      )
      expect(edited.nextRunAt).toBe(15 * minute)
      yield* advanceClock(20 * minute, [fiber])
      const rows = yield* Effect.provide(firedRows, editor)
      expect(rows.map((r) => [r.scheduled_at / minute, r.fired_at / minute])).toEqual([[15, 15], [25, 25]])
    }))

  it.scoped("two schedulers over one file fire each run once", () =>
    Effect.gen(function*() {
      const filename = backend.place()
      const first = yield* Layer.build(processLayer(filename))
      const second = yield* Layer.build(processLayer(filename))
      yield* Effect.provide(createFiredTable, first)
      const scheduler = (context: Context.Context<Schedules | SqlClient.SqlClient>, by: string) =>
        Effect.gen(function*() {
          const schedules = yield* Schedules
          return yield* schedules.run("test", "shared", interval(minute, { jitterMs: 5_000 }), { missed: "all" }, recordFire(by))
        }).pipe(
          Effect.provide(context),
          // two connections in one thread: a fiber must not yield inside its transaction, or
          // the other connection's wait for the write lock would block the thread that has to
          // finish it (separate processes have separate threads)
          Effect.withMaxOpsBeforeYield(Number.MAX_SAFE_INTEGER),
          Effect.fork
        )
      const fibers = [yield* scheduler(first, "first"), yield* scheduler(second, "second")]
      yield* advanceClock(20 * minute, fibers)
      yield* Fiber.interruptAll(fibers)
      const rows = yield* Effect.provide(firedRows, second)
      const times = rows.map((r) => r.scheduled_at)
      expect(times.length).toBeGreaterThanOrEqual(16)
      expect(new Set(times).size).toBe(times.length)
      expect([...times].sort((a, b) => a - b)).toEqual(times)
      for (let i = 1; i < times.length; i++) {
        expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(minute)
        expect(times[i] - times[i - 1]).toBeLessThanOrEqual(minute + 5_000)
      }
    }))
})
