/**
 * One API: every command but `run`, `db` and `config` asks the running daemon over HTTP,
 * wherever it is run from, and creates nothing when no daemon answers. Through the built
 * binary and a real daemon over a temp data dir.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, orchBin, queryTestDatabase, run, startDaemon, tempDir } from "@orch/testing"

/** A port nothing listens on: bound once, then closed. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })

describe("without a daemon", () => {
  it("orch jobs list in an empty folder exits 1, names the URL it tried and how to start one, and creates nothing", async () => {
    const port = await closedPort()
    const empty = tempDir("orch-no-daemon-")
    // the address from core.http of the config (here a --set), as no --url nor ORCH_URL is given
    const listed = await run(orchBin, ["jobs", "list", "--set", `core.http.port=${port}`], { cwd: empty, env: { ORCH_URL: "" } })
    expect(listed.code).toBe(1)
    expect(listed.stdout).toBe("")
    expect(listed.stderr).toBe(
      `orch: no orch daemon answers at http://127.0.0.1:${port} (connection refused); start one with \`orch run\`, or give its address with --url or ORCH_URL\n`
    )
    expect(fs.readdirSync(empty)).toEqual([])
  })

  it("every command that reads or changes the daemon's state says the same, from ORCH_URL or --url, and creates nothing", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const empty = tempDir("orch-no-daemon-")
    const commands = [
      ["jobs", "show", "1"],
      ["jobs", "cancel", "1"],
      ["jobs", "retry", "1"],
      ["resources", "list", "--json"],
      ["tui", "--once"],
      ["watchdog", "create", "https://example.org/"],
      ["watchdog", "jobs", "--json"],
      ["watchdog", "instances"],
      ["allocator", "devices", "--json"],
      ["allocator", "leases"]
    ]
    // the scheduler's commands would work on its stores in this process, but only when --data-dir names them
    const scheduler = [
      ["scheduler", "descriptors"],
      ["scheduler", "data"],
      ["scheduler", "log"],
      ["scheduler", "config", "get"],
      ["scheduler", "config", "set", "verbose=1"],
      ["scheduler", "run", "speedtest"]
    ]
    for (const args of [...commands, ...scheduler]) {
      const viaEnv = await run(orchBin, args, { cwd: empty, env: { ORCH_URL: url } })
      expect({ args, code: viaEnv.code, stderr: viaEnv.stderr }).toEqual({
        args,
        code: 1,
        stderr: expect.stringContaining(`no orch daemon answers at ${url} `)
      })
    }
    const viaFlag = await run(orchBin, ["jobs", "list", "--url", `${url}/`], { cwd: empty })
    expect(viaFlag.stderr).toContain(`no orch daemon answers at ${url} `)
    expect(fs.readdirSync(empty)).toEqual([])
  })
})

describe("the token", () => {
  it("goes as Authorization: Bearer from --token, else ORCH_TOKEN (else ORCH_ALLOCATOR_TOKEN for the allocator's commands)", async () => {
    const seen: Array<{ url: string; authorization: string | undefined }> = []
    const server = http.createServer((request, response) => {
      seen.push({ url: request.url!, authorization: request.headers.authorization })
      response.writeHead(200, { "content-type": "application/json" })
      response.end("[]")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const env = { ORCH_TOKEN: "", ORCH_ALLOCATOR_TOKEN: "" }
      expect((await run(orchBin, ["jobs", "list", "--json", "--url", url, "--token", "from-flag"], { env })).stdout).toBe("[]\n")
      await run(orchBin, ["resources", "list", "--url", url], { env: { ...env, ORCH_TOKEN: "from-env" } })
      await run(orchBin, ["allocator", "devices", "--url", url], { env: { ...env, ORCH_ALLOCATOR_TOKEN: "allocator-env" } })
      await run(orchBin, ["jobs", "list", "--url", url], { env })
      expect(seen).toEqual([
        { url: "/jobs?limit=50", authorization: "Bearer from-flag" },
        { url: "/resources", authorization: "Bearer from-env" },
        { url: "/allocator/devices", authorization: "Bearer allocator-env" },
        { url: "/jobs?limit=50", authorization: undefined }
      ])
    } finally {
      server.close()
    }
  })
})

describe("with a daemon", () => {
  let daemon: Daemon
  let dataDir: string
  beforeAll(async () => {
    dataDir = tempDir("orch-one-api-data-")
    daemon = await startDaemon(orchBin, ["--data-dir", dataDir, "--plugins", "watchdog,allocator"], { cwd: dataDir })
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  /** `orch …` run from a folder of its own, away from the daemon's data. */
  const elsewhere = tempDir("orch-one-api-elsewhere-")
  const orch = (...args: Array<string>) => run(orchBin, [...args, "--url", daemon.url], { cwd: elsewhere })
  const api = async (route: string) => (await fetch(`${daemon.url}${route}`)).json() as Promise<any>

  it("watchdog create, jobs list --json, jobs show, cancel and retry act on the daemon's database", async () => {
    const created = await orch("watchdog", "create", "--zone", "us-central1-a", "--browser", "tor", "--agent", "a1", "https://example.org/")
    expect(created).toMatchObject({ code: 0, stdout: "created job 1\n" })
    expect((await api("/jobs/1")).job).toMatchObject({ id: 1, plugin: "watchdog", kind: "wpt-test", state: "AWAITING" })

    const listed = await orch("jobs", "list", "--json")
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: 1, plugin: "watchdog", state: "AWAITING" })])
    expect((await orch("jobs", "list", "--state", "AWAITING")).stdout).toMatch(/^1\s+watchdog\s+wpt-test\s+AWAITING\s+0\/\d+/m)

    const shown = await orch("jobs", "show", "1", "--json")
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: 1, history: [{ to: "AWAITING", reason: "enqueued" }] })
    expect((await orch("jobs", "show", "1")).stdout).toMatch(/^job 1 {2}watchdog\/wpt-test {2}AWAITING$/m)

    expect((await orch("jobs", "cancel", "1", "--reason", "not today")).stdout).toBe("job 1 is now CANCELLED\n")
    const afterCancel = await api("/jobs/1")
    expect(afterCancel.job.state).toBe("CANCELLED")
    expect(afterCancel.history.at(-1)).toMatchObject({ to: "CANCELLED", reason: "not today" })
    const again = await orch("jobs", "cancel", "1")
    expect(again.code).toBe(1)
    expect(again.stderr).toBe("orch: POST /jobs/1/cancel: 409 job 1 of kind watchdog/wpt-test cannot go from CANCELLED to CANCELLED: CANCELLED is final\n")
    expect((await orch("jobs", "retry", "1")).stdout).toBe("job 1 is now AWAITING, attempts reset\n")
    const missing = await orch("jobs", "show", "9999")
    expect(missing).toMatchObject({ code: 1, stderr: "orch: GET /jobs/9999: 404 no job 9999\n" })
    const refused = await orch("jobs", "list", "--limit", "2000")
    expect(refused).toMatchObject({ code: 1, stderr: "orch: GET /jobs: 400 limit: Expected a number between 1 and 1000, actual 2000\n" })

    expect(fs.readdirSync(elsewhere)).toEqual([])
    // the jobs are in the daemon's database (its file, or its PostgreSQL database)
    const [jobs] = await queryTestDatabase<{ n: number }>(path.join(dataDir, "orch.sqlite"), "SELECT count(*) AS n FROM orch_jobs")
    expect(jobs!.n).toBeGreaterThan(0)
  })

  it("resources list --json, --label and the table show the daemon's resources", async () => {
    const listed = await orch("resources", "list", "--json")
    expect(listed.code).toBe(0)
    const rows = JSON.parse(listed.stdout) as Array<{ plugin: string; kind: string; name: string; labels: Record<string, string> }>
    expect(rows).toEqual(await api("/resources"))
    expect(rows.length).toBeGreaterThan(0)
    const first = rows[0]!
    const [key, value] = Object.entries(first.labels)[0]!
    const labelled = JSON.parse((await orch("resources", "list", "--json", "--label", `${key}=${value}`)).stdout) as typeof rows
    expect(labelled.map((r) => r.name)).toContain(first.name)
    expect(labelled.every((r) => r.labels[key] === value)).toBe(true)
    expect((await orch("resources", "list")).stdout.split("\n")[0]).toMatch(/^PLUGIN\s+KIND\s+NAME\s+STATE\s+LABELS/)
    expect(fs.readdirSync(elsewhere)).toEqual([])
  })

  it("tui --once draws its frame from the daemon's API", async () => {
    const frame = await orch("tui", "--once")
    expect(frame.code).toBe(0)
    expect(frame.stdout).toContain(`daemon ${daemon.url} ready`)
    expect(frame.stdout).toMatch(/watchdog\s+wpt-test\s+AWAITING\s+1/)
    expect(frame.stdout).toMatch(/allocator\s+device\s+free\s+\d+\s+0/)
    expect(frame.stdout).toContain("watchdog: WPT jobs by location")
    expect(frame.stdout).toContain("allocator: devices")
    expect(fs.readdirSync(elsewhere)).toEqual([])
  })
})
