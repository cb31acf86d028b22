/**
 * Claims with several writers: two connections to one database (a SQLite file, or
 * PostgreSQL in the postgres pass) run the grant statements interleaved, both reading the
 * candidate before either writes, as two nodes could. Exactly one grant wins; the other gets nothing and no error,
 * and no fencing token is used twice.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Schema, TestClock } from "effect"
import * as path from "node:path"
import { JobKind, JobQueue } from "../src/Jobs.js"
import { ResourceKind, Resources } from "../src/Resources.js"
import * as Fencing from "../src/sql/fencing.js"
import * as JobsSql from "../src/sql/jobs.js"
import * as ResourcesSql from "../src/sql/resources.js"
import { openTestDatabase, tempDir, testDatabase } from "@orch/testing"

const Work = JobKind.simple({ plugin: "test", name: "work", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Void })
const Device = ResourceKind.make({ plugin: "test", name: "device", states: ["ready", "broken"], initial: "ready", leasable: ["ready"] })

/** A second connection to the same database, as another process would open it. */
const secondConnection = (filename: string) =>
  Effect.map(Layer.build(openTestDatabase(filename)), (context) => context.unsafeMap.get(SqlClient.SqlClient.key) as SqlClient.SqlClient)

const setup = () => {
  const filename = path.join(tempDir(), "orch.sqlite")
  const layer = Layer.mergeAll(JobQueue.layer([Work]), Resources.layer([Device])).pipe(Layer.provideMerge(testDatabase(filename)))
  return { filename, layer }
}

describe("claims with two writers", () => {
  it.scoped("two connections granting the same job: exactly one wins, the loser gets nothing, no token is reused", () => {
    const { filename, layer } = setup()
    return Effect.gen(function*() {
      const queue = yield* JobQueue
      const a = yield* SqlClient.SqlClient
      const b = yield* secondConnection(filename)
      const { job } = yield* queue.enqueue(Work, { n: 1 })
      const now = yield* Clock.currentTimeMillis

      const query = { plugin: Work.plugin, kind: Work.name, states: Work.claimable, now, limit: 1 }
      const seenByA = (yield* JobsSql.selectClaimable(a, query)).map(JobsSql.decodeJobRow)
      const seenByB = (yield* JobsSql.selectClaimable(b, query)).map(JobsSql.decodeJobRow)
      expect(seenByA.map((row) => row.id)).toEqual([job.id])
      expect(seenByB.map((row) => row.id)).toEqual([job.id])

      const [tokenA] = yield* Fencing.nextTokens(a, "jobs", 1)
      const [tokenB] = yield* Fencing.nextTokens(b, "jobs", 1)
      expect(tokenB).toBeGreaterThan(tokenA!)
      const grant = (sql: SqlClient.SqlClient, owner: string, token: number) =>
        Effect.map(
          JobsSql.grantLeases(sql, { jobs: [{ id: job.id, state: seenByA[0]!.state, token }], owner, expiresAt: now + 60_000, now }),
          (rows) => rows.map((row) => Number(row.id))
        )
      expect(yield* grant(a, "a", tokenA!)).toEqual([job.id])
      expect(yield* grant(b, "b", tokenB!)).toEqual([])

      const stored = yield* queue.get(job.id)
      expect(stored.leaseOwner).toBe("a")
      expect(stored.token).toBe(tokenA)
      // the loser's token is spent: the next grant gets a larger one
      const [next] = yield* Fencing.nextTokens(b, "jobs", 1)
      expect(next).toBeGreaterThan(tokenB!)
    }).pipe(Effect.provide(layer))
  })

  it.scoped("an enqueue whose idempotency key another writer inserted meanwhile gets nothing inserted, and no error", () => {
    const { filename, layer } = setup()
    return Effect.gen(function*() {
      const queue = yield* JobQueue
      const b = yield* secondConnection(filename)
      const { job } = yield* queue.enqueue(Work, { n: 1 }, { idempotencyKey: "k" })
      const now = yield* Clock.currentTimeMillis
      const late = { plugin: Work.plugin, kind: Work.name, state: "queued", payload: "{\"n\":2}", priority: 0, runAt: now, maxAttempts: 5, now }
      const inserted = yield* JobsSql.insertJobs(b, [{ ...late, idempotencyKey: "k" }, { ...late, idempotencyKey: "other" }])
      expect(inserted.map((row) => row.idempotency_key)).toEqual(["other"])
      expect((yield* queue.enqueue(Work, { n: 3 }, { idempotencyKey: "k" })).job.id).toBe(job.id)
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a heartbeat that commits between a reclaimer's read and its write keeps the lease", () => {
    const { filename, layer } = setup()
    return Effect.gen(function*() {
      const queue = yield* JobQueue
      const b = yield* secondConnection(filename)
      yield* queue.enqueue(Work, { n: 1 })
      const [held] = yield* queue.claim(Work, { owner: "a", leaseMs: 1 })
      yield* TestClock.adjust("5 millis")
      const now = yield* Clock.currentTimeMillis
      const expired = (yield* JobsSql.selectExpiredLeases(b, { plugin: Work.plugin, kind: Work.name, now, limit: 10 }))
        .map(JobsSql.decodeJobRow)
      expect(expired.map((row) => row.id)).toEqual([held!.id])
      yield* queue.heartbeat(held!, 60_000)
      const reclaimed = yield* JobsSql.expireLease(b, { id: held!.id, token: held!.token!, to: "queued", error: "expired", now })
      expect(reclaimed).toEqual([])
      expect((yield* queue.get(held!.id)).token).toBe(held!.token)
    }).pipe(Effect.provide(layer))
  })

  it.scoped("two connections leasing the same resource: exactly one wins, the loser gets nothing", () => {
    const { filename, layer } = setup()
    return Effect.gen(function*() {
      const resources = yield* Resources
      const a = yield* SqlClient.SqlClient
      const b = yield* secondConnection(filename)
      yield* resources.upsert(Device, { name: "d1", labels: {} })
      const query = { plugin: Device.plugin, kind: Device.name, states: Device.leasable, name: undefined, labels: {} }
      const seenByA = yield* ResourcesSql.findLeasableUpTo(a, query, 1)
      const seenByB = yield* ResourcesSql.findLeasableUpTo(b, query, 1)
      expect(seenByA.map((row) => row.name)).toEqual(["d1"])
      expect(seenByB.map((row) => row.name)).toEqual(["d1"])

      const [tokenA] = yield* Fencing.nextTokens(a, "resources", 1)
      const [tokenB] = yield* Fencing.nextTokens(b, "resources", 1)
      expect(tokenB).toBeGreaterThan(tokenA!)
      const now = yield* Clock.currentTimeMillis
      const offer = (id: string, holder: string, token: number): ResourcesSql.NewLease => ({
        id,
        plugin: Device.plugin,
        kind: Device.name,
        resource: "d1",
        holder,
        token,
        grantedAt: now,
        expiresAt: now + 60_000
      })
      expect(yield* ResourcesSql.grantLeases(a, [offer("lease-a", "a", tokenA!)])).toEqual(["lease-a"])
      expect(yield* ResourcesSql.grantLeases(b, [offer("lease-b", "b", tokenB!)])).toEqual([])

      const open = yield* resources.leases({ active: true })
      expect(open.map((lease) => [lease.id, lease.holder, lease.token])).toEqual([["lease-a", "a", tokenA]])
      // and through the service, the other writer finds nothing left to lease
      expect((yield* resources.lease(Device, { holder: "c", ttlMs: 1000 }))._tag).toBe("None")
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a release that loses its lease to another writer's reclaim reports LeaseGone", () => {
    const { filename, layer } = setup()
    return Effect.gen(function*() {
      const resources = yield* Resources
      const b = yield* secondConnection(filename)
      yield* resources.upsert(Device, { name: "d1", labels: {} })
      const lease = (yield* resources.lease(Device, { holder: "a", ttlMs: 60_000 })).pipe((option) => option._tag === "Some" ? option.value : undefined)!
      // another node ends it between this release's read and its write
      const [row] = yield* ResourcesSql.getLeases(b, [lease.id])
      expect(yield* ResourcesSql.endLeases(b, [{ lease: row!, reason: "taken away" }], { now: Date.now(), expiredOnly: false })).toEqual([lease.id])
      const gone = yield* Effect.flip(resources.release(lease.id, { holder: "a", reason: "done" }))
      expect(gone._tag).toBe("LeaseGone")
      expect(gone.message).toContain("taken away")
    }).pipe(Effect.provide(layer))
  })
})
