import Database from "better-sqlite3"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, queryTestDatabase, run, sqliteOnly, startDaemon, tempDir } from "@orch/testing"
import { demoBin } from "./support.js"

const running: Array<Daemon> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((daemon) => daemon.stop("SIGKILL")))
})
const start = async (bin: string, args: ReadonlyArray<string>) => {
  const daemon = await startDaemon(bin, args)
  running.push(daemon)
  return daemon
}
const stop = async (daemon: Daemon, signal: NodeJS.Signals = "SIGTERM") => {
  running.splice(running.indexOf(daemon), 1)
  return daemon.stop(signal)
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

/** A GET on a connection of its own: fetch's pool may pick a keep-alive socket the draining server just closed. */
const getOnNewConnection = (url: string) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => body += chunk)
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }))
      response.on("error", reject)
    })
    request.on("error", reject)
  })

/** Reads the daemon's database directly, as an operator's tool would. */
const inspect = <A extends object>(dir: string, statement: string | { sqlite: string; pg: string }) =>
  queryTestDatabase<A>(path.join(dir, "orch.sqlite"), statement)

const stateCounts = async (dir: string) =>
  Object.fromEntries(
    (await inspect<{ state: string; n: number }>(dir, "SELECT state, count(*) AS n FROM orch_jobs GROUP BY state")).map((row) => [row.state, row.n])
  ) as Record<string, number>

describe("orch run", () => {
  it("serves healthz, metrics, openapi and JSON 404s on the embedded default, and stops on SIGTERM with 0", async () => {
    const dir = tempDir()
    const daemon = await start(orchBin, ["--data-dir", dir])
    expect(daemon.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const health = await fetch(`${daemon.url}/healthz`)
    expect(health.status).toBe(200)
    const missing = await fetch(`${daemon.url}/nowhere`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: "no route for GET /nowhere" })
    const openapi: any = await (await fetch(`${daemon.url}/openapi.json`)).json()
    expect(Object.keys(openapi.paths)).toContain("/jobs")
    const docs = await fetch(`${daemon.url}/docs`)
    expect(docs.headers.get("content-type")).toContain("text/html")
    expect(await docs.text()).toContain(`spec-url="/openapi.json"`)
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(metrics).toMatch(/orch_http_requests_total\{method="GET",path="\/healthz",status="200"\} 1/)
    expect(metrics).toContain("# TYPE orch_http_request_duration_seconds histogram")
    expect(metrics).not.toContain("effect_fiber")
    expect(await stop(daemon)).toBe(0)
  })

  it("validates bodies (400 naming the field), refuses oversized ones (413), and works jobs through a plugin", async () => {
    const dir = tempDir()
    const daemon = await start(demoBin, ["--data-dir", dir, "--plugins", "demo"])
    const bad = await post(`${daemon.url}/demo/tasks`, { n: "three" })
    expect(bad.status).toBe(400)
    const badBody: any = await bad.json()
    // core's readable pair, beside the schema library's issues
    expect(badBody).toMatchObject({ error: "n: Expected number, actual \"three\"", field: "n", _tag: "HttpApiDecodeError" })
    expect(badBody.issues[0].path).toEqual(["n"])
    const spec: any = await (await fetch(`${daemon.url}/openapi.json`)).json()
    expect(spec.components.schemas.HttpApiDecodeError.properties).toHaveProperty("field")
    const outOfRange = await post(`${daemon.url}/demo/tasks`, { n: 1, count: 0 })
    expect(outOfRange.status).toBe(400)
    const huge = await post(`${daemon.url}/demo/tasks`, { n: 1, pad: "x".repeat(2 * 1024 * 1024) })
    expect(huge.status).toBe(413)
    const ok = await post(`${daemon.url}/demo/tasks`, { n: 1, count: 20 })
    expect(ok.status).toBe(200)
    const { ids }: any = await ok.json()
    expect(ids).toHaveLength(20)
    await eventually(async () => ((await stateCounts(dir)).succeeded === 20 ? true : undefined))
    const job: any = await (await fetch(`${daemon.url}/jobs/${ids[0]}`)).json()
    expect(job.job).toMatchObject({ state: "succeeded", result: { doubled: 2 } })
    expect(job.history.map((h: { to: string }) => h.to)).toEqual(["queued", "succeeded"])
    const noReason = await post(`${daemon.url}/jobs/${ids[0]}/cancel`, {})
    expect(noReason.status).toBe(400)
    expect(JSON.stringify(await noReason.json())).toContain("reason")
    const finished = await post(`${daemon.url}/jobs/${ids[0]}/cancel`, { reason: "too late" })
    expect(finished.status).toBe(409)
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(metrics).toContain(`orch_jobs{plugin="demo",kind="task",state="succeeded"} 20`)
    expect(metrics).toContain(`orch_jobs{plugin="demo",kind="task",state="queued"} 0`)
    expect(await stop(daemon)).toBe(0)
  })

  it("a plugin loop that keeps failing is restarted and counted, and never stops the others", async () => {
    const dir = tempDir()
    const daemon = await start(demoBin, ["--data-dir", dir, "--set", "demo.failingLoop=true"])
    await post(`${daemon.url}/demo/tasks`, { n: 1, count: 10 })
    await eventually(async () => ((await stateCounts(dir)).succeeded === 10 ? true : undefined))
    const restarts = await eventually(async () => {
      const text = await (await fetch(`${daemon.url}/metrics`)).text()
      const match = text.match(/orch_loop_restarts_total\{loop="demo:always-fails"\} (\d+)/)
      return match && Number(match[1]) >= 2 ? Number(match[1]) : undefined
    })
    expect(restarts).toBeGreaterThanOrEqual(2)
    const ready = await fetch(`${daemon.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as any).status).toBe("degraded")
    expect(daemon.logs.some((l) => String(l.message).includes("demo failure") && l.severity === "WARNING")).toBe(true)
  })

  it("SIGTERM lets the job in hand finish before exiting 0", async () => {
    const dir = tempDir()
    const daemon = await start(demoBin, ["--data-dir", dir, "--set", "demo.workMs=1500", "--set", "demo.workers=1"])
    await post(`${daemon.url}/demo/tasks`, { n: 7 })
    await eventually(async () => (await inspect<{ lease_owner: string | null }>(dir, "SELECT lease_owner FROM orch_jobs"))[0]?.lease_owner ?? undefined)
    expect(await stop(daemon, "SIGTERM")).toBe(0)
    expect(await stateCounts(dir)).toEqual({ succeeded: 1 })
  })

  it("drains in bounded time: every route answers 503 with Retry-After, and a half-sent request is cut at the grace", async () => {
    const dir = tempDir()
    const daemon = await start(demoBin, [
      "--data-dir", dir, "--set", "demo.workMs=3000", "--set", "demo.workers=1", "--set", "core.shutdownGraceSeconds=1"
    ])
    await post(`${daemon.url}/demo/tasks`, { n: 7 })
    await eventually(async () => (await inspect<{ lease_owner: string | null }>(dir, "SELECT lease_owner FROM orch_jobs"))[0]?.lease_owner ?? undefined)
    // a client that sends half a request and then nothing: without a cut, server.close() waits on it
    const { port, hostname } = new URL(daemon.url)
    const halfSent = net.connect(Number(port), hostname)
    await new Promise((resolve) => halfSent.once("connect", resolve))
    halfSent.write(`POST /demo/tasks HTTP/1.1\r\nhost: ${hostname}:${port}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"n":`)
    const cut = new Promise((resolve) => halfSent.once("close", resolve))
    halfSent.on("error", () => {})
    running.splice(running.indexOf(daemon), 1)
    const exited = daemon.stop("SIGTERM")
    const drainingHealth = await eventually(async () => {
      const response = await getOnNewConnection(`${daemon.url}/healthz`).catch(() => undefined)
      return response?.status === 503 ? response : undefined
    })
    expect(drainingHealth.headers["retry-after"]).toBeDefined()
    expect(drainingHealth.headers.connection).toBe("close")
    // an Effect route, not only the hot ones
    const jobs = await getOnNewConnection(`${daemon.url}/jobs`)
    expect(jobs.status).toBe(503)
    expect(jobs.headers["retry-after"]).toBeDefined()
    expect(JSON.parse(jobs.body)).toEqual({ error: "the daemon is shutting down" })
    await cut
    expect(await exited).toBe(0)
  })

  it.skipIf(sqliteOnly)("/readyz is 503 while the database cannot be written, naming the write probe, and ready again once it can (SQLite only: a writer holding the file's lock past the busy timeout)", async () => {
    const dir = tempDir()
    const daemon = await start(orchBin, ["--data-dir", dir, "--set", "core.database.busyTimeoutMs=100"])
    await eventually(async () => ((await fetch(`${daemon.url}/readyz`)).status === 200 ? true : undefined))
    // another writer holds the lock past the busy timeout: the file cannot be written
    const holder = new Database(path.join(dir, "orch.sqlite"))
    try {
      holder.exec("BEGIN IMMEDIATE")
      // the probe runs every 5 s: wait for its round
      const probe: any = await eventually(async () => {
        const response = await fetch(`${daemon.url}/readyz`)
        const body: any = await response.json()
        const loop = body.loops.find((l: any) => l.name === "core:database-write" && l.consecutiveFailures > 0)
        return loop === undefined ? undefined : { status: response.status, body, loop }
      })
      expect(probe.status).toBe(503)
      expect(probe.body.status).toBe("degraded")
      expect(probe.loop.lastError).toMatch(/database is locked/)
      holder.exec("ROLLBACK")
      await eventually(async () => ((await fetch(`${daemon.url}/readyz`)).status === 200 ? true : undefined))
    } finally {
      holder.close()
    }
    expect(await stop(daemon)).toBe(0)
  })

  it("a daemon killed with SIGKILL mid-work and restarted accounts for every job, none done twice", async () => {
    const dir = tempDir()
    const args = ["--data-dir", dir, "--set", "demo.leaseMs=1000", "--set", "demo.workMs=5"]
    const first = await start(demoBin, args)
    const response = await post(`${first.url}/demo/tasks`, { n: 0, count: 300 })
    const { ids }: any = await response.json()
    await eventually(async () => (((await stateCounts(dir)).succeeded ?? 0) >= 40 ? true : undefined))
    await stop(first, "SIGKILL")
    const midway = await stateCounts(dir)
    expect(midway.succeeded).toBeLessThan(300)
    const second = await start(demoBin, args)
    await eventually(async () => ((await stateCounts(dir)).succeeded === 300 ? true : undefined), 30_000)
    const completions = await inspect<{ job_id: number; n: number }>(dir, "SELECT job_id, count(*) AS n FROM orch_job_history WHERE to_state = 'succeeded' GROUP BY job_id")
    expect(completions).toHaveLength(300)
    expect(completions.every((row) => row.n === 1)).toBe(true)
    expect(completions.map((row) => row.job_id).sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b))
    expect(await stop(second)).toBe(0)
  })

  it("two daemons on one database file share the work, each job done once", async () => {
    const dir = tempDir()
    const args = ["--data-dir", dir, "--set", "demo.workMs=2", "--set", "demo.workers=2"]
    const a = await start(demoBin, args)
    const b = await start(demoBin, args)
    await post(`${a.url}/demo/tasks`, { n: 0, count: 200 })
    await post(`${b.url}/demo/tasks`, { n: 1000, count: 200 })
    await eventually(async () => ((await stateCounts(dir)).succeeded === 400 ? true : undefined), 30_000)
    const perPid = await inspect<{ worker: string }>(dir, {
      sqlite: "SELECT json_extract(result, '$.worker') AS worker FROM orch_jobs",
      pg: "SELECT CAST(result AS json) ->> 'worker' AS worker FROM orch_jobs"
    })
    const pids = new Set(perPid.map((row) => row.worker.split(":")[0]))
    expect(pids).toEqual(new Set([String(a.process.pid), String(b.process.pid)]))
    const doubled = await inspect(dir, "SELECT job_id FROM orch_job_history WHERE to_state = 'succeeded' GROUP BY job_id HAVING count(*) > 1")
    expect(doubled).toEqual([])
    expect(await stop(a)).toBe(0)
    expect(await stop(b)).toBe(0)
  })

  it("a plugin can bind a listener of its own beside the main server", async () => {
    const daemon = await start(demoBin, ["--data-dir", tempDir(), "--set", "demo.ownPort=0", "--set", "demo.workers=0"])
    const line = await eventually(() => daemon.logs.find((l) => String(l.message).startsWith("also listening on")))
    const own = String(line.message).replace("also listening on ", "")
    const response = await fetch(`${own.startsWith("http") ? own : `http://${own}`}/`)
    expect(await response.text()).toBe("demo's own listener")
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200)
  })

  // Without a Content-Length the limit is found while reading, and the platform then
  // destroys the request stream, so the client sees the connection close, not a 413.
  it("refuses a chunked body over the limit too, storing nothing, and keeps serving", async () => {
    const dir = tempDir()
    const daemon = await start(demoBin, ["--data-dir", dir, "--set", "core.http.maxBodyBytes=1000"])
    const chunk = new TextEncoder().encode(`{"n": 1, "pad": "${"x".repeat(5000)}"}`)
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(chunk)
        controller.close()
      }
    })
    const outcome = await fetch(`${daemon.url}/demo/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half"
    } as RequestInit).then((response) => response.status, (error: Error) => String(error.cause ?? error))
    expect(String(outcome)).toMatch(/^413$|other side closed|socket|ECONNRESET/i)
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200)
    expect(await stateCounts(dir)).toEqual({})
  })

  it("refuses to start when the port is taken, saying so", async () => {
    const dir = tempDir()
    const daemon = await start(orchBin, ["--data-dir", dir])
    const port = new URL(daemon.url).port
    const second = await run(orchBin, ["run", "--data-dir", tempDir(), "--http-port", port])
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/EADDRINUSE|address already in use/i)
  })
})
