import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Metric, Schedule, Schema, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Config from "../src/Config.js"
import { JobKind } from "../src/Jobs.js"
import * as Migrations from "../src/Migrations.js"
import * as Plugin from "../src/Plugin.js"
import * as Retention from "../src/Retention.js"
import { RetentionSection } from "../src/RetentionPolicy.js"
import * as Supervisor from "../src/Supervisor.js"
import { countRows, seedEvents, seedJobs, seedLeases, tempDir } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"

const day = 86_400_000
const now = 400 * day

const Work = JobKind.simple({ plugin: "demo", name: "work", payload: Schema.Struct({}), result: Schema.Struct({}) })
const Other = JobKind.simple({ plugin: "demo", name: "other", payload: Schema.Struct({}), result: Schema.Struct({}) })

/** A plugin with a table of rows per job and one per lease, as the watchdog and the allocator have. */
const demo = Plugin.make({
  name: "demo",
  description: "retention test plugin",
  config: Schema.Struct({}),
  migrations: {
    "0001_notes": `CREATE TABLE demo_job_notes (job_id BIGINT NOT NULL, note TEXT NOT NULL);
CREATE TABLE demo_lease_notes (lease_id TEXT NOT NULL, note TEXT NOT NULL);`
  },
  jobKinds: [Work, Other],
  retention: [
    { table: "demo_job_notes", column: "job_id", belongsTo: "job" },
    { table: "demo_lease_notes", column: "lease_id", belongsTo: "lease" }
  ]
})

const settings = (raw: unknown = {}) => Schema.decodeUnknownSync(RetentionSection)(raw)
const target = (raw: unknown = {}, plugins: ReadonlyArray<Plugin.Plugin> = [demo]) => Retention.targetOf(plugins, settings(raw))

const databaseOn = (backend: Backend) => () => Layer.effectDiscard(Migrations.apply("demo", demo.migrations!)).pipe(
  Layer.provideMerge(backend.database())
)

const withDatabaseOn = (backend: Backend) => <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(now)
    return yield* effect
  }).pipe(Effect.provide(databaseOn(backend)()))

const rowsOf = (report: Retention.PruneReport) => Object.fromEntries(report.tables.map((t) => [t.table, t.rows]))

const noteJobs = (ids: ReadonlyArray<number>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO demo_job_notes ${sql.insert(ids.map((id) => ({ job_id: id, note: "n" })))}`)

const jobIds = (where: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.map(sql.unsafe<{ id: unknown }>(`SELECT id FROM orch_jobs WHERE ${where} ORDER BY id`), (rows) => rows.map((r) => Number(r.id))))

describeBackends("Retention", (backend) => {
  const database = databaseOn(backend)
  const withDatabase = withDatabaseOn(backend)
  it.effect("removes finished jobs older than maxAge with their history and plugin rows; keeps young, unfinished, leased and unknown-kind jobs", () =>
    withDatabase(Effect.gen(function*() {
      const old = now - 20 * day
      const gone = [
        ...yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 300, updatedAt: old, history: 2 }),
        ...yield* seedJobs({ plugin: "demo", kind: "work", state: "dead", count: 20, updatedAt: old, history: 3 }),
        ...yield* seedJobs({ plugin: "demo", kind: "work", state: "cancelled", count: 10, updatedAt: old, history: 1 })
      ]
      const young = yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 40, updatedAt: now - 13 * day, history: 2 })
      const waiting = yield* seedJobs({ plugin: "demo", kind: "work", state: "queued", count: 30, updatedAt: now - 90 * day, history: 1 })
      const running = yield* seedJobs({ plugin: "demo", kind: "work", state: "queued", count: 5, updatedAt: old, history: 1, leased: true })
      const unknown = yield* seedJobs({ plugin: "gone", kind: "job", state: "succeeded", count: 7, updatedAt: old, history: 1 })
      yield* noteJobs([...gone, ...young.slice(0, 3)])

      const report = yield* Retention.prune(target())
      expect(rowsOf(report)).toMatchObject({
        orch_jobs: 330,
        orch_job_history: 300 * 2 + 20 * 3 + 10,
        demo_job_notes: 330,
        orch_resource_leases: 0,
        orch_resource_events: 0
      })
      const kept = [...young, ...waiting, ...running, ...unknown]
      expect(yield* jobIds("1 = 1")).toEqual(kept)
      expect(yield* countRows("orch_job_history")).toBe(40 * 2 + 30 + 5 + 7)
      expect(yield* jobIds("id IN (SELECT job_id FROM orch_job_history)")).toEqual(kept)
      expect(yield* countRows("demo_job_notes")).toBe(3)
      const counted = yield* Metric.value(Metric.tagged(Retention.prunedRows, "table", "orch_jobs"))
      expect(counted.count).toBeGreaterThanOrEqual(330)
      // a second pass finds nothing
      expect(rowsOf(yield* Retention.prune(target())).orch_jobs).toBe(0)
    })))

  it.effect("a kind's override beats its plugin's, which beats the defaults, field by field", () =>
    withDatabase(Effect.gen(function*() {
      yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 50, updatedAt: now - 2 * day })
      yield* seedJobs({ plugin: "demo", kind: "other", state: "succeeded", count: 60, updatedAt: now - 2 * day })
      yield* seedJobs({ plugin: "demo", kind: "other", state: "succeeded", count: 10, updatedAt: now - 60_000 })
      const report = yield* Retention.prune(target({
        jobs: { maxCount: 5, overrides: { demo: { maxCount: "unlimited", maxAge: "forever" }, "demo/other": { maxAge: "1 day" } } }
      }))
      // demo/work: forever and unlimited from the plugin's override; demo/other: 1 day, unlimited
      expect(rowsOf(report).orch_jobs).toBe(60)
      expect(yield* countRows("orch_jobs")).toBe(60)
      expect((yield* jobIds("kind = 'other'")).length).toBe(10)
    })))

  it.effect("maxCount keeps the newest of each kind", () =>
    withDatabase(Effect.gen(function*() {
      const work = yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 1000, updatedAt: now - day, step: 1000 })
      const other = yield* seedJobs({ plugin: "demo", kind: "other", state: "dead", count: 200, updatedAt: now - day })
      const report = yield* Retention.prune(target({ jobs: { maxCount: 300 } }))
      expect(rowsOf(report).orch_jobs).toBe(700)
      expect(yield* jobIds("kind = 'work'")).toEqual(work.slice(700))
      expect(yield* jobIds("kind = 'other'")).toEqual(other)
    })))

  it.effect("maxCount is exact when many jobs finished in the same millisecond: ties are cut by id", () =>
    withDatabase(Effect.gen(function*() {
      const ids = yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 100, updatedAt: now - 1000, step: 0 })
      const report = yield* Retention.prune(target({ jobs: { maxCount: 30 } }))
      expect(rowsOf(report).orch_jobs).toBe(70)
      expect(yield* jobIds("1 = 1")).toEqual(ids.slice(70))
    })))

  it.effect("removes in transactions of batchSize rows: 2,500 rows with a batch of 500 take 5", () =>
    withDatabase(Effect.gen(function*() {
      yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 2500, updatedAt: now - 30 * day, history: 1 })
      const report = yield* Retention.prune(Retention.targetOf([Plugin.make({ ...demo, jobKinds: [Work] })], settings({ batchSize: 500 })))
      expect(rowsOf(report)).toMatchObject({ orch_jobs: 2500, orch_job_history: 2500 })
      expect(report.transactions).toBe(5)
      expect(yield* countRows("orch_jobs")).toBe(0)
    })))

  it.effect("a pass stops between batches once told to (shutdown), and starts no kind after", () =>
    withDatabase(Effect.gen(function*() {
      yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 1000, updatedAt: now - 30 * day })
      // asked before the first kind (no), then after each batch (yes from then on)
      let asked = 0
      const report = yield* Retention.prune(target({ batchSize: 100 }), { stop: Effect.sync(() => ++asked > 1) })
      expect(rowsOf(report).orch_jobs).toBe(100)
      expect(yield* countRows("orch_jobs")).toBe(900)
    })))

  it.effect("removes ended leases (and the plugin's rows for them) by age and count, never an open one", () =>
    withDatabase(Effect.gen(function*() {
      const a = yield* seedLeases({ plugin: "demo", kind: "device", resource: "a", count: 100, endedAt: now - 30 * day, lastOpen: true })
      const b = yield* seedLeases({ plugin: "demo", kind: "device", resource: "b", count: 50, endedAt: now - day, step: 1000 })
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO demo_lease_notes ${sql.insert([...a, ...b].map((id) => ({ lease_id: id, note: "ttl" })))}`
      const dry = yield* Retention.prune(target({ leases: { maxCount: 20 } }), { dryRun: true })
      expect(rowsOf(dry)).toMatchObject({ orch_resource_leases: 99 + 30, demo_lease_notes: 99 + 30 })
      expect(yield* countRows("orch_resource_leases")).toBe(150)

      const report = yield* Retention.prune(target({ leases: { maxCount: 20 } }))
      expect(rowsOf(report)).toMatchObject({ orch_resource_leases: 129, demo_lease_notes: 129 })
      const left = yield* sql<{ id: string; ended_at: unknown }>`SELECT id, ended_at FROM orch_resource_leases ORDER BY granted_at`
      expect(left.map((l) => l.id)).toEqual([a[99], ...b.slice(30)])
      expect(left[0]!.ended_at).toBeNull()
      expect(yield* countRows("demo_lease_notes")).toBe(21)
    })))

  it.effect("removes old resource events but each resource's newest", () =>
    withDatabase(Effect.gen(function*() {
      yield* seedLeases({ plugin: "demo", kind: "device", resource: "a", count: 1, endedAt: now })
      yield* seedLeases({ plugin: "demo", kind: "device", resource: "b", count: 1, endedAt: now })
      yield* seedEvents({ plugin: "demo", kind: "device", resource: "a", count: 40, at: now - 100 * day })
      yield* seedEvents({ plugin: "demo", kind: "device", resource: "b", count: 10, at: now - 100 * day })
      yield* seedEvents({ plugin: "demo", kind: "device", resource: "b", count: 5, at: now - day })
      const report = yield* Retention.prune(target())
      expect(rowsOf(report).orch_resource_events).toBe(39 + 10)
      const sql = yield* SqlClient.SqlClient
      const left = yield* sql<{ resource: string; n: unknown }>`SELECT resource, COUNT(*) AS n FROM orch_resource_events GROUP BY resource ORDER BY resource`
      expect(left.map((r) => [r.resource, Number(r.n)])).toEqual([["a", 1], ["b", 5]])
    })))

  it.effect("a dry run counts what would go and removes nothing", () =>
    withDatabase(Effect.gen(function*() {
      const ids = yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 25, updatedAt: now - 20 * day, history: 2 })
      yield* noteJobs(ids)
      const report = yield* Retention.prune(target(), { dryRun: true })
      expect(report.dryRun).toBe(true)
      expect(rowsOf(report)).toMatchObject({ orch_jobs: 25, orch_job_history: 50, demo_job_notes: 25 })
      expect(report.transactions).toBe(0)
      expect(yield* countRows("orch_jobs")).toBe(25)
    })))

  it.scoped("the daemon's loop prunes every `every` (plus jitter of up to a tenth), on the test clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const supervisor = yield* Supervisor.Supervisor
      yield* Retention.run(target({ every: "10 minutes" }), [demo], supervisor)
      const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      // the pass runs on a connection of its own: wait (in real time) until its deletes are seen
      const pruned = countRows("orch_jobs").pipe(
        Effect.filterOrFail((n) => n === 0),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds"))),
        Effect.withClock(Clock.make()),
        Effect.orElse(() => countRows("orch_jobs"))
      )
      const oldJobs = (count: number) => seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count, updatedAt: now - 30 * day })
      yield* oldJobs(10)
      yield* TestClock.adjust("1 minute") // past the first jitter
      expect(yield* pruned).toBe(0)
      yield* oldJobs(10)
      yield* TestClock.adjust("8 minutes")
      yield* settle
      expect(yield* countRows("orch_jobs")).toBe(10)
      yield* TestClock.adjust("3 minutes") // 10 minutes after the first pass, plus its jitter
      expect(yield* pruned).toBe(0)
      const status = (yield* supervisor.status).find((s) => s.name === "core:retention")
      expect(status).toMatchObject({ running: true, consecutiveFailures: 0 })
    }).pipe(Effect.provide(Layer.merge(Supervisor.layer, database()))))

  it.scoped("enabled: false starts no loop and removes nothing", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const supervisor = yield* Supervisor.Supervisor
      yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: 10, updatedAt: now - 30 * day })
      yield* Retention.run(target({ enabled: false }), [demo], supervisor)
      yield* TestClock.adjust("1 hour")
      expect((yield* supervisor.status).some((s) => s.name === "core:retention")).toBe(false)
      expect(yield* countRows("orch_jobs")).toBe(10)
    }).pipe(Effect.provide(Layer.merge(Supervisor.layer, database()))))
})

describe("core.retention config", () => {
  const load = (text: string) =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.yaml")
      fs.writeFileSync(file, text)
      return yield* Config.load([demo], { configFile: file }, {})
    })

  it.effect("defaults: two weeks and 100,000 per kind, batches of 500 every 10 minutes", () =>
    Effect.gen(function*() {
      const config = yield* Config.load([demo], {}, {})
      expect(config.core.retention).toEqual({
        enabled: true,
        every: "10 minutes",
        batchSize: 500,
        jobs: { maxAge: "14 days", maxCount: 100_000, overrides: {} },
        leases: { maxAge: "14 days", maxCount: 100_000, overrides: {} },
        events: { maxAge: "14 days", maxCount: 100_000, overrides: {} }
      })
    }))

  it.effect("overrides per plugin and kind are read from the file", () =>
    Effect.gen(function*() {
      const config = yield* load(`core:\n  retention:\n    jobs:\n      overrides:\n        "demo/work": { maxAge: 1 day }\n        demo: { maxCount: unlimited }\n`)
      expect(config.core.retention.jobs.overrides).toEqual({ "demo/work": { maxAge: "1 day" }, demo: { maxCount: "unlimited" } })
    }))

  it.effect("a bad duration names its line and key and says what a duration looks like", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(`core:\n  retention:\n    jobs:\n      maxAge: two weeks\n`))
      expect(error.line).toBe(4)
      expect(error.key).toBe("core.retention.jobs.maxAge")
      expect(error.message).toContain(`"14 days"`)
    }))

  it.effect("a bad override key or count says what is expected", () =>
    Effect.gen(function*() {
      const key = yield* Effect.flip(load(`core:\n  retention:\n    leases:\n      overrides:\n        "Demo kind": { maxAge: 1 day }\n`))
      expect(key.message).toContain(`"<plugin>/<kind>"`)
      const count = yield* Effect.flip(load(`core:\n  retention:\n    events:\n      maxCount: -3\n`))
      expect(count.key).toBe("core.retention.events.maxCount")
      expect(count.message).toContain("unlimited")
    }))

  it("a plugin may name only its own tables for retention", () => {
    const bad = Plugin.make({ ...demo, retention: [{ table: "orch_jobs", column: "id", belongsTo: "job" }, { table: "demo_x", column: "a; DROP", belongsTo: "lease" }] })
    expect(Plugin.problems(bad)).toEqual([
      `its retention names the table "orch_jobs" (column "id"), which is not a table demo_… with a plain column name`,
      `its retention names the table "demo_x" (column "a; DROP"), which is not a table demo_… with a plain column name`
    ])
    expect(Plugin.problems(demo)).toEqual([])
  })

  it("an override that names no plugin or kind is reported", () => {
    expect(Retention.unknownOverrides(target({ jobs: { overrides: { "demo/wrok": {}, demo: {}, nope: {} } } }), [demo]))
      .toEqual([`core.retention.jobs.overrides "demo/wrok"`, `core.retention.jobs.overrides "nope"`])
  })
})
