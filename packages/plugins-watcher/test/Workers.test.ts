/**
 * Three built `orch run --plugins=watcher` daemons on one SQLite file share 300 endpoints:
 * no endpoint is checked twice for one scheduled time, and when one daemon is SIGKILLed
 * the others take its jobsets over within the lease (printed; asserted with a generous bound).
 */
import { type Daemon, eventually, orchBin, queryTestDatabase, startDaemon, tempDir } from "@orch/testing"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const endpoints = 300
const periodMs = 2_000
const heartbeatSeconds = 0.5
const leaseSeconds = 3

describe("three watcher workers on one database", () => {
  /** Hits per endpoint per scheduled time (the run's due time, which a scheduled check sends in a header). */
  const hits = new Map<string, number>()
  const lastHit = new Map<string, number>()
  let target: http.Server
  let targetUrl: string
  const daemons: Array<Daemon> = []

  beforeAll(async () => {
    target = http.createServer((request, response) => {
      const now = Date.now()
      const key = `${request.url} ${request.headers["x-orch-scheduled-at"]}`
      hits.set(key, (hits.get(key) ?? 0) + 1)
      lastHit.set(request.url!, now)
      response.end("ok")
    })
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", () => resolve()))
    targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.process.exitCode === null && d.process.signalCode === null ? d.stop() : undefined))
    await new Promise<void>((resolve) => {
      target.closeAllConnections()
      target.close(() => resolve())
    })
  })

  it("share 300 endpoints, none checked twice per scheduled time; a SIGKILLed worker's jobsets are taken over within the lease", async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "endpoints"))
    for (let file = 0; file < 3; file++) {
      const lines: Array<string> = []
      for (let i = file * 100; i < (file + 1) * 100; i++) lines.push(`e${i}:`, `  cron_schedule: "*/2 * * * * *"`, `  url: ${targetUrl}/e${i}`)
      fs.writeFileSync(path.join(dir, "endpoints", `part${file}.yml`), lines.join("\n") + "\n")
    }
    const args = [
      "--plugins=watcher", "--data-dir", path.join(dir, "data"),
      "--set", `watcher.heartbeatSeconds=${heartbeatSeconds}`, "--set", `watcher.leaseSeconds=${leaseSeconds}`,
      "--set", "watcher.maxJitterSeconds=0", "--set", "watcher.pollSeconds=1"
    ]
    // one after another: the first applies the migrations
    for (let i = 0; i < 3; i++) daemons.push(await startDaemon(orchBin, args, { cwd: dir }))
    const ownerOf = (daemon: Daemon) => `${os.hostname()}:${daemon.process.pid}:watcher`
    // the daemons' database, on the pass's engine (a PostgreSQL database in the postgres pass)
    const file = path.join(dir, "data", "orch.sqlite")
    const jobsets = async () =>
      (await queryTestDatabase<{ id: number; owner: string | null; expires_at: number }>(file, "SELECT id, owner, expires_at FROM watcher_jobsets ORDER BY id"))
        .map((row) => ({ id: Number(row.id), owner: row.owner, expires_at: Number(row.expires_at) }))
    try {
      // fair spread: every jobset held, at most ceil(16 / 3) = 6 each
      await eventually(async () => {
        const rows = await jobsets()
        const counts = daemons.map((d) => rows.filter((r) => r.owner === ownerOf(d)).length)
        return rows.length === 16 && counts.every((n) => n >= 4 && n <= 6) && counts.reduce((a, b) => a + b) === 16 ? counts : undefined
      }, 30_000)

      const api = await (await fetch(`${daemons[0]!.url}/watcher/api/jobsets`)).json() as any
      expect(api.self).toBe(ownerOf(daemons[0]!))
      expect(api.workers.filter((w: any) => w.live).map((w: any) => w.owner).sort()).toEqual(daemons.map(ownerOf).sort())
      expect(api.jobsets.reduce((n: number, j: any) => n + j.endpoints, 0)).toBe(endpoints)

      // every endpoint checked, several times, by the three together
      const sharedFrom = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 4 * periodMs + 500))
      for (let i = 0; i < endpoints; i++) expect(lastHit.get(`/e${i}`)).toBeGreaterThanOrEqual(sharedFrom)

      const killed = daemons[2]!
      const survivors = [ownerOf(daemons[0]!), ownerOf(daemons[1]!)]
      const killedJobsets = (await jobsets()).filter((r) => r.owner === ownerOf(killed)).map((r) => r.id)
      expect(killedJobsets.length).toBeGreaterThan(0)
      const killedAt = Date.now()
      await killed.stop("SIGKILL")
      const takenOverAt = await eventually(async () => {
        const rows = await jobsets()
        return rows.every((r) => r.owner !== null && survivors.includes(r.owner) && r.expires_at > Date.now()) ? Date.now() : undefined
      }, 30_000)
      const takeoverMs = takenOverAt - killedAt
      console.log(`watcher workers: ${killedJobsets.length} jobset(s) of the SIGKILLed worker taken over in ${takeoverMs} ms (lease ${leaseSeconds * 1000} ms, heartbeat ${heartbeatSeconds * 1000} ms)`)
      // within the lease plus a heartbeat, with room for a loaded 2-core machine
      expect(takeoverMs).toBeLessThan(leaseSeconds * 1000 + 10_000)

      // the killed worker's endpoints are checked again by the survivors
      // (a period or two after the takeover; waited for rather than timed, as a loaded machine's survivors start later)
      await eventually(() => {
        for (let i = 0; i < endpoints; i++) if (!((lastHit.get(`/e${i}`) ?? 0) >= takenOverAt)) return undefined
        return true
      }, 30_000)

      // none checked twice for one scheduled time, at the target and in the stored results
      const twice = [...hits].filter(([, n]) => n > 1)
      if (twice.length > 0) {
        // what to look at when it fails: each daemon's jobset changes, in time
        for (const d of daemons) console.log(d.logs.filter((l) => String(l.message).includes("jobset")).map((l) => `${l.timestamp} ${l.message}`).join("\n"))
      }
      expect(twice).toEqual([])
      expect(await queryTestDatabase(file, "SELECT endpoint, scheduled_at, COUNT(*) AS n FROM watcher_results GROUP BY endpoint, scheduled_at HAVING COUNT(*) > 1")).toEqual([])
      expect([...hits.keys()].every((key) => /^\/e\d+ \d+$/.test(key))).toBe(true) // every request said its run
      expect(hits.size).toBeGreaterThan(endpoints * 6)
    } finally {
      for (const daemon of daemons.slice(0, 2)) expect(await daemon.stop()).toBe(0)
    }
  }, 120_000)
})
