/**
 * The allocator's history under the built daemon's retention loop: every lease leaves a
 * cleaning job, its history, the lease row, its TTL row and device events; with short
 * limits they all go, while the lease still held and its TTL stay.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, queryTestDatabase, startDaemon, tempDir } from "@orch/testing"

const running: Array<Daemon> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((daemon) => daemon.stop("SIGKILL")))
})

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>)

/** Rows the daemon keeps, read from its database on the pass's engine. */
const counts = async (dir: string) => {
  const n = async (query: string) => Number((await queryTestDatabase<{ n: number }>(path.join(dir, "orch.sqlite"), query))[0]!.n)
  return {
    cleanJobs: await n("SELECT COUNT(*) AS n FROM orch_jobs WHERE plugin = 'allocator' AND kind = 'clean'"),
    history: await n("SELECT COUNT(*) AS n FROM orch_job_history"),
    leases: await n("SELECT COUNT(*) AS n FROM orch_resource_leases"),
    openLeases: await n("SELECT COUNT(*) AS n FROM orch_resource_leases WHERE ended_at IS NULL"),
    ttls: await n("SELECT COUNT(*) AS n FROM allocator_lease_ttls"),
    events: await n("SELECT COUNT(*) AS n FROM orch_resource_events")
  }
}

describe("allocator history under retention", () => {
  it("the daemon's retention loop removes released leases, their cleaning jobs, TTLs and old events; the held lease stays", async () => {
    const dir = tempDir("orch-allocator-retention-")
    const inventory = path.join(dir, "inventory.yaml")
    fs.writeFileSync(inventory, [
      "types:",
      "  board: { cleaning: { command: [\"true\"] } }",
      "devices:",
      "  - { name: board-0, type: board, connection: { host: 127.0.0.1, port: 30000 } }",
      "  - { name: board-1, type: other, connection: { host: 127.0.0.1, port: 30001 } }",
      ""
    ].join("\n"))
    const config = path.join(dir, "orch.yaml")
    fs.writeFileSync(config, [
      "core:",
      `  dataDir: ${dir}`,
      "  retention:",
      "    every: 1 seconds",
      "    jobs: { maxAge: 1 millis }",
      "    leases: { maxAge: 1 millis }",
      "    events: { maxAge: 1 millis }",
      "allocator:",
      `  inventory: ${inventory}`,
      ""
    ].join("\n"))
    const daemon = await startDaemon(orchBin, ["--plugins", "allocator", "--config", config])
    running.push(daemon)
    const held = await post(`${daemon.url}/allocator/leases`, { type: "other", holder: "keeper", ttlSeconds: 600 })
    expect(held.id).toBeDefined()
    for (let i = 0; i < 10; i++) {
      const lease = await post(`${daemon.url}/allocator/leases`, { type: "board", holder: `ci-${i}`, ttlSeconds: 60, waitSeconds: 10 })
      expect(lease.id, JSON.stringify(lease)).toBeDefined()
      await fetch(`${daemon.url}/allocator/leases/${lease.id}`, { method: "DELETE" })
    }
    // everything of the ten leases goes; what is left is the held lease with its TTL and each device's newest event
    const left = await eventually(async () => {
      const now = await counts(dir)
      return now.cleanJobs === 0 && now.leases === 1 && now.events === 2 && now.ttls === 1 ? now : undefined
    }, 20_000)
    expect(left).toMatchObject({ cleanJobs: 0, history: 0, leases: 1, openLeases: 1, ttls: 1, events: 2 })
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(Number(/orch_pruned_rows_total\{table="orch_jobs"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(10)
    expect(Number(/orch_pruned_rows_total\{table="allocator_lease_ttls"\} (\d+)/.exec(metrics)?.[1])).toBe(10)
    expect(daemon.logs.some((entry) => String(entry.message).startsWith("retention removed"))).toBe(true)
  })
})
