/**
 * Bad input over real HTTP against the built daemon with every plugin: each gets a 4xx
 * naming what is wrong, and nothing stored changes (issue 11, item 4).
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, orchBin, send, startDaemon, tempDir } from "@orch/testing"

const maxBodyBytes = 64 * 1024
let daemon: Daemon

beforeAll(async () => {
  const dir = tempDir("orch-bad-input-")
  const inventory = path.join(dir, "inventory.yaml")
  fs.writeFileSync(inventory, "devices:\n  - { name: board-0, type: board, labels: { slot: \"0\" }, connection: { host: 127.0.0.1, port: 30000 } }\n")
  const config = path.join(dir, "orch.yaml")
  fs.writeFileSync(config, [
    "core:",
    `  dataDir: ${dir}`,
    `  http: { maxBodyBytes: ${maxBodyBytes} }`,
    "allocator:",
    `  inventory: ${inventory}`,
    "watchdog:",
    "  wpt: { server: http://127.0.0.1:9, key: k, locationKey: lk, requestTimeoutMs: 500 }",
    "  provider: gce",
    "  starter: { intervalMs: 3600000 }",
    "  gce: { project: p, zones: [z1], image: i, apiEndpoint: 127.0.0.1, port: 9, protocol: http, credentials: none }",
    ""
  ].join("\n"))
  daemon = await startDaemon(orchBin, ["--config", config, "--data-dir", dir, "--plugins", "allocator,scheduler,watchdog"])
}, 30_000)
afterAll(async () => {
  await daemon?.stop("SIGKILL")
})

const call = (route: string, method: string, body?: string, headers: Record<string, string> = {}) =>
  send(`${daemon.url}${route}`, { method, body, headers })

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth)
const deepObject = (depth: number) => "{\"a\":".repeat(depth) + "1" + "}".repeat(depth)

/**
 * A chunked POST (no Content-Length) of about `bytes` bytes on a raw socket: the status
 * line's code the server answers with while the body is still being sent (the server
 * may close the connection after its answer; writes failing then are expected), or the
 * socket's error when no answer came.
 */
const chunked = (route: string, bytes: number) =>
  new Promise<number | string>((resolve) => {
    const url = new URL(route, daemon.url)
    const socket = net.connect(Number(url.port), url.hostname)
    let received = ""
    let sent = 0
    const piece = "{\"reason\":\"" + "x".repeat(1000)
    const chunk = `${piece.length.toString(16)}\r\n${piece}\r\n`
    const next = () => {
      while (sent < bytes && !socket.destroyed) {
        sent += piece.length
        if (!socket.write(chunk)) return socket.once("drain", next)
      }
      if (!socket.destroyed) socket.write("0\r\n\r\n")
    }
    socket.on("connect", () => {
      socket.write(`POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`)
      next()
    })
    socket.on("data", (data) => {
      received += data.toString()
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)
      if (status !== null) {
        resolve(Number(status[1]))
        socket.destroy()
      }
    })
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(received.length > 0 ? received.slice(0, 40) : error.code ?? error.message))
    socket.on("close", () => resolve(received.length > 0 ? received.slice(0, 40) : "closed without an answer"))
  })

const createWatchdogJob = async () => {
  const created = await call("/watchdog/jobs", "POST", JSON.stringify({ jobs: [{ zone: "z1", browser: "chrome", agent: "a1", url: "https://example.com" }] }))
  expect(created.status).toBe(201)
  return created.body.ids[0] as number
}

const job = async (id: number) => {
  const got = await call(`/jobs/${id}`, "GET")
  expect(got.status).toBe(200)
  return got.body
}

describe("bad input", () => {
  it("refuses JSON nested 5,000 deep with 400 on every JSON route, and changes nothing", async () => {
    const id = await createWatchdogJob()
    const before = await job(id)
    const routes: Array<[string, string]> = [
      [`/jobs/${id}/cancel`, "POST"],
      [`/jobs/${id}/retry`, "POST"],
      ["/watchdog/jobs", "POST"],
      [`/watchdog/jobs/${id}/cancel`, "POST"],
      ["/allocator/leases", "POST"],
      ["/allocator/leases/some-id/keepalive", "POST"],
      ["/scheduler/api/config", "POST"]
    ]
    for (const [route, method] of routes) {
      for (const body of [deep(5000), deepObject(5000)]) {
        const answer = await call(route, method, body)
        expect({ route, status: answer.status }).toEqual({ route, status: 400 })
        expect(JSON.stringify(answer.body)).toContain("deeper than 64")
      }
    }
    // 64 levels are still JSON a route reads (and refuses for its own reasons, not the depth)
    const shallow = await call("/allocator/leases", "POST", deep(64))
    expect(shallow.status).toBe(400)
    expect(JSON.stringify(shallow.body)).not.toContain("deeper")
    expect(await job(id)).toEqual(before)
    expect((await call("/healthz", "GET")).status).toBe(200)
  })

  it("refuses extra fields on core's and the watchdog's routes with 400 naming the field; the job stays as it was", async () => {
    const id = await createWatchdogJob()
    const before = await job(id)
    for (const route of [`/jobs/${id}/cancel`, `/watchdog/jobs/${id}/cancel`]) {
      const onlyUnknown = await call(route, "POST", JSON.stringify({ bogus: 1 }))
      expect(onlyUnknown.status).toBe(400)
      expect(JSON.stringify(onlyUnknown.body)).toContain("bogus")
    }
    const extra = await call(`/jobs/${id}/cancel`, "POST", JSON.stringify({ reason: "r", bogus: 1 }))
    expect(extra.status).toBe(400)
    expect(JSON.stringify(extra.body)).toContain("bogus")
    const create = await call("/watchdog/jobs", "POST", JSON.stringify({ jobs: [], extraField: true }))
    expect(create.status).toBe(400)
    expect(JSON.stringify(create.body)).toContain("extraField")
    expect(await job(id)).toEqual(before)
    // a proper cancel still works
    expect((await call(`/jobs/${id}/cancel`, "POST", JSON.stringify({ reason: "done with it" }))).status).toBe(200)
    expect((await job(id)).job.state).toBe("CANCELLED")
  })

  it("takes only strictly decimal ids: /jobs/1e3 is not job 1000", async () => {
    const id = await createWatchdogJob()
    const before = await job(id)
    for (const bad of ["1e0", `${id}.0`, `0${id}`, "0x1", "+1", "-1", "0", " 1", "99999999999999999999"]) {
      const got = await call(`/jobs/${encodeURIComponent(bad)}`, "GET")
      expect({ bad, status: got.status }).toEqual({ bad, status: 400 })
      const cancel = await call(`/watchdog/jobs/${encodeURIComponent(bad)}/cancel`, "POST", "{}")
      expect({ bad, status: cancel.status }).toEqual({ bad, status: 400 })
    }
    const asExponent = id === 1 ? "1e0" : `${id / 10}e1`
    if (Number.isInteger(id / 10) || id === 1) expect((await call(`/jobs/${asExponent}/cancel`, "POST", "{\"reason\":\"x\"}")).status).toBe(400)
    expect(await job(id)).toEqual(before)
    expect((await call(`/jobs/${id}`, "GET")).status).toBe(200)
  })

  it("refuses ~1,000 label keys and over-long labels on an allocation with 400 naming labels, and grants nothing", async () => {
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, "v"]))
    const tooMany = await call("/allocator/leases", "POST", JSON.stringify({ labels: many, holder: "h", ttlSeconds: 30 }))
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.field).toBe("labels")
    const forty = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"]))
    const overCount = await call("/allocator/leases", "POST", JSON.stringify({ labels: forty, holder: "h", ttlSeconds: 30 }))
    expect(overCount.status).toBe(400)
    expect(overCount.body.field).toBe("labels")
    const longKey = await call("/allocator/leases", "POST", JSON.stringify({ labels: { ["k".repeat(300)]: "v" }, holder: "h", ttlSeconds: 30 }))
    expect(longKey.status).toBe(400)
    expect(String(longKey.body.field)).toMatch(/^labels/)
    const longValue = await call("/allocator/leases", "POST", JSON.stringify({ labels: { slot: "v".repeat(300) }, holder: "h", ttlSeconds: 30 }))
    expect(longValue.status).toBe(400)
    expect(longValue.body.field).toBe("labels.slot")
    const leases = await call("/allocator/leases?all=true", "GET")
    expect(leases.body).toEqual([])
    const granted = await call("/allocator/leases", "POST", JSON.stringify({ labels: { slot: "0" }, holder: "h", ttlSeconds: 30 }))
    expect(granted.status).toBe(200)
    expect((await call(`/allocator/leases/${granted.body.id}`, "DELETE")).status).toBe(200)
  })

  it("applies core.http.maxBodyBytes to the allocator, and answers an over-limit chunked body with 413 on every route", async () => {
    const pad = "x".repeat(maxBodyBytes)
    const sized = await call("/allocator/leases", "POST", JSON.stringify({ type: "board", holder: "h", ttlSeconds: 30, pad }))
    expect(sized.status).toBe(413)
    const id = await createWatchdogJob()
    const before = await job(id)
    const leasesBefore = (await call("/allocator/leases?all=true", "GET")).body
    for (const route of [`/jobs/${id}/cancel`, `/watchdog/jobs/${id}/cancel`, "/watchdog/jobs", "/scheduler/api/config", "/allocator/leases", "/allocator/leases/x/keepalive"]) {
      expect({ route, status: await chunked(route, 10 * maxBodyBytes) }).toEqual({ route, status: 413 })
    }
    expect(await job(id)).toEqual(before)
    expect((await call("/allocator/leases?all=true", "GET")).body).toEqual(leasesBefore)
  })
})
