import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Database from "../src/Database.js"
import * as Migrations from "../src/Migrations.js"
import { tempDir, testDatabase } from "@orch/testing"

describe("Database", () => {
  it.effect("opens a WAL file with foreign keys and a busy timeout", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [mode] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
      const [fk] = yield* sql<{ foreign_keys: number }>`PRAGMA foreign_keys`
      const [busy] = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
      expect(mode.journal_mode).toBe("wal")
      expect(fk.foreign_keys).toBe(1)
      expect(busy.timeout).toBeGreaterThan(0)
    }).pipe(Effect.provide(testDatabase())))

  it.effect("reports a file it cannot open with its path", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const notADatabase = path.join(dir, "garbage.sqlite")
      fs.writeFileSync(notADatabase, "this is not a database, it is a text file of some length ".repeat(100))
      const error = yield* Effect.flip(Effect.scoped(Effect.asVoid(Effect.provide(SqlClient.SqlClient, Database.layer({ filename: notADatabase })))))
      expect(error._tag).toBe("DatabaseError")
      expect(error.message).toContain("garbage.sqlite")
    }))

  it.effect("transaction rolls back every statement when one fails", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY)`
      const result = yield* Database.transaction(
        Effect.zipRight(sql`INSERT INTO t (id) VALUES (1)`, sql`INSERT INTO t (id) VALUES (1)`)
      ).pipe(Effect.either)
      expect(result._tag).toBe("Left")
      const rows = yield* sql`SELECT * FROM t`
      expect(rows).toHaveLength(0)
    }).pipe(Effect.provide(testDatabase())))
})

describe("Migrations", () => {
  const record = {
    "0001_first": "CREATE TABLE demo_a (id INTEGER PRIMARY KEY);\nCREATE TABLE demo_b (id INTEGER PRIMARY KEY);",
    "0002_second": "ALTER TABLE demo_a ADD COLUMN name TEXT;"
  }

  it.effect("applies pending scripts once, in order, and reports status", () =>
    Effect.gen(function*() {
      const first = yield* Migrations.apply("demo", record)
      expect(first.map((m) => m.id)).toEqual([1, 2])
      const again = yield* Migrations.apply("demo", record)
      expect(again).toEqual([])
      const status = yield* Migrations.status([["demo", { ...record, "0003_third": "CREATE TABLE demo_c (id INTEGER);" }]])
      expect(status.map((s) => [s.id, s.appliedAt !== undefined])).toEqual([[1, true], [2, true], [3, false]])
    }).pipe(Effect.provide(testDatabase())))

  it.effect("a failing script leaves nothing of itself behind and names itself", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(Migrations.apply("broken", {
        "0001_ok": "CREATE TABLE broken_ok (id INTEGER);",
        "0002_bad": "CREATE TABLE broken_half (id INTEGER);\nCREATE TABLE oops (;"
      }))
      expect(error._tag).toBe("MigrationError")
      expect(error.message).toContain("broken/2_bad")
      const tables = yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE name LIKE 'broken_%'`
      expect(tables.map((t) => t.name)).toEqual(["broken_ok"])
    }).pipe(Effect.provide(testDatabase())))

  it.effect("refuses a database written by a newer orch", () =>
    Effect.gen(function*() {
      yield* Migrations.apply("demo", record)
      const error = yield* Effect.flip(Migrations.apply("demo", { "0001_first": record["0001_first"] }))
      expect(error.message).toContain("newer orch")
    }).pipe(Effect.provide(testDatabase())))
})
