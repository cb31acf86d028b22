/**
 * `DatabaseCopy` from a real SQLite file, filled through core's services, into a fresh
 * schema of the real PostgreSQL: the services then read the same things from PostgreSQL,
 * ids continue, and the verification catches what differs.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Redacted, Ref, Schema } from "effect"
import Sqlite from "better-sqlite3"
import * as path from "node:path"
import * as Database from "../src/Database.js"
import * as DatabaseCopy from "../src/DatabaseCopy.js"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as Migrations from "../src/Migrations.js"
import { ResourceKind, Resources } from "../src/Resources.js"
import { cron, interval, Schedules } from "../src/Schedules.js"
import { bumpPluginMark } from "../src/sql/changes.js"
import { coreMigrations } from "../src/sql/migrations.js"
import { tempDir } from "@orch/testing"
import { postgres, postgresDatabase, postgresSchema } from "@orch/testing/Backends"

const Work = JobKind.simple({
  plugin: "demo",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number, text: Schema.String }),
  result: Schema.Struct({ ok: Schema.Boolean })
})

const Device = ResourceKind.make({ plugin: "demo", name: "device", states: ["ready", "broken"], initial: "ready", leasable: ["ready"] })

/**
 * A plugin's own tables, written per engine as a plugin would: a BOOLEAN, a BYTEA and a
 * JSONB on PostgreSQL against SQLite's integers, blobs and text, a GENERATED ALWAYS id,
 * and a table without a primary key that references another.
 */
const demoMigrations: Migrations.Migrations = {
  "0001_things": {
    sqlite: `CREATE TABLE demo_things (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  picture BLOB,
  doc TEXT,
  big BIGINT
)`,
    pg: `CREATE TABLE demo_things (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  picture BYTEA,
  doc JSONB,
  big BIGINT
)`
  },
  "0002_notes": "CREATE TABLE demo_notes (thing_id BIGINT NOT NULL REFERENCES demo_things (id), note TEXT NOT NULL)"
}

const migrationSets = [["core", coreMigrations], ["demo", demoMigrations]] as const

/** Core's services over `database`, migrated with core's and the demo's sets. */
const services = (database: Layer.Layer<Database.Database | SqlClient.SqlClient>) =>
  Layer.mergeAll(JobQueue.layer([Work]), Resources.layer([Device]), Schedules.layer()).pipe(
    Layer.provideMerge(Layer.effectDiscard(Effect.orDie(Effect.forEach(migrationSets, ([owner, record]) => Migrations.apply(owner, record))))),
    Layer.provideMerge(database)
  )

const sqliteAt = (file: string) => Layer.orDie(Database.layer({ filename: file }))
const pgAt = (target: Database.PostgresOptions) => Layer.orDie(Database.layerPostgres(target))

// names whose byte order (SQLite, COLLATE "C") differs from a language's order
const deviceNames = ["Zeta", "alpha", "b-1", "b_1", "ångström", "émoji😀", "zz", "A10", "a9"]

/** Fills a SQLite file through the services: jobs in every state with history, devices with leases, schedules, plugin rows. */
const fill = (file: string) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const resources = yield* Resources
    const schedules = yield* Schedules
    const sql = yield* SqlClient.SqlClient
    const enqueued = yield* queue.enqueueMany(Work, Array.from({ length: 40 }, (_, n) => ({
      payload: { n, text: `job ${n} ünïcödé "quoted"` },
      options: n % 5 === 0 ? { idempotencyKey: `key-${n}`, priority: n % 3 } : { priority: n % 3 }
    })))
    expect(enqueued).toHaveLength(40)
    const claimed = yield* queue.claim(Work, { owner: "host:1:demo", leaseMs: 60_000, limit: 15 })
    for (const job of claimed.slice(0, 6)) yield* queue.transition(job, "succeeded", { reason: "done", result: { ok: true } })
    for (const job of claimed.slice(6, 9)) yield* queue.fail(job, new Error("broke"), { retryable: false })
    for (const job of claimed.slice(9, 11)) yield* queue.fail(job, new Error("try again"))
    // claimed.slice(11) stay leased: running jobs
    const queued = (yield* queue.list({ state: "queued", limit: 1000 })).filter((job) => job.leaseOwner === undefined)
    for (const job of queued.slice(0, 4)) yield* queue.cancel(job.id, "not needed")

    for (const name of deviceNames) yield* resources.upsert(Device, { name, labels: { model: name.length % 2 === 0 ? "even" : "odd" } })
    const first = Option.getOrThrow(yield* resources.lease(Device, { holder: "ci-1", ttlMs: 60_000 }))
    yield* resources.release(first.id, { reason: "done" })
    yield* resources.lease(Device, { holder: "ci-2", ttlMs: 60_000 })
    yield* resources.setState(Device, "zz", "broken", { reason: "smoke" })

    yield* schedules.ensure("demo", "nightly", cron("0 3 * * *"), { missed: "once" })
    yield* schedules.ensure("demo", "often", interval(60_000, { jitterMs: 1_000 }), { missed: "skip" })

    for (let i = 1; i <= 25; i++) {
      yield* sql`INSERT INTO demo_things (name, enabled, picture, doc, big) VALUES (${`thing ${i}`}, ${i % 2}, ${
        i % 4 === 0 ? null : new Uint8Array([0, i, 255, 10])
      }, ${i % 3 === 0 ? null : JSON.stringify({ z: i, a: [1, "two"], nested: { b: true } })}, ${9_007_199_254_740_993n + BigInt(i)})`
      yield* sql`INSERT INTO demo_notes (thing_id, note) VALUES (${i}, ${"note"}), (${i}, ${"note"})`
    }
    yield* bumpPluginMark(sql, "demo")
  }).pipe(Effect.provide(services(sqliteAt(file))))

/** What the services read: every job with its history, devices with history and leases, schedules, counts. */
const readBack = Effect.gen(function*() {
  const queue = yield* JobQueue
  const resources = yield* Resources
  const schedules = yield* Schedules
  const jobs = yield* queue.list({ limit: 1000 })
  const histories = yield* Effect.forEach(jobs, (job) => queue.history(job.id))
  const byName = <A extends { name: string }>(rows: ReadonlyArray<A>) => [...rows].sort((a, b) => (a.name < b.name ? -1 : 1))
  const devices = byName(yield* resources.list())
  return {
    jobs,
    histories,
    jobCounts: yield* queue.countByState(),
    devices,
    deviceHistory: yield* Effect.forEach(devices, (device) => resources.history(Device, device.name)),
    leases: [...yield* resources.leases()].sort((a, b) => a.token - b.token),
    schedules: byName(yield* schedules.list())
  }
})

const counts = (file: string) => {
  const db = new Sqlite(file, { readonly: true })
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('orch_write_lock', 'orch_migrations')").all() as Array<{ name: string }>)
      .map((row) => row.name)
    return Object.fromEntries(tables.map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]))
  } finally {
    db.close()
  }
}

const onTarget = (target: Database.PostgresOptions, statement: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(statement)).pipe(Effect.provide(pgAt(target)))

const copyInto = (file: string, target: Database.PostgresOptions, options: Partial<DatabaseCopy.CopyOptions> = {}) =>
  DatabaseCopy.copy({ from: file, to: target, migrations: migrationSets, ...options })

describe.skipIf(postgres.skip !== undefined)("DatabaseCopy", () => {
  it.live("copies every table, the services read the same from PostgreSQL, and ids continue after the copied ones", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.sqlite")
      yield* fill(file)
      const source = yield* Effect.provide(readBack, services(sqliteAt(file)))
      const sourceCounts = counts(file)
      // a language's collation, which orders the devices' names unlike SQLite; and a
      // password (trust auth takes any), which must never be shown
      const target = yield* Effect.map(postgresDatabase({ icuLocale: "en-US" }), (url) => ({
        url: Redacted.make(url.replace("postgres@", "postgres:pa55word@"))
      }))
      const progress: Array<DatabaseCopy.Progress> = []
      // small batches: several pages per table, composite text keys included
      const report = yield* copyInto(file, target, { batchSize: 4, onProgress: (p) => Effect.sync(() => progress.push(p)) })

      expect(report.verification).toMatchObject({ ok: true, mismatchCount: 0, mismatches: [] })
      expect(Object.fromEntries(report.tables.map((t) => [t.table, t.rows]))).toEqual(sourceCounts)
      expect(report.verification.tables.every((t) => t.sourceRows === t.targetRows && t.mismatches === 0)).toBe(true)
      expect(sourceCounts).toMatchObject({ orch_jobs: 40, demo_things: 25, demo_notes: 50, orch_resources: deviceNames.length, orch_schedules: 2 })
      expect(sourceCounts.orch_job_history).toBeGreaterThan(40)
      expect(sourceCounts.orch_resource_leases).toBe(2)
      // parents before children
      const order = report.tables.map((t) => t.table)
      expect(order.indexOf("orch_jobs")).toBeLessThan(order.indexOf("orch_job_history"))
      expect(order.indexOf("orch_resources")).toBeLessThan(order.indexOf("orch_resource_leases"))
      expect(order.indexOf("demo_things")).toBeLessThan(order.indexOf("demo_notes"))
      expect(progress.filter((p) => p.step === "copy").map((p) => p.table)).toEqual(order)
      expect(progress.filter((p) => p.step === "verify")).toHaveLength(order.length)
      expect(report.target).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:5432\/\w+$/)

      const copied = yield* Effect.provide(readBack, services(pgAt(target)))
      expect(copied).toEqual(source)
      expect(new Set(source.jobs.map((job) => job.state))).toEqual(new Set(["queued", "succeeded", "dead", "cancelled"]))
      expect(source.jobs.some((job) => job.leaseOwner !== undefined)).toBe(true)

      // each sequence continues after the copied ids
      const maxJob = Math.max(...source.jobs.map((job) => job.id))
      const next = yield* Effect.gen(function*() {
        const queue = yield* JobQueue
        const sql = yield* SqlClient.SqlClient
        const { job } = yield* queue.enqueue(Work, { n: 99, text: "after the copy" })
        const [thing] = yield* sql<{ id: number }>`INSERT INTO demo_things (name, enabled) VALUES ('new', true) RETURNING id`
        return { job: job.id, thing: Number(thing!.id) }
      }).pipe(Effect.provide(services(pgAt(target))))
      expect(next).toEqual({ job: maxJob + 1, thing: 26 })

      // exact past 2^53, JSON as JSON, bytes as bytes
      const [big] = yield* onTarget(target, "SELECT big::text AS big, enabled, picture, doc FROM demo_things WHERE id = 1")
      expect(big).toEqual({ big: "9007199254740994", enabled: true, picture: Buffer.from([0, 1, 255, 10]), doc: { z: 1, a: [1, "two"], nested: { b: true } } })
    }))

  it.live("copies one snapshot while another connection keeps writing to the source", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.sqlite")
      yield* fill(file)
      const written = yield* Ref.make(0)
      // a daemon's writes: a job (and its history row) every few ms, through the services
      const writer = yield* Effect.fork(Effect.gen(function*() {
        const queue = yield* JobQueue
        yield* Effect.forever(Effect.zipRight(
          queue.enqueue(Work, { n: 1000, text: "written during the copy" }),
          Effect.zipRight(Ref.update(written, (n) => n + 1), Effect.sleep("2 millis"))
        ))
      }).pipe(Effect.provide(services(sqliteAt(file)))))
      yield* Effect.repeat(Ref.get(written), { until: (n) => n > 0 })
      const target = yield* postgresSchema()
      let atFirstTable = -1
      const report = yield* copyInto(file, target, {
        // the copy goes on only once the writer has committed more after its snapshot began
        onProgress: () =>
          atFirstTable >= 0 ? Effect.void : Effect.gen(function*() {
            atFirstTable = yield* Ref.get(written)
            yield* Effect.repeat(Ref.get(written), { until: (n) => n >= atFirstTable + 5 })
          })
      })
      yield* Fiber.interrupt(writer)
      const after = counts(file)
      const copiedJobs = report.tables.find((t) => t.table === "orch_jobs")!.rows
      expect(report.verification.ok).toBe(true)
      expect(after.orch_jobs).toBeGreaterThanOrEqual(copiedJobs + 5)
      expect(report.tables.find((t) => t.table === "orch_job_history")!.rows).toBeLessThan(after.orch_job_history!)
    }))

  it.live("refuses a target that holds orch rows, naming the table, and changes nothing", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.sqlite")
      yield* fill(file)
      const target = yield* postgresSchema()
      expect((yield* copyInto(file, target)).verification.ok).toBe(true)
      const before = yield* onTarget(target, "SELECT (SELECT count(*) FROM orch_jobs) AS jobs, (SELECT count(*) FROM orch_job_history) AS history")
      const again = yield* Effect.either(copyInto(file, target))
      expect(Either.getLeft(again).pipe(Option.map((e) => e.message))).toEqual(Option.some(expect.stringMatching(
        / \(schema s\d+\) already holds orch rows \(table \w+\): copy into an empty database; nothing was changed$/
      )))
      expect(yield* onTarget(target, "SELECT (SELECT count(*) FROM orch_jobs) AS jobs, (SELECT count(*) FROM orch_job_history) AS history")).toEqual(before)
    }))

  it.live("verification reports a changed column, a missing row and an extra row, with both values", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.sqlite")
      yield* fill(file)
      const target = yield* postgresSchema()
      expect((yield* copyInto(file, target)).verification.ok).toBe(true)
      const [job] = yield* onTarget(target, "SELECT id, state FROM orch_jobs ORDER BY id LIMIT 1")
      yield* onTarget(target, `UPDATE orch_jobs SET state = 'tampered' WHERE id = ${job!.id}`)
      yield* onTarget(target, "DELETE FROM demo_notes WHERE ctid IN (SELECT ctid FROM demo_notes WHERE thing_id = 7 LIMIT 1)")
      yield* onTarget(target, "UPDATE demo_things SET doc = '{\"z\": 2}' WHERE id = 2")
      yield* onTarget(target, `INSERT INTO orch_job_history (id, job_id, at, to_state, reason) VALUES (100000, ${job!.id}, 0, 'queued', 'extra')`)

      const verification = yield* DatabaseCopy.verify({ from: file, to: target })
      expect(verification.ok).toBe(false)
      expect(verification.mismatchCount).toBe(4)
      expect(verification.mismatches).toEqual(expect.arrayContaining([
        { table: "orch_jobs", key: `["${job!.id}"]`, problem: "differs", column: "state", source: job!.state, target: "tampered" },
        expect.objectContaining({ table: "demo_notes", problem: "missing from the target", key: "[\"7\",\"note\"]" }),
        expect.objectContaining({ table: "demo_things", key: "[\"2\"]", problem: "differs", column: "doc", target: "{\"z\":2}" }),
        { table: "orch_job_history", key: "[\"100000\"]", problem: "only in the target" }
      ]))
      const history = verification.tables.find((t) => t.table === "orch_job_history")!
      expect(history.targetRows).toBe(history.sourceRows + 1)
    }))

  it.live("says what is wrong with a missing source, a source with pending migrations, a bad URL and an unreachable server", () =>
    Effect.gen(function*() {
      const target = yield* postgresSchema()
      const message = <A>(effect: Effect.Effect<A, { message: string }>) => Effect.map(Effect.flip(effect), (e) => e.message)

      const missing = path.join(tempDir(), "nothing.sqlite")
      expect(yield* message(copyInto(missing, target))).toBe(`no SQLite database at ${missing} (give --from, --data-dir or core.database.file)`)

      const notOrch = path.join(tempDir(), "other.sqlite")
      new Sqlite(notOrch).exec("CREATE TABLE t (x INTEGER)")
      expect(yield* message(copyInto(notOrch, target))).toMatch(/is not an orch database \(it has no orch_migrations table\)/)

      // only core's migrations applied: the demo's two are pending
      const behind = path.join(tempDir(), "orch.sqlite")
      yield* Effect.provide(Effect.void, Layer.effectDiscard(Effect.orDie(Migrations.apply("core", coreMigrations))).pipe(Layer.provideMerge(sqliteAt(behind))))
      expect(yield* message(copyInto(behind, target))).toMatch(/lacks 2 migration\(s\) of this orch \(demo\/0001_things, demo\/0002_notes\): run `orch db migrate` on it first/)
      // refused before the target was touched
      expect(yield* onTarget(target, "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = current_schema()")).toEqual([{ n: 0 }])

      const file = path.join(tempDir(), "orch.sqlite")
      yield* fill(file)
      expect(yield* message(copyInto(file, { url: Redacted.make("mysql://root:pw@127.0.0.1/orch") }))).toMatch(/not a PostgreSQL URL/)
      const unreachable = yield* message(copyInto(file, { url: Redacted.make("postgres://orch:s3cret-pw@127.0.0.1:1/orch"), connectTimeoutMs: 2_000 }))
      expect(unreachable).toMatch(/^cannot connect to PostgreSQL at postgres:\/\/orch@127\.0\.0\.1:1\/orch: /)
      expect(unreachable).not.toContain("s3cret-pw")
    }))
})
