/**
 * `orch db copy` through the built CLI: a data dir migrated by `orch db migrate` (every
 * plugin of this build), an allocator device leased through core's services with the
 * allocator's TTL row, copied into a fresh PostgreSQL database; then the services read
 * the same from PostgreSQL, `--verify-only` finds a row changed there, a second copy is
 * refused, and a missing source is named.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import type { DatabaseError } from "@orch/core/Errors"
import { JobQueue } from "@orch/core/Jobs"
import { Resources } from "@orch/core/Resources"
import { CleanJob, Device } from "@orch/plugins-allocator"
import { orchBin, run, tempDir } from "@orch/testing"
import { postgres, postgresDatabase } from "@orch/testing/Backends"
import { Effect, Layer, Option, Redacted } from "effect"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

/** The allocator's view through core's services: its devices, their leases, the cleaning jobs with history. */
const allocatorState = Effect.gen(function*() {
  const resources = yield* Resources
  const queue = yield* JobQueue
  const sql = yield* SqlClient.SqlClient
  const jobs = yield* queue.list({ plugin: "allocator" })
  return {
    devices: yield* resources.list({ plugin: "allocator" }),
    leases: yield* resources.leases(),
    jobs,
    history: yield* Effect.forEach(jobs, (job) => queue.history(job.id)),
    ttls: (yield* sql<{ lease_id: string; ttl_ms: number }>`SELECT lease_id, ttl_ms FROM allocator_lease_ttls ORDER BY lease_id`)
      .map((row) => ({ ...row, ttl_ms: Number(row.ttl_ms) }))
  }
})

const services = (database: Layer.Layer<Database.Database | SqlClient.SqlClient, DatabaseError>) =>
  Layer.mergeAll(Resources.layer([Device]), JobQueue.layer([CleanJob])).pipe(Layer.provideMerge(Layer.orDie(database)))

/**
 * `orch` with its source on SQLite in both passes: the copy reads the data dir's file, so
 * the postgres pass's `ORCH_DATABASE_URL` (which `run` would add) is set empty here.
 */
const orch = (args: ReadonlyArray<string>, options: Parameters<typeof run>[2] = {}) =>
  run(orchBin, args, { ...options, env: { ...options.env, ORCH_DATABASE_URL: "" } })

describe.skipIf(postgres.skip !== undefined)("orch db copy", () => {
  it("copies a data dir into PostgreSQL, checked, with progress on stderr and no password anywhere; a second copy is refused", async () => {
    const dir = tempDir()
    const file = path.join(dir, "orch.sqlite")
    expect((await orch(["db", "migrate", "--data-dir", dir])).code).toBe(0)
    const source = await Effect.runPromise(Effect.gen(function*() {
      const resources = yield* Resources
      const queue = yield* JobQueue
      const sql = yield* SqlClient.SqlClient
      for (const name of ["pixel-1", "pixel-2", "Galaxy"]) {
        yield* resources.upsert(Device, { name, labels: { type: "phone" }, data: { type: "phone", connection: { serial: name } } })
      }
      const lease = Option.getOrThrow(yield* resources.lease(Device, { holder: "ci", ttlMs: 60_000 }))
      yield* sql`INSERT INTO allocator_lease_ttls (lease_id, ttl_ms) VALUES (${lease.id}, 60000)`
      const { job } = yield* queue.enqueue(CleanJob, { device: "pixel-2" })
      const [claimed] = yield* queue.claim(CleanJob, { owner: "host:1:allocator", leaseMs: 60_000 })
      yield* queue.transition(claimed!, "cleaned", { reason: "cleaned", result: { exitCode: 0, output: "ok" } })
      yield* queue.enqueue(CleanJob, { device: "Galaxy", afterLease: lease.id })
      expect(job.id).toBe(1)
      return yield* allocatorState
    }).pipe(Effect.provide(services(Database.layer({ filename: file })))))

    // trust auth takes any password: this one must show nowhere
    const url = (await Effect.runPromise(postgresDatabase())).replace("postgres@", "postgres:s3cret-pw@")
    const copied = await orch(["db", "copy", "--to", url, "--data-dir", dir], { timeoutMs: 60_000 })
    expect(copied.code, copied.stderr).toBe(0)
    expect(copied.stderr).toMatch(/^copied orch_jobs: 2 rows in \d+ ms$/m)
    expect(copied.stderr).toMatch(/^verified allocator_lease_ttls: 1 rows in \d+ ms$/m)
    expect(copied.stdout).toMatch(/^TABLE\s+COPIED\s+SOURCE\s+TARGET\s+MISMATCHES$/m)
    expect(copied.stdout).toMatch(/^orch_resources\s+3\s+3\s+3\s+0$/m)
    expect(copied.stdout).toMatch(/^allocator_lease_ttls\s+1\s+1\s+1\s+0$/m)
    expect(copied.stdout).toMatch(/^orch_job_history\s+3\s+3\s+3\s+0$/m)
    expect(copied.stdout).toMatch(/^verified: every row of every table is the same on both sides$/m)
    expect(copied.stdout + copied.stderr).not.toContain("s3cret-pw")

    const target = await Effect.runPromise(allocatorState.pipe(Effect.provide(services(Database.layerPostgres({ url: Redacted.make(url) })))))
    expect(target).toEqual(source)

    // checked again later, and once more after a row changed in PostgreSQL
    const same = await orch(["db", "copy", "--verify-only", "--to", url, "--data-dir", dir])
    expect(same.code, same.stderr).toBe(0)
    expect(same.stdout).toMatch(/^TABLE\s+SOURCE\s+TARGET\s+MISMATCHES$/m)
    expect(same.stdout).toMatch(/^verified: every row of every table is the same on both sides$/m)
    await Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`UPDATE orch_jobs SET state = 'dead' WHERE id = 1`).pipe(
      Effect.provide(Layer.orDie(Database.layerPostgres({ url: Redacted.make(url) })))
    ))
    const differs = await orch(["db", "copy", "--verify-only", "--to", url, "--data-dir", dir])
    expect(differs.code).toBe(1)
    expect(differs.stdout).toMatch(/^orch_jobs\s+2\s+2\s+1$/m)
    expect(differs.stdout).toMatch(/^mismatch: orch_jobs \["1"\]: differs in state: source "cleaned", target "dead"$/m)
    expect(differs.stderr).toMatch(/^orch: postgres:\/\/postgres@127\.0\.0\.1:5432\/\w+ differs from .*orch\.sqlite: 1 mismatched rows or columns \(the first are listed above\)$/m)
    expect(differs.stdout + differs.stderr).not.toContain("s3cret-pw")

    const again = await orch(["db", "copy", "--to", url, "--from", file])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^orch: postgres:\/\/postgres@127\.0\.0\.1:5432\/\w+ already holds orch rows \(table \w+\): copy into an empty database; nothing was changed$/m)
    expect(again.stderr).not.toContain("s3cret-pw")
  })

  it("names a missing source file and an unreachable server, exit code 1", async () => {
    const dir = tempDir()
    const missing = await orch(["db", "copy", "--to", "postgres://postgres@127.0.0.1:5432/postgres", "--data-dir", dir])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`orch: no SQLite database at ${path.join(dir, "orch.sqlite")}`)

    expect((await orch(["db", "migrate", "--data-dir", dir])).code).toBe(0)
    const unreachable = await orch(["db", "copy", "--to", "postgres://orch:pw-x1@127.0.0.1:1/orch", "--data-dir", dir])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/^orch: cannot connect to PostgreSQL at postgres:\/\/orch@127\.0\.0\.1:1\/orch: /m)
    expect(unreachable.stderr).not.toContain("pw-x1")
  })
})
