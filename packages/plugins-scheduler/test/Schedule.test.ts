import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import { Schedules } from "@orch/core/Schedules"
import { Effect, Exit, Layer, Scope, TestClock } from "effect"
import * as path from "node:path"
import * as Scheduler from "../src/Scheduler.js"
import * as Settings from "../src/Settings.js"
import { sqliteOnly, tempDir, testDatabase } from "@orch/testing"
import { nodeScript, writeDescriptor } from "./helpers.js"

const minute = 60_000

const services = (file: string) =>
  Layer.mergeAll(JobQueue.layer([Scheduler.RunJob]), Schedules.layer({ timeZone: "UTC" })).pipe(
    Layer.provideMerge(testDatabase(file))
  )

/** The runs the schedules enqueued: the time each was due. */
const scheduledRuns = Effect.gen(function*() {
  const queue = yield* JobQueue
  const jobs = yield* queue.list({ plugin: "scheduler", kind: "run", limit: 1000 })
  return jobs.map((job) => job.payload as { scheduledAt: number; test: string })
    .sort((a, b) => a.scheduledAt - b.scheduledAt)
    .map((p) => `${p.test}@${p.scheduledAt}`)
})

/** Lets the fibers the clock woke finish their database work. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

/** One scheduler "process": started in its own scope, stopped by closing it. */
const startScheduler = (config: Settings.SchedulerConfig, dataDir: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const started = yield* Scope.extend(
      Scheduler.make(config, { dataDir, speedTestUrl: "http://127.0.0.1:1/scheduler/speedtest", exit: Effect.void }),
      scope
    )
    yield* started.refresh
    yield* settle
    return { ...started, stop: Scope.close(scope, Exit.void) }
  })

const setup = (schedule?: unknown) => {
  const dir = tempDir()
  const descriptors = path.join(dir, "descriptors")
  writeDescriptor(descriptors, "probe", { command: nodeScript("console.log('{}')"), ...(schedule ? { schedule } : {}) } as never)
  const config: Settings.SchedulerConfig = { ...Settings.SchedulerConfigDefaults, descriptors, bundled: false }
  return { config, dataDir: path.join(dir, "data"), database: path.join(dir, "orch.sqlite") }
}

// SQLite only: the test clock drives the scheduler's timers, and PostgreSQL's round trips end in
// real time after the clock has moved on; core's Schedules.test runs the same store on both engines
describe.skipIf(sqliteOnly)("schedules (TestClock; SQLite only)", () => {
  it.scoped("Neubot's default: first run 5 min after start, then a period of 23 to 27 min drawn once", () => {
    const { config, dataDir, database } = setup()
    return Effect.gen(function*() {
      const first = yield* startScheduler(config, dataDir)
      const [next] = yield* first.service.nextRuns
      expect(next!.nextRunAt).toBe(5 * minute)
      const spec = next!.spec
      if (spec._tag !== "Interval") throw new Error("expected an interval")
      expect(spec.everyMs).toBeGreaterThanOrEqual(23 * minute)
      expect(spec.everyMs).toBeLessThanOrEqual(27 * minute)
      expect(spec.jitterMs).toBe(0)

      yield* TestClock.adjust(5 * minute - 1)
      yield* settle
      expect(yield* scheduledRuns).toEqual([])
      yield* TestClock.adjust(1)
      yield* settle
      expect(yield* scheduledRuns).toEqual([`probe@${5 * minute}`])
      yield* TestClock.adjust(spec.everyMs)
      yield* settle
      expect(yield* scheduledRuns).toEqual([`probe@${5 * minute}`, `probe@${5 * minute + spec.everyMs}`])

      // the period was stored: a restart keeps it and the next run, rather than drawing anew
      yield* first.stop
      for (let i = 0; i < 3; i++) {
        const again = yield* startScheduler(config, dataDir)
        const [after] = yield* again.service.nextRuns
        expect(after!.spec).toEqual(spec)
        expect(after!.nextRunAt).toBe(5 * minute + 2 * spec.everyMs)
        yield* again.stop
      }
    }).pipe(Effect.provide(services(database)))
  })

  it.scoped("a restart neither loses nor doubles a scheduled run", () => {
    const { config, dataDir, database } = setup({ every: 600 })
    return Effect.gen(function*() {
      const first = yield* startScheduler(config, dataDir)
      expect((yield* first.service.nextRuns)[0]!.nextRunAt).toBe(10 * minute)
      yield* first.stop

      // down while the run falls due: it fires once when the scheduler is back
      yield* TestClock.adjust(13 * minute)
      const second = yield* startScheduler(config, dataDir)
      expect(yield* scheduledRuns).toEqual([`probe@${10 * minute}`])
      expect((yield* second.service.nextRuns)[0]!.nextRunAt).toBe(20 * minute)
      yield* second.stop

      // restarted again before the next run: nothing more
      const third = yield* startScheduler(config, dataDir)
      expect(yield* scheduledRuns).toEqual([`probe@${10 * minute}`])
      yield* TestClock.adjust(7 * minute)
      yield* settle
      expect(yield* scheduledRuns).toEqual([`probe@${10 * minute}`, `probe@${20 * minute}`])
      yield* third.stop
    }).pipe(Effect.provide(services(database)))
  })

  it.scoped("a cron schedule fires at its times", () => {
    const { config, dataDir, database } = setup({ cron: "*/30 * * * *" })
    return Effect.gen(function*() {
      const started = yield* startScheduler(config, dataDir)
      expect((yield* started.service.nextRuns)[0]!.nextRunAt).toBe(30 * minute)
      yield* TestClock.adjust(65 * minute)
      yield* settle
      expect(yield* scheduledRuns).toEqual([`probe@${30 * minute}`, `probe@${60 * minute}`])
    }).pipe(Effect.provide(services(database)))
  })

  it.scoped("with enabled=0 a due run is skipped, and said so in the log store", () => {
    const { config, dataDir, database } = setup({ every: 60 })
    return Effect.gen(function*() {
      const started = yield* startScheduler(config, dataDir)
      yield* started.service.engine.updateSettings([["enabled", "0"]])
      yield* TestClock.adjust(minute)
      yield* settle
      expect(yield* scheduledRuns).toEqual([])
      const log = yield* started.service.engine.stores.log.select({ severities: ["INFO"], newestFirst: true, limit: 1 })
      expect(log[0]!.message).toMatch(/automatic run of probe due at .* skipped \(enabled=0\)/)
    }).pipe(Effect.provide(services(database)))
  })
})
