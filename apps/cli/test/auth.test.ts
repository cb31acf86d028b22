/**
 * Auth and cross-origin protection over real HTTP against the built daemon with every
 * plugin (issue 11, items 2 and 3): tokens with roles on every route but the probes,
 * refused requests change nothing, connection details only to `operate`, and a browser
 * on another origin (or another name, DNS rebinding) cannot reach any route.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Answer, type Daemon, eventually, orchBin, run, send, startDaemon, tempDir } from "@orch/testing"

const tokens = { read: "reader-token-0000001", operate: "operator-token-00001", admin: "admin-token-00000001" } as const
type Role = keyof typeof tokens

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

const watchdogConfig = [
  "watchdog:",
  "  wpt: { server: http://127.0.0.1:9, key: k, locationKey: lk, requestTimeoutMs: 500 }",
  "  provider: gce",
  "  starter: { intervalMs: 3600000 }",
  "  gce: { project: p, zones: [z1], image: i, apiEndpoint: 127.0.0.1, port: 9, protocol: http, credentials: none }"
]

/** A data dir and orch.yaml: two boards (board-0's cleaning takes a while), `core` lines added. */
const setup = (coreLines: ReadonlyArray<string>, schedulerLines: ReadonlyArray<string> = []) => {
  const dir = tempDir("orch-auth-")
  const inventory = path.join(dir, "inventory.yaml")
  fs.writeFileSync(inventory, [
    "types:",
    "  board:",
    "    cleaning: { command: 'if [ \"$ORCH_DEVICE_NAME\" = board-0 ]; then sleep 6; fi' }",
    "devices:",
    "  - { name: board-0, type: board, connection: { host: 127.0.0.1, port: 30000, password: hunter2 } }",
    "  - { name: board-1, type: board, connection: { host: 127.0.0.1, port: 30001, password: hunter2 } }",
    ""
  ].join("\n"))
  const config = path.join(dir, "orch.yaml")
  fs.writeFileSync(config, [
    "core:",
    `  dataDir: ${dir}`,
    ...coreLines,
    "allocator:",
    `  inventory: ${inventory}`,
    "  cleaningConcurrency: 1",
    "  reclaimIntervalSeconds: 0.2",
    ...watchdogConfig,
    ...schedulerLines,
    ""
  ].join("\n"))
  return { dir, config }
}


const request = (
  base: string,
  route: string,
  options: { readonly method?: string; readonly role?: Role; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Promise<Answer> =>
  send(`${base}${route}`, {
    method: options.method,
    body: options.body,
    token: options.role === undefined ? undefined : tokens[options.role],
    headers: options.headers
  })

/** The status of a GET sent with this Host header. */
const statusWithHost = (base: string, route: string, host: string, token?: string) =>
  new Promise<number>((resolve, reject) => {
    const headers = { host, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }
    http.get(`${base}${route}`, { headers, agent: false }, (response) => {
      response.resume()
      resolve(response.statusCode!)
    }).on("error", reject)
  })

describe("with tokens configured", () => {
  let daemon: Daemon
  let neubot: string
  const call = (route: string, options: Parameters<typeof request>[2] = {}) => request(daemon.url, route, options)

  beforeAll(async () => {
    const apiPort = await freePort()
    neubot = `http://127.0.0.1:${apiPort}`
    const { config } = setup([
      "  auth:",
      "    tokens:",
      "      - { name: viewer, token: '${ORCH_TEST_READ_TOKEN}', role: read }",
      `      - { name: op, token: ${tokens.operate}, role: operate }`,
      `      - { name: boss, token: ${tokens.admin}, role: admin }`
    ], ["scheduler:", `  apiPort: ${apiPort}`, "  apiHosts: [127.0.0.1]"])
    daemon = await startDaemon(orchBin, ["--config", config, "--plugins", "allocator,scheduler,watchdog"], {
      env: { ORCH_TEST_READ_TOKEN: tokens.read }
    })
  }, 30_000)
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("refuses every mutating route without a token (401) and with a read token (403), and nothing changes", async () => {
    const created = await call("/watchdog/jobs", {
      method: "POST",
      role: "operate",
      body: { jobs: [{ zone: "z1", browser: "chrome", agent: "a1", url: "https://example.com" }] }
    })
    expect(created.status).toBe(201)
    const id = created.body.ids[0] as number
    const lease = await call("/allocator/leases", { method: "POST", role: "operate", body: { type: "board", holder: "op", ttlSeconds: 600 } })
    expect(lease.status).toBe(200)
    const snapshot = async () => ({
      job: (await call(`/jobs/${id}`, { role: "read" })).body,
      jobs: (await call("/jobs", { role: "read" })).body.length,
      leases: (await call("/allocator/leases?all=true", { role: "read" })).body,
      devices: (await call("/allocator/devices", { role: "read" })).body,
      schedulerConfig: (await call("/scheduler/api/config", { role: "read" })).body,
      runs: (await call("/scheduler/api/data", { role: "read" })).body
    })
    const before = await snapshot()

    const mutating: Array<[string, string, string, unknown?]> = [
      [daemon.url, "POST", `/jobs/${id}/cancel`, { reason: "no" }],
      [daemon.url, "POST", `/jobs/${id}/retry`, { reason: "no" }],
      [daemon.url, "POST", "/watchdog/jobs", { jobs: [{ zone: "z1", browser: "chrome", agent: "a1", url: "https://example.com" }] }],
      [daemon.url, "POST", `/watchdog/jobs/${id}/cancel`, {}],
      [daemon.url, "POST", "/allocator/leases", { type: "board", holder: "viewer", ttlSeconds: 60 }],
      [daemon.url, "POST", `/allocator/leases/${lease.body.id}/keepalive`, {}],
      [daemon.url, "DELETE", `/allocator/leases/${lease.body.id}`],
      [daemon.url, "POST", "/allocator/devices/board-1/drain"],
      [daemon.url, "POST", "/allocator/devices/board-1/undrain"],
      [daemon.url, "POST", "/scheduler/api/exit"],
      [daemon.url, "POST", "/scheduler/api/config", "enabled=0"],
      [daemon.url, "GET", "/scheduler/api/runner?test=speedtest"],
      [daemon.url, "POST", "/scheduler/api/runner?test=speedtest"],
      // Neubot's own listener
      [neubot, "POST", "/api/exit"],
      [neubot, "POST", "/api/config", "enabled=0"],
      [neubot, "GET", "/api/runner?test=speedtest"]
    ]
    for (const [base, method, route, body] of mutating) {
      const form = typeof body === "string" ? { "content-type": "application/x-www-form-urlencoded" } : {}
      const none = await request(base, route, { method, body, headers: form })
      expect({ route, status: none.status }).toEqual({ route, status: 401 })
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/)
      const reader = await request(base, route, { method, body, headers: form, role: "read" })
      expect({ route, status: reader.status }).toEqual({ route, status: 403 })
      expect(reader.body.error).toMatch(/needs the (operate|admin) role/)
    }
    // an operate token is not enough for drain, config and exit
    for (const [base, route, body] of [
      [daemon.url, "/allocator/devices/board-1/drain", undefined],
      [daemon.url, "/scheduler/api/exit", undefined],
      [daemon.url, "/scheduler/api/config", "enabled=0"],
      [neubot, "/api/exit", undefined]
    ] as const) {
      const headers = body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }
      const operator = await request(base, route, { method: "POST", body, headers, role: "operate" })
      expect({ route, status: operator.status }).toEqual({ route, status: 403 })
      expect(operator.body).toMatchObject({ needed: "admin", role: "operate" })
    }
    expect(await snapshot()).toEqual(before)
    expect((await call("/healthz")).status).toBe(200)
  })

  it("lets a read token GET, shows connection details only to operate and above, and keeps the probes open", async () => {
    for (const route of ["/jobs", "/resources", "/allocator/devices", "/allocator/leases", "/scheduler/api/config", "/openapi.json", "/"]) {
      expect({ route, status: (await call(route)).status }).toEqual({ route, status: 401 })
      expect({ route, status: (await call(route, { role: "read" })).status }).toEqual({ route, status: 200 })
    }
    expect((await request(neubot, "/api/version")).status).toBe(401)
    expect((await request(neubot, "/api/version", { role: "read" })).status).toBe(200)
    for (const route of ["/healthz", "/readyz", "/metrics"]) {
      expect({ route, status: (await call(route)).status }).toEqual({ route, status: 200 })
    }
    const devicesFor = async (role: Role) => (await call("/allocator/devices", { role })).body as Array<any>
    expect((await devicesFor("read")).map((d) => d.connection)).toEqual([{}, {}])
    expect((await devicesFor("operate"))[0].connection).toMatchObject({ host: "127.0.0.1", password: "hunter2" })
    const resourcesFor = async (role: Role) => (await call("/resources?plugin=allocator", { role })).body as Array<any>
    expect((await resourcesFor("read")).every((r) => r.data === undefined)).toBe(true)
    expect((await resourcesFor("read"))).toHaveLength(2)
    expect((await resourcesFor("admin"))[0].data.connection).toMatchObject({ password: "hunter2" })
    expect(JSON.stringify(await devicesFor("read"))).not.toContain("hunter2")
    expect(JSON.stringify(await resourcesFor("read"))).not.toContain("hunter2")
  })

  it("lets operate cancel jobs and hold its own leases only, and admin drain, write config and exit", async () => {
    const created = await call("/watchdog/jobs", {
      method: "POST",
      role: "operate",
      body: { jobs: [{ zone: "z1", browser: "chrome", agent: "a1", url: "https://example.com/2" }] }
    })
    const id = created.body.ids[0] as number
    const cancelled = await call(`/jobs/${id}/cancel`, { method: "POST", role: "operate", body: { reason: "operator says so" } })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.state).toBe("CANCELLED")

    // a token acts as the holder it is named for; admin touches anyone's lease
    expect((await call("/allocator/leases", { method: "POST", role: "operate", body: { type: "board", holder: "someone", ttlSeconds: 60 } })).status).toBe(403)
    const bosses = await call("/allocator/leases", { method: "POST", role: "admin", body: { type: "board", holder: "boss", ttlSeconds: 60 } })
    expect(bosses.status).toBe(200)
    expect((await call(`/allocator/leases/${bosses.body.id}/keepalive`, { method: "POST", role: "operate", body: {} })).status).toBe(403)
    expect((await call(`/allocator/leases/${bosses.body.id}`, { method: "DELETE", role: "operate" })).status).toBe(403)
    expect((await call(`/allocator/leases/${bosses.body.id}/keepalive`, { method: "POST", role: "admin", body: {} })).status).toBe(200)
    expect((await call(`/allocator/leases/${bosses.body.id}`, { method: "DELETE", role: "admin" })).status).toBe(200)

    const drained = await call("/allocator/devices/board-1/drain", { method: "POST", role: "admin" })
    expect(drained.status).toBe(200)
    expect(drained.body.status).toBe("drained")
    expect((await call("/allocator/devices/board-1/undrain", { method: "POST", role: "admin" })).status).toBe(200)

    const config = await call("/scheduler/api/config", {
      method: "POST",
      role: "admin",
      body: "enabled=0",
      headers: { "content-type": "application/x-www-form-urlencoded" }
    })
    expect(config.status).toBe(200)
    expect((await call("/scheduler/api/config", { role: "read" })).body.enabled).toBe(0)
  })

  it("frees a device whose cleaning job was cancelled: admin undrain cleans it anew", async () => {
    const leases = (await call("/allocator/leases", { role: "read" })).body as Array<any>
    for (const lease of leases) await call(`/allocator/leases/${lease.id}`, { method: "DELETE", role: "admin" })
    await eventually(async () => {
      const devices = (await call("/allocator/devices", { role: "read" })).body as Array<any>
      return devices.every((d) => d.status === "free") ? true : undefined
    })
    const held = await Promise.all(["board-0", "board-1"].map(async () =>
      (await call("/allocator/leases", { method: "POST", role: "operate", body: { type: "board", holder: "op", ttlSeconds: 600 } })).body
    ))
    const first = held.find((lease) => lease.device.name === "board-0")
    const second = held.find((lease) => lease.device.name === "board-1")
    // board-0's cleaning takes the one cleaning slot for a while; board-1's job waits queued behind it
    expect((await call(`/allocator/leases/${first.id}`, { method: "DELETE", role: "operate" })).status).toBe(200)
    await eventually(async () => ((await call("/jobs?plugin=allocator&kind=clean&state=queued", { role: "read" })).body.length === 1 ? true : undefined))
    expect((await call(`/allocator/leases/${second.id}`, { method: "DELETE", role: "operate" })).status).toBe(200)
    const queued = await eventually(async () =>
      ((await call("/jobs?plugin=allocator&kind=clean&state=queued", { role: "read" })).body as Array<any>)
        .find((job) => job.payload.device === "board-1")
    )
    expect((await call(`/jobs/${queued.id}/cancel`, { method: "POST", body: { reason: "x" } })).status).toBe(401)
    expect((await call(`/jobs/${queued.id}/cancel`, { method: "POST", role: "operate", body: { reason: "not now" } })).status).toBe(200)
    const stuck = ((await call("/allocator/devices", { role: "read" })).body as Array<any>).find((d) => d.name === "board-1")
    expect(stuck.status).toBe("cleaning")
    const undrained = await call("/allocator/devices/board-1/undrain", { method: "POST", role: "admin" })
    expect(undrained.status).toBe(200)
    // asked again while its new cleaning waits: it says so
    const again = await call("/allocator/devices/board-1/undrain", { method: "POST", role: "admin" })
    if (again.status !== 200) expect(again.body.error).toMatch(/is being cleaned|is free/)
    await eventually(async () => {
      const devices = (await call("/allocator/devices", { role: "read" })).body as Array<any>
      return devices.find((d) => d.name === "board-1")?.status === "free" ? true : undefined
    }, 30_000)
  }, 40_000)

  it("refuses a browser request from another origin or another name, and a body that is not JSON", async () => {
    const allocate = { type: "board", holder: "op", ttlSeconds: 60 }
    const textPlain = await call("/allocator/leases", { method: "POST", role: "operate", body: allocate, headers: { "content-type": "text/plain" } })
    expect(textPlain.status).toBe(415)
    const evil = { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" }
    for (const [base, route] of [[daemon.url, "/scheduler/api/exit"], [neubot, "/api/exit"]] as const) {
      const refused = await request(base, route, { method: "POST", role: "admin", body: "x=1", headers: evil })
      expect({ route, status: refused.status }).toEqual({ route, status: 403 })
      expect(refused.body.error).toContain("another origin")
    }
    // a page of a name rebound to this address (fetch cannot set Host: node:http can)
    expect(await statusWithHost(daemon.url, "/allocator/devices", "rebound.evil.example", tokens.read)).toBe(421)
    expect(await statusWithHost(daemon.url, "/allocator/devices", "localhost", tokens.read)).toBe(200)
    expect((await call("/healthz")).status).toBe(200)
  })

  it("stops when an admin asks /scheduler/api/exit", async () => {
    expect((await call("/scheduler/api/exit", { method: "POST", role: "admin" })).status).toBe(200)
    await eventually(() => (daemon.process.exitCode !== null ? true : undefined), 20_000)
  }, 30_000)
})

describe("with no tokens configured, bound to every interface", () => {
  let daemon: Daemon
  beforeAll(async () => {
    const { config } = setup([])
    daemon = await startDaemon(orchBin, ["--config", config, "--plugins", "allocator,scheduler,watchdog", "--http-host", "0.0.0.0"])
  }, 30_000)
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })
  const call = (route: string, options: Parameters<typeof request>[2] = {}) =>
    request(daemon.url.replace("0.0.0.0", "127.0.0.1"), route, options)

  it("warns on stderr that anyone who reaches it may do anything", async () => {
    const warning = await eventually(() => daemon.logs.find((line) => String(line.message).includes("with no tokens")))
    expect(warning.severity).toBe("WARNING")
    expect(String(warning.message)).toContain("core.auth.tokens")
  })

  it("still refuses a cross-origin form post to the exit route, and keeps serving", async () => {
    for (const headers of [
      { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" },
      { origin: "http://evil.example", "content-type": "text/plain" },
      { "sec-fetch-site": "cross-site", "content-type": "application/x-www-form-urlencoded" },
      { origin: "null", "content-type": "application/x-www-form-urlencoded" }
    ]) {
      const refused = await call("/scheduler/api/exit", { method: "POST", body: "x=1", headers })
      expect({ headers, status: refused.status }).toEqual({ headers, status: 403 })
    }
    // a form post from no browser (curl) is still no JSON: 415
    expect((await call("/scheduler/api/exit", { method: "POST", body: "x=1", headers: { "content-type": "text/plain" } })).status).toBe(415)
    expect((await call("/allocator/leases", {
      method: "POST",
      body: { type: "board", holder: "h", ttlSeconds: 60 },
      headers: { "content-type": "text/plain;charset=UTF-8" }
    })).status).toBe(415)
    expect((await call("/allocator/leases?all=true")).body).toEqual([])
    const base = daemon.url.replace("0.0.0.0", "127.0.0.1")
    expect(await statusWithHost(base, "/healthz", "evil.example:7600")).toBe(421)
    expect(await statusWithHost(base, "/scheduler/api/version", "evil.example:7600")).toBe(421)
    // any IP literal names this host when it listens on every interface
    expect(await statusWithHost(base, "/healthz", "10.1.2.3:7600")).toBe(200)
    expect((await call("/healthz")).status).toBe(200)
    expect(daemon.process.exitCode).toBe(null)
  })

  it("names the move of allocator.tokens to core.auth.tokens", async () => {
    const { config } = setup([])
    fs.appendFileSync(config, "")
    const text = fs.readFileSync(config, "utf8").replace("  cleaningConcurrency: 1\n", "  cleaningConcurrency: 1\n  tokens:\n    - { holder: ci, token: ci-token-0001 }\n")
    fs.writeFileSync(config, text)
    const checked = await run(orchBin, ["config", "check", "--config", config])
    expect(checked.code).not.toBe(0)
    expect(checked.stdout + checked.stderr).toContain("moved to core.auth.tokens")
  })
})
