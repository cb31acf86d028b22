import * as SqlClient from "@effect/sql/SqlClient"
import { it } from "@effect/vitest"
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { decodeMark, selectChangeMark } from "@orch/core/sql/changes"
import * as Fencing from "@orch/core/sql/fencing"
import { coreMigrations } from "@orch/core/sql/migrations"
import { postgres } from "@orch/testing/Backends"
import { Deferred, Effect, Layer, Redacted } from "effect"
import { describe, expect } from "vitest"

// PostgreSQL alone: how orch opens it. The stores' tests run on both engines in their own files.
describe.skipIf(postgres.skip !== undefined)("PostgreSQL", () => {
  it.effect("hands int8 over as numbers and runs transactions at READ COMMITTED", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ big: unknown; n: unknown }>`SELECT CAST(1764547200000 AS BIGINT) AS big, COUNT(*) AS n FROM orch_jobs`
      expect(row).toEqual({ big: 1764547200000, n: 0 })
      // past 2^53 it stays text, for the decoder to refuse rather than a rounded number
      const [huge] = yield* sql<{ v: unknown }>`SELECT CAST(9007199254740993 AS BIGINT) AS v`
      expect(huge!.v).toBe("9007199254740993")
      const [level] = yield* Database.transaction(sql<{ transaction_isolation: string }>`SHOW transaction_isolation`)
      expect(level!.transaction_isolation).toBe("read committed")
      const info = yield* Database.Database
      expect(info.dialect).toBe("pg")
      // the change mark behind GET /events and the readiness write probe, which no store test runs
      expect(decodeMark((yield* selectChangeMark(sql))[0]!)).toEqual({ job: 0, history: 0, resource: 0, lease: 0, open: 0, plugins: 0 })
      yield* Fencing.probeWrite(sql)
      expect(yield* Fencing.nextToken(sql, "write-probe")).toBe(2)
    }).pipe(Effect.provide(postgres.database())))

  it.live("runs a transaction again when PostgreSQL aborts it to break a deadlock", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE deadlock_probe (id INT PRIMARY KEY, v INT NOT NULL)`
      yield* sql`INSERT INTO deadlock_probe (id, v) VALUES (1, 0), (2, 0)`
      const ready = [yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
      let attempts = 0
      // each locks one row, waits until the other holds its own, then wants the other's: a cycle
      const crossing = (first: 1 | 2) =>
        Database.transaction(Effect.gen(function*() {
          attempts++
          const second = first === 1 ? 2 : 1
          yield* sql`UPDATE deadlock_probe SET v = v + 1 WHERE id = ${first}`
          yield* Deferred.succeed(ready[first - 1]!, undefined)
          yield* Deferred.await(ready[second - 1]!)
          yield* sql`UPDATE deadlock_probe SET v = v + 1 WHERE id = ${second}`
        }))
      yield* Effect.all([crossing(1), crossing(2)], { concurrency: 2 })
      // PostgreSQL aborted one of them (40P01); it ran again after the other committed
      expect(attempts).toBe(3)
      const rows = yield* sql<{ id: number; v: number }>`SELECT id, v FROM deadlock_probe ORDER BY id`
      expect(rows).toEqual([{ id: 1, v: 2 }, { id: 2, v: 2 }])
    }).pipe(Effect.provide(postgres.database())), 30_000)

  it.effect("names the server, never the password, when it cannot connect", () =>
    Effect.gen(function*() {
      const url = "postgres://orch:s3cret-pw@127.0.0.1:1/nowhere"
      const error = yield* Effect.flip(Layer.build(Database.layerPostgres({ url: Redacted.make(url), connectTimeoutMs: 2_000 })))
      expect(error._tag).toBe("DatabaseError")
      expect(error.message).toContain("cannot connect to PostgreSQL at postgres://orch@127.0.0.1:1/nowhere")
      expect(error.message).not.toContain("s3cret-pw")
    }).pipe(Effect.scoped))

  it.effect("refuses a URL that is not PostgreSQL's, without repeating it", () =>
    Effect.gen(function*() {
      for (const url of ["mysql://root:hunter22@db/x", "not a url with hunter22"]) {
        const error = yield* Effect.flip(Layer.build(Database.layerPostgres({ url: Redacted.make(url) })))
        expect(error.message).toContain("core.database.url is not a PostgreSQL URL")
        expect(error.message).not.toContain("hunter22")
      }
    }).pipe(Effect.scoped))

  it.effect("applies core's migrations once when several nodes start at once", () =>
    Effect.gen(function*() {
      const place = postgres.place()
      // the schema exists before the nodes race for its tables
      yield* Effect.scoped(Layer.build(postgres.open(place)))
      const applied = yield* Effect.forEach(
        Array.from({ length: 4 }, () => place),
        (schema) => Migrations.apply("core", coreMigrations).pipe(Effect.provide(postgres.open(schema))),
        { concurrency: "unbounded" }
      )
      // each of core's migrations once, whichever node applied it
      const all = Object.keys(coreMigrations).map((name) => Number(name.slice(0, 4)))
      const ids = applied.flat().map((m) => m.id).sort((a, b) => a - b)
      expect(ids).toEqual(all)
      const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: number }>`SELECT id FROM orch_migrations WHERE owner = 'core' ORDER BY id`).pipe(
        Effect.provide(postgres.open(place))
      )
      expect(rows.map((row) => row.id)).toEqual(all)
      const status = yield* Migrations.status([["core", coreMigrations]]).pipe(Effect.provide(postgres.open(place)))
      expect(status.every((m) => m.appliedAt !== undefined && !m.changed)).toBe(true)
    }))
})
