import { describe, expect, it } from "@effect/vitest"
import { Effect, Ref } from "effect"
import * as fs from "node:fs"
import * as Settings from "../src/Settings.js"
import * as Stores from "../src/Stores.js"
import { tempDir } from "@orch/testing"

const bytesOnDisk = (file: string) =>
  [file, `${file}-wal`].reduce((sum, f) => sum + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0)

const row = (i: number) => ({ timestamp_msec: 1_000_000 + i, test_name: "t", json: JSON.stringify({ i, pad: "x".repeat(1000) }) })

describe("stores", () => {
  it.scoped("past its cap a store loses its oldest half, the file shrinks and the newest rows are kept", () =>
    Effect.gen(function*() {
      const stores = yield* Stores.make({ dir: tempDir(), maxBytes: 100 * 1024 * 1024 })
      for (let i = 0; i < 200; i++) yield* stores.data.insert(row(i))
      expect(bytesOnDisk(stores.files.data)).toBeGreaterThan(200 * 1000)
      expect(yield* stores.enforceCap("data")).toBeUndefined()

      // 200 rows of 1 kB take about 270 kB of pages once the WAL is folded in
      const cap = 200 * 1024
      yield* Ref.set(stores.maxBytes, cap)
      const report = yield* stores.enforceCap("data")
      expect(report?.removed).toBe(100)
      expect(report!.before).toBeGreaterThan(cap)
      const after = bytesOnDisk(stores.files.data)
      expect(report?.after).toBe(after)
      expect(after).toBeLessThan(report!.before * 0.6)
      expect(after).toBeLessThanOrEqual(cap)
      const kept = yield* stores.data.select({ limit: 1000 })
      expect(kept.map((r) => JSON.parse(r.json).i)).toEqual(Array.from({ length: 100 }, (_, k) => 199 - k))
    }))

  it.scoped("writes past a small cap keep every store under it, newest row always kept", () =>
    Effect.gen(function*() {
      const cap = 64 * 1024
      const stores = yield* Stores.make({ dir: tempDir(), maxBytes: cap })
      let largest = 0
      for (let i = 0; i < 300; i++) {
        yield* stores.data.insert(row(i))
        yield* stores.log.insert("INFO", `line ${i} ${"y".repeat(500)}`)
        largest = Math.max(largest, bytesOnDisk(stores.files.data), bytesOnDisk(stores.files.log))
        const newest = yield* stores.data.select({ limit: 1 })
        expect(JSON.parse(newest[0]!.json).i).toBe(i)
      }
      expect(largest).toBeLessThanOrEqual(cap)
      const rows = yield* stores.data.select({ limit: 1000 })
      expect(rows.length).toBeLessThan(64)
      expect(rows.length).toBeGreaterThan(8)
      const sizes = yield* stores.sizes
      expect(sizes.data).toBe(bytesOnDisk(stores.files.data))
      const log = yield* stores.log.select({ severities: ["INFO"], newestFirst: true, limit: 1 })
      expect(log[0]!.message).toMatch(/^line 299 /)
    }))

  it.scoped("data rows: newest first, since inclusive, until exclusive, by test; a taken millisecond moves on", () =>
    Effect.gen(function*() {
      const stores = yield* Stores.make({ dir: tempDir(), maxBytes: 1024 * 1024 })
      yield* stores.data.insert({ timestamp_msec: 1000, test_name: "a", json: "{}" })
      yield* stores.data.insert({ timestamp_msec: 2000, test_name: "b", json: "{}" })
      yield* stores.data.insert({ timestamp_msec: 3000, test_name: "a", json: "{}" })
      expect(yield* stores.data.insert({ timestamp_msec: 3000, test_name: "a", json: "{\"second\":true}" })).toBe(3001)
      const all = yield* stores.data.select({ limit: 10 })
      expect(all.map((r) => r.timestamp_msec)).toEqual([3001, 3000, 2000, 1000])
      const window = yield* stores.data.select({ since: 2000, until: 3001, limit: 10 })
      expect(window.map((r) => r.timestamp_msec)).toEqual([3000, 2000])
      const onlyA = yield* stores.data.select({ test: "a", limit: 10 })
      expect(onlyA.map((r) => r.test_name)).toEqual(["a", "a", "a"])
    }))

  it.scoped("config values are strings in the store and integers when read", () =>
    Effect.gen(function*() {
      const stores = yield* Stores.make({ dir: tempDir(), maxBytes: 1024 * 1024 })
      yield* stores.config.put([{ name: "enabled", value: "0" }, { name: "uuid", value: "abc" }])
      const rows = yield* stores.config.all
      expect(rows).toEqual([{ name: "enabled", value: "0" }, { name: "uuid", value: "abc" }])
      const merged = Settings.merge(Settings.defaults(Settings.SchedulerConfigDefaults, ""), rows)
      expect(merged.enabled).toBe(0)
      expect(merged.uuid).toBe("abc")
      expect(merged.max_database_size).toBe(10 * 1024 * 1024)
    }))
})
