/** Jobsets shared by workers: claims, renewals, takeover, give-up, fencing and fair spread, on both engines, time from TestClock. */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { countRows, waitUntil } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Schedules } from "@orch/core/Schedules"
import { tempDir } from "@orch/testing"
import { Effect, Layer, Schema, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as Jobsets from "../src/Jobsets.js"
import * as Results from "../src/Results.js"
import * as Sinks from "../src/Sinks.js"
import { migrations } from "../src/sql.js"
import * as Watcher from "../src/Watcher.js"
import { WatcherConfig } from "../src/WatcherConfig.js"

const layerOn = (backend: Backend) =>
  Layer.mergeAll(JobQueue.layer([Sinks.SendJob]), Schedules.layer()).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
    Layer.provideMerge(backend.database())
  )

const count = 16
const leaseMs = 10_000

/** A worker named `owner`, with what its timetable was last told it holds. */
const worker = (owner: string) =>
  Effect.gen(function*() {
    const told = { held: new Set<number>() as ReadonlySet<number> }
    const jobsets = yield* Jobsets.make({
      owner,
      count,
      leaseMs,
      handBackCooldownMs: 60_000,
      onChange: (held) => Effect.sync(() => void (told.held = held))
    })
    return { owner, jobsets, told }
  })

const owners = Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: number; owner: string | null }>`SELECT id, owner FROM watcher_jobsets ORDER BY id`)

/** A trigger that fails every claim of b's jobsets by a (each engine writes triggers its own way). */
const refuseTakeover = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql.unsafe(`CREATE FUNCTION refuse_takeover() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF OLD.owner = 'b' AND NEW.owner = 'a' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$`),
        sql.unsafe(`CREATE TRIGGER refuse_takeover BEFORE UPDATE ON watcher_jobsets FOR EACH ROW EXECUTE FUNCTION refuse_takeover()`)
      ),
    orElse: () =>
      sql.unsafe(`CREATE TRIGGER refuse_takeover BEFORE UPDATE ON watcher_jobsets WHEN OLD.owner = 'b' AND NEW.owner = 'a' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
  })

describe("Jobsets", () => {
  it("jobsetOf is a stable bucket of the key", () => {
    expect(Jobsets.jobsetOf("api.example.org/health", 16)).toBe(Jobsets.jobsetOf("api.example.org/health", 16))
    const buckets = new Set(Array.from({ length: 300 }, (_, i) => Jobsets.jobsetOf(`endpoint-${i}`, 16)))
    expect(buckets.size).toBe(16)
  })

  it("lagWatch: lagging once every check was late for the whole while; one on time resets it", () => {
    const lag = Jobsets.lagWatch(5_000, 60_000)
    lag.note(6_000, 0)
    lag.note(7_000, 59_999)
    expect(lag.lagging(59_999)).toBe(false)
    expect(lag.lagging(60_000)).toBe(true)
    lag.note(100, 60_001)
    expect(lag.lagging(200_000)).toBe(false)
    lag.note(6_000, 200_000)
    lag.reset()
    expect(lag.lagging(300_000)).toBe(false)
  })
})

describeBackends("Jobsets", (backend) => {
  const layer = () => layerOn(backend)

  it.effect("claim, renew (the token stays, the version moves), and the timetable is told", () =>
    Effect.gen(function*() {
      const a = yield* worker("a")
      const claimed = yield* a.jobsets.tick(false)
      expect(claimed).toHaveLength(count)
      expect(claimed.every((c) => c.change === "claimed")).toBe(true)
      expect([...a.told.held].sort((x, y) => x - y)).toEqual(Array.from({ length: count }, (_, i) => i))
      expect((yield* owners).every((row) => row.owner === "a")).toBe(true)
      const token = a.jobsets.tokenAt(3, 0)!
      expect(token).toBeGreaterThan(0)

      yield* TestClock.adjust(8_000)
      expect(yield* a.jobsets.tick(false)).toEqual([])
      // renewed to 18 s: still held at 17 s, under the same token
      expect(a.jobsets.tokenAt(3, 17_000)).toBe(token)
      expect(a.jobsets.tokenAt(3, 18_000)).toBeUndefined()
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ version: number; token: number; expires_at: number }>`SELECT version, token, expires_at FROM watcher_jobsets WHERE id = 3`
      expect(row).toEqual({ version: token + 1, token, expires_at: 18_000 })
    }).pipe(Effect.provide(layer())))

  it.effect("fair spread: three workers hold at most ceil(16 / 3) each, all 16 held", () =>
    Effect.gen(function*() {
      const workers = [yield* worker("a"), yield* worker("b"), yield* worker("c")]
      yield* workers[0]!.jobsets.tick(false) // alone: all 16
      expect(workers[0]!.jobsets.held().size).toBe(16)
      for (let round = 0; round < 3; round++) {
        for (const w of workers) yield* w.jobsets.tick(false)
        yield* TestClock.adjust(1_000)
      }
      const sizes = workers.map((w) => w.jobsets.held().size)
      expect(Math.max(...sizes)).toBeLessThanOrEqual(6)
      expect(sizes.reduce((x, y) => x + y, 0)).toBe(16)
      const rows = yield* owners
      for (const w of workers) expect(rows.filter((r) => r.owner === w.owner).map((r) => r.id)).toEqual([...w.jobsets.held()].sort((x, y) => x - y))
    }).pipe(Effect.provide(layer())))

  it.effect("takeover after expiry (not before), give-up on a lost compare-and-set, a hand-back for lag", () =>
    Effect.gen(function*() {
      const a = yield* worker("a")
      const b = yield* worker("b")
      yield* a.jobsets.tick(false)
      yield* b.jobsets.tick(false) // a still holds 16; b claims nothing yet (none free)
      yield* a.jobsets.tick(false) // a sees two live workers: hands 8 back
      yield* b.jobsets.tick(false)
      expect([a.jobsets.held().size, b.jobsets.held().size]).toEqual([8, 8])
      const aHeld = [...a.jobsets.held()]

      // a stalls (a partition): within its lease b takes nothing
      yield* TestClock.adjust(leaseMs - 1)
      expect(yield* b.jobsets.tick(false)).toEqual([])
      // its lease past: a stops checking at once (no token), b takes its jobsets over
      yield* TestClock.adjust(2)
      expect(a.jobsets.tokenAt(aHeld[0]!, leaseMs + 1)).toBeUndefined()
      const takeover = yield* b.jobsets.tick(false)
      expect(takeover.map((c) => c.change)).toEqual(aHeld.map(() => "took_over"))
      expect(b.jobsets.held().size).toBe(16)

      // a comes back: every renewal misses, so it gives them all up and its timetable is emptied
      const lost = yield* a.jobsets.tick(false)
      expect(lost.filter((c) => c.change === "lost").map((c) => c.id).sort()).toEqual(aHeld.sort())
      expect(a.told.held.size).toBe(0)
      expect((yield* owners).every((row) => row.owner === "b")).toBe(true)

      // b and a share again; then b lags: it hands one back and claims nothing during the cool-down
      yield* b.jobsets.tick(false)
      yield* a.jobsets.tick(false)
      const before = b.jobsets.held().size
      const handed = yield* b.jobsets.tick(true)
      expect(handed.map((c) => c.change)).toEqual(["handed_back"])
      yield* a.jobsets.tick(false)
      yield* TestClock.adjust(1_000)
      yield* b.jobsets.tick(false)
      expect(b.jobsets.held().size).toBe(before - 1)
    }).pipe(Effect.provide(layer())))

  it.effect("a tick that fails midway is rolled back whole: the worker keeps what it held before, and its next renewals succeed", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const a = yield* worker("a")
      const b = yield* worker("b")
      yield* a.jobsets.tick(false)
      yield* b.jobsets.tick(false)
      yield* a.jobsets.tick(false)
      yield* b.jobsets.tick(false)
      const held = [...a.jobsets.held()].sort((x, y) => x - y)
      expect(held).toHaveLength(8)
      // b dies; a's takeover fails after its renewals ran (a trigger refuses the claims)
      yield* refuseTakeover(sql)
      yield* TestClock.adjust(leaseMs + 1)
      expect((yield* Effect.either(a.jobsets.tick(false)))._tag).toBe("Left")
      expect([...a.jobsets.held()].sort((x, y) => x - y)).toEqual(held)
      expect([...a.told.held].sort((x, y) => x - y)).toEqual(held)
      yield* sql.onDialectOrElse({
        pg: () => sql.unsafe(`DROP TRIGGER refuse_takeover ON watcher_jobsets`),
        orElse: () => sql.unsafe(`DROP TRIGGER refuse_takeover`)
      })
      const changes = yield* a.jobsets.tick(false)
      expect(changes.filter((c) => c.change === "lost")).toEqual([])
      expect(changes.filter((c) => c.change === "took_over")).toHaveLength(8)
    }).pipe(Effect.provide(layer())))

  it.effect("fencing: a stale owner's result is refused in its transaction; the new owner's is written", () =>
    Effect.gen(function*() {
      const load = EndpointFiles.loadText(`api:\n  interval: 1s\n  url: http://127.0.0.1:1/\n`, "a.yml", {
        timeoutMs: 1000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC"
      })
      const endpoint = load.endpoints[0]!
      const jobset = Jobsets.jobsetOf("api", count)
      const record = yield* Results.make({ keepResults: 10 })
      const a = yield* worker("a")
      yield* a.jobsets.tick(false)
      const staleToken = a.jobsets.tokenAt(jobset, 0)!
      yield* TestClock.adjust(leaseMs + 1)
      const b = yield* worker("b")
      yield* b.jobsets.tick(false)
      const token = b.jobsets.tokenAt(jobset, leaseMs + 1)!
      expect(token).toBeGreaterThan(staleToken)

      const check = (owner: string, token: number) => ({
        endpoint,
        scheduledAt: 0,
        startedAt: 1,
        endedAt: 2,
        result: { connected: true, status: 200, phases: {}, totalMs: 1 },
        verdict: { success: true, reasons: [], values: {} },
        fence: { owner, jobset, token }
      })
      const refused = yield* Effect.flip(record(check("a", staleToken)))
      expect(refused).toBeInstanceOf(Results.StaleJobset)
      expect(yield* countRows("watcher_results")).toBe(0)
      expect(yield* countRows("watcher_states")).toBe(0)
      yield* record(check("b", token))
      expect(yield* countRows("watcher_results")).toBe(1)
      // both in one group commit: the stale one is refused, the other still commits
      const both = yield* Effect.all([Effect.either(record(check("a", staleToken))), Effect.either(record(check("b", token)))], { concurrency: 2 })
      expect(both.map((e) => e._tag)).toEqual(["Left", "Right"])
      expect(yield* countRows("watcher_results")).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(layer())))

  it.effect("the timetable holds the endpoints of this worker's jobsets only, and follows its claims and releases", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.mkdirSync(path.join(dir, "endpoints"))
      const keys = Array.from({ length: 40 }, (_, i) => `e${i}`)
      fs.writeFileSync(path.join(dir, "endpoints", "a.yml"), keys.map((k) => `${k}:\n  cron_schedule: "0 0 1 1 *"\n  url: http://127.0.0.1:1/${k}\n`).join(""))
      const other = yield* worker("other")
      yield* other.jobsets.tick(false) // alone: holds all 16
      const config = Schema.decodeUnknownSync(WatcherConfig)({ endpoints: path.join(dir, "endpoints"), jobsets: count, heartbeatSeconds: 1, leaseSeconds: 10 })
      const watcher = yield* Watcher.make(config, { owner: "me" })
      const scheduled = () => Effect.map(watcher.timetable.nextRuns, (runs) => [...runs.keys()].sort())
      const mine = () => keys.filter((k) => watcher.jobsets.held().has(Jobsets.jobsetOf(k, count))).sort()
      expect(watcher.jobsets.held().size).toBe(0)
      expect(yield* scheduled()).toEqual([])

      yield* other.jobsets.tick(false) // two live workers: it hands 8 back
      yield* TestClock.adjust(1_000) // my heartbeat claims them (on PostgreSQL, over real round trips after the clock moved)
      yield* waitUntil("my heartbeat claimed 8", Effect.sync(() => watcher.jobsets.held().size === 8))
      expect(yield* scheduled()).toEqual(mine())
      expect(mine().length).toBeGreaterThan(0)

      // the other stops heartbeating; past the lease I take its jobsets over, and their endpoints join the timetable
      yield* TestClock.adjust(11_000)
      // on PostgreSQL the heartbeat the clock woke at 2 s ends after it moved on (and saw the lease live): the next one takes over
      yield* waitUntil("I took all 16 over", Effect.suspend(() =>
        watcher.jobsets.held().size === 16 ? Effect.succeed(true) : Effect.as(TestClock.adjust(1_000), false)))
      expect(yield* scheduled()).toEqual([...keys].sort())
    }).pipe(Effect.scoped, Effect.provide(layer())))
})
