/**
 * Core's migration 0005 (BIGINT times and tokens) over a database populated under the
 * schema before it: every row, id and index survives, the foreign keys point at the
 * rebuilt tables, and the queue carries on where it was.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema, TestClock } from "effect"
import * as path from "node:path"
import * as Database from "../src/Database.js"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as Migrations from "../src/Migrations.js"
import { ResourceKind, Resources } from "../src/Resources.js"
import { coreMigrations } from "../src/sql/migrations.js"
import { sqliteOnly, tempDir } from "@orch/testing"

const Work = JobKind.simple({ plugin: "test", name: "work", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Struct({ ok: Schema.Boolean }) })
const Device = ResourceKind.make({ plugin: "test", name: "device", states: ["ready", "broken"], initial: "ready", leasable: ["ready"] })

const before = Object.fromEntries(Object.entries(coreMigrations).filter(([key]) => key < "0005"))
// later migrations (0006 adds indexes) are not this test's subject
const through0005 = Object.fromEntries(Object.entries(coreMigrations).filter(([key]) => key < "0006"))

const tables = ["orch_jobs", "orch_job_history", "orch_fencing", "orch_migrations", "orch_resources", "orch_resource_leases"]

const snapshot = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const rows: Record<string, unknown> = {}
    for (const table of tables) rows[table] = yield* sql.unsafe(`SELECT * FROM ${table} ORDER BY 1, 2`)
    const indexes = yield* sql<{ name: string; tbl_name: string; sql: string | null }>`
      SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name`
    return { rows, indexes: indexes.map((index) => ({ ...index, sql: index.sql?.replace(/\s+/g, " ") ?? null })) }
  })

const columnTypes = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql.unsafe<{ name: string; type: string; pk: number }>(`PRAGMA table_info(${table})`),
    (columns) => Object.fromEntries(columns.map((column) => [column.name, column.type]))
  )

describe.skipIf(sqliteOnly)("migration 0005_bigint_times (SQLite only: PostgreSQL databases start at BIGINT)", () => {
  it.scoped("keeps every row, id and index of a database written under 0001-0004", () => {
    const filename = path.join(tempDir(), "orch.sqlite")
    const services = Layer.mergeAll(JobQueue.layer([Work]), Resources.layer([Device]))
    return Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Migrations.apply("core", before)
      expect((yield* columnTypes(sql, "orch_jobs")).run_at).toBe("INTEGER")

      // a little of everything, written by the services as they were
      yield* TestClock.adjust("1 hour")
      const old = yield* Effect.gen(function*() {
        const queue = yield* JobQueue
        const resources = yield* Resources
        const enqueued = yield* queue.enqueueMany(Work, [
          { payload: { n: 1 }, options: { idempotencyKey: "one" } },
          { payload: { n: 2 }, options: { priority: 5 } },
          { payload: { n: 3 } }
        ])
        const claimed = yield* queue.claim(Work, { owner: "w", leaseMs: 60_000, limit: 2 })
        yield* queue.transition(claimed[0]!, "succeeded", { reason: "done", result: { ok: true } })
        yield* queue.cancel(enqueued[2]!.job.id, "not needed")
        yield* resources.upsert(Device, { name: "d1", labels: { lab: "a" } })
        yield* resources.lease(Device, { holder: "h", ttlMs: 60_000 })
        return { ids: enqueued.map((item) => item.job.id), held: claimed[1]! }
      }).pipe(Effect.provide(services))
      const was = yield* snapshot(sql)
      expect((was.rows.orch_job_history as Array<unknown>).length).toBe(5)

      const applied = yield* Migrations.apply("core", through0005)
      expect(applied.map((migration) => migration.name)).toEqual(["bigint_times"])

      const now = yield* snapshot(sql)
      expect(now.indexes).toEqual(was.indexes)
      for (const table of tables.filter((table) => table !== "orch_migrations")) expect(now.rows[table]).toEqual(was.rows[table])
      expect(now.rows.orch_migrations).toEqual([
        ...(was.rows.orch_migrations as Array<unknown>),
        expect.objectContaining({ owner: "core", id: 5, name: "bigint_times" })
      ])

      for (const [table, columns] of Object.entries({
        orch_jobs: ["run_at", "lease_token", "lease_expires_at", "created_at", "updated_at"],
        orch_job_history: ["job_id", "at", "token"],
        orch_fencing: ["value"],
        orch_migrations: ["applied_at"]
      })) {
        const types = yield* columnTypes(sql, table)
        for (const column of columns) expect(`${table}.${column} ${types[column]}`).toBe(`${table}.${column} BIGINT`)
      }
      // ids are still the rowid, and the history's foreign key names the rebuilt jobs table
      expect((yield* columnTypes(sql, "orch_jobs")).id).toBe("INTEGER")
      const [alias] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM orch_jobs WHERE rowid = id`
      expect(alias!.n).toBe(3)
      const keys = yield* sql<{ table: string; from: string; to: string }>`SELECT * FROM pragma_foreign_key_list('orch_job_history')`
      expect(keys.map((key) => [key.table, key.from, key.to])).toEqual([["orch_jobs", "job_id", "id"]])
      expect(yield* sql`PRAGMA foreign_key_check`).toEqual([])
      expect(yield* sql`PRAGMA integrity_check`).toEqual([{ integrity_check: "ok" }])

      // the queue carries on: the lease held across the migration still works, new ids follow on
      yield* Effect.gen(function*() {
        const queue = yield* JobQueue
        const moved = yield* queue.transition(old.held, "succeeded", { reason: "done after the migration", result: { ok: true } })
        expect(moved.state).toBe("succeeded")
        const again = yield* queue.enqueue(Work, { n: 1 }, { idempotencyKey: "one" })
        expect(again).toMatchObject({ created: false, job: { id: old.ids[0] } })
        const fresh = yield* queue.enqueue(Work, { n: 4 })
        expect(fresh.job.id).toBe(Math.max(...old.ids) + 1)
        const [next] = yield* queue.claim(Work, { owner: "w2", leaseMs: 1000 })
        expect(next!.id).toBe(fresh.job.id)
        expect(next!.token).toBeGreaterThan(old.held.token!)
        expect((yield* queue.history(old.held.id)).map((entry) => entry.reason)).toEqual(["enqueued", "done after the migration"])
      }).pipe(Effect.provide(services))
    }).pipe(Effect.provide(Database.layer({ filename })), Effect.orDie)
  })
})
