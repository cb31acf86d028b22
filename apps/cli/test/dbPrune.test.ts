/**
 * `orch db prune` against the built CLI on a temp data dir: an allocator's history (old
 * cleaning jobs with their history, ended leases with their TTL rows) seeded straight
 * into the file, then pruned once, dry and for real.
 */
import Database from "better-sqlite3"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { orchBin, run, tempDir } from "@orch/testing"

const day = 86_400_000

/** The allocator's history as months of leases leave it: `old` finished cleaning jobs 30 days ago, `young` today. */
const seed = (dir: string, counts: { old: number; young: number }) => {
  const db = new Database(path.join(dir, "orch.sqlite"))
  try {
    const now = Date.now()
    const jobs = db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO orch_jobs (plugin, kind, state, payload, priority, run_at, attempts, max_attempts, created_at, updated_at)
      SELECT 'allocator', 'clean', ?, '{"device":"d1"}', 0, ?, 1, 5, ?, ? FROM n`)
    jobs.run(counts.old, "cleaned", now - 30 * day, now - 30 * day, now - 30 * day)
    jobs.run(counts.young, "cleaned", now, now, now)
    jobs.run(3, "queued", now - 30 * day, now - 30 * day, now - 30 * day)
    db.exec(`INSERT INTO orch_job_history (job_id, at, from_state, to_state, reason)
      SELECT id, updated_at, 'queued', state, 'seed' FROM orch_jobs`)
    db.exec(`INSERT INTO orch_resources (plugin, kind, name, state, labels, created_at, updated_at, state_changed_at)
      VALUES ('allocator', 'device', 'd1', 'free', '{}', 0, 0, 0)`)
    db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO orch_resource_leases (id, plugin, kind, resource, holder, token, granted_at, expires_at, ended_at, end_reason)
      SELECT 'lease-' || i, 'allocator', 'device', 'd1', 'ci', 1000 + i, ?, ?, ?, 'released' FROM n`)
      .run(counts.old, now - 30 * day, now - 30 * day, now - 30 * day)
    db.exec(`INSERT INTO allocator_lease_ttls (lease_id, ttl_ms) SELECT id, 60000 FROM orch_resource_leases`)
  } finally {
    db.close()
  }
}

const count = (dir: string, table: string) => {
  const db = new Database(path.join(dir, "orch.sqlite"), { readonly: true })
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

describe("orch db prune", () => {
  it("counts with --dry-run, then removes the old finished history and prints what it removed per table", async () => {
    const dir = tempDir()
    expect((await run(orchBin, ["db", "migrate", "--data-dir", dir])).code).toBe(0)
    seed(dir, { old: 1200, young: 10 })

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
    expect(count(dir, "orch_jobs")).toBe(1213)

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
    expect(count(dir, "orch_jobs")).toBe(13)
    expect(count(dir, "orch_job_history")).toBe(13)
    expect(count(dir, "orch_resource_leases")).toBe(0)
    expect(count(dir, "allocator_lease_ttls")).toBe(0)

    const again = await run(orchBin, ["db", "prune", "--json", "--data-dir", dir])
    expect(JSON.parse(again.stdout).tables.every((t: { rows: number }) => t.rows === 0)).toBe(true)
  })

  it("honours a per-kind override given with --set", async () => {
    const dir = tempDir()
    expect((await run(orchBin, ["db", "migrate", "--data-dir", dir])).code).toBe(0)
    seed(dir, { old: 5, young: 4 })
    const pruned = await run(orchBin, ["db", "prune", "--json", "--data-dir", dir, "--set", "core.retention.jobs.overrides.allocator/clean.maxCount=2"])
    expect(pruned.code, pruned.stderr).toBe(0)
    // all 5 old ones go by age, and 2 of the 4 young by count
    expect(JSON.parse(pruned.stdout).tables.find((t: { table: string }) => t.table === "orch_jobs").rows).toBe(7)
    expect(count(dir, "orch_jobs")).toBe(5)
  })
})
