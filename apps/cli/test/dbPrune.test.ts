/**
 * `orch db prune` against the built CLI on a temp data dir: an allocator's history (old
 * cleaning jobs with their history, ended leases with their TTL rows) seeded straight
 * into the database (the file, or its PostgreSQL database), then pruned once, dry and for real.
 */
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { orchBin, queryTestDatabase, run, tempDir } from "@orch/testing"

const day = 86_400_000

/** The allocator's history as months of leases leave it: `old` finished cleaning jobs 30 days ago, `young` today. */
const seed = async (dir: string, counts: { old: number; young: number }) => {
  const now = Date.now()
  const file = path.join(dir, "orch.sqlite")
  // numbers only in the text, so one statement serves both engines
  const jobs = (n: number, state: string, at: number) =>
    queryTestDatabase(file, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})
      INSERT INTO orch_jobs (plugin, kind, state, payload, priority, run_at, attempts, max_attempts, created_at, updated_at)
      SELECT 'allocator', 'clean', '${state}', '{"device":"d1"}', 0, ${at}, 1, 5, ${at}, ${at} FROM n`)
  await jobs(counts.old, "cleaned", now - 30 * day)
  await jobs(counts.young, "cleaned", now)
  await jobs(3, "queued", now - 30 * day)
  await queryTestDatabase(file, `INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason)
    SELECT id, updated_at, 'queued', state, 'seed' FROM orch_jobs`)
  await queryTestDatabase(file, `INSERT INTO orch_resources (plugin, kind, name, state, labels, created_at, updated_at, state_changed_at)
    VALUES ('allocator', 'device', 'd1', 'free', '{}', 0, 0, 0)`)
  const old = now - 30 * day
  await queryTestDatabase(file, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${counts.old})
    INSERT INTO orch_resource_leases (id, plugin, kind, resource, holder, token, granted_at, expires_at, ended_at, end_reason)
    SELECT 'lease-' || i, 'allocator', 'device', 'd1', 'ci', 1000 + i, ${old}, ${old}, ${old}, 'released' FROM n`)
  await queryTestDatabase(file, `INSERT INTO allocator_lease_ttls (lease_id, ttl_ms) SELECT id, 60000 FROM orch_resource_leases`)
}

const count = async (dir: string, table: string) =>
  (await queryTestDatabase<{ n: number }>(path.join(dir, "orch.sqlite"), `SELECT COUNT(*) AS n FROM ${table}`))[0]!.n

describe("orch db prune", () => {
  it("counts with --dry-run, then removes the old finished history and prints what it removed per table", async () => {
    const dir = tempDir()
    expect((await run(orchBin, ["db", "migrate", "--data-dir", dir])).code).toBe(0)
    await seed(dir, { old: 1200, young: 10 })

    const dry = await run(orchBin, ["db", "prune", "--dry-run", "--json", "--data-dir", dir])
    expect(dry.code, dry.stderr).toBe(0)
    const counted = JSON.parse(dry.stdout)
    expect(counted.dryRun).toBe(true)
    expect(Object.fromEntries(counted.tables.map((t: { table: string; rows: number }) => [t.table, t.rows]))).toMatchObject({
      orch_jobs: 1200,
      orch_job_history: 1200,
      orch_resource_leases: 1200,
      allocator_lease_ttls: 1200
    })
    expect(await count(dir, "orch_jobs")).toBe(1213)

    const pruned = await run(orchBin, ["db", "prune", "--data-dir", dir])
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(pruned.stdout).toMatch(/^TABLE\s+REMOVED$/m)
    expect(pruned.stdout).toMatch(/^orch_jobs\s+1200$/m)
    expect(pruned.stdout).toMatch(/^orch_job_history\s+1200$/m)
    expect(pruned.stdout).toMatch(/^orch_resource_leases\s+1200$/m)
    expect(pruned.stdout).toMatch(/^allocator_lease_ttls\s+1200$/m)
    expect(pruned.stdout).toMatch(/^watchdog_submissions\s+0$/m)
    // jobs: 3 batches of 500; leases: 3 more; kinds with nothing due take none
    expect(pruned.stdout).toMatch(/removed 4800 rows in 6 transactions \(longest [\d.]+ ms\)/)
    expect(await count(dir, "orch_jobs")).toBe(13)
    expect(await count(dir, "orch_job_history")).toBe(13)
    expect(await count(dir, "orch_resource_leases")).toBe(0)
    expect(await count(dir, "allocator_lease_ttls")).toBe(0)

    const again = await run(orchBin, ["db", "prune", "--json", "--data-dir", dir])
    expect(JSON.parse(again.stdout).tables.every((t: { rows: number }) => t.rows === 0)).toBe(true)
  })

  it("honours a per-kind override given with --set", async () => {
    const dir = tempDir()
    expect((await run(orchBin, ["db", "migrate", "--data-dir", dir])).code).toBe(0)
    await seed(dir, { old: 5, young: 4 })
    const pruned = await run(orchBin, ["db", "prune", "--json", "--data-dir", dir, "--set", "core.retention.jobs.overrides.allocator/clean.maxCount=2"])
    expect(pruned.code, pruned.stderr).toBe(0)
    // all 5 old ones go by age, and 2 of the 4 young by count
    expect(JSON.parse(pruned.stdout).tables.find((t: { table: string }) => t.table === "orch_jobs").rows).toBe(7)
    expect(await count(dir, "orch_jobs")).toBe(5)
  })
})
