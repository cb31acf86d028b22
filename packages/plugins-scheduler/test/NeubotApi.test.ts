/**
 * The parts of Neubot 0.4's API its web UI and command line depend on (neubot/api/server.py,
 * api_results.py, privacy.py, runner_api.py, www/js/*.js), against the real `orch` binary:
 * /api/results, /api/index, /api/debug, the privacy gate, agent.interval, the streaming
 * runner ending by closing, and queue_len while idle.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { nodeScript, writeDescriptor } from "./helpers.js"

const day = 86_400

const setup = (privacy: string) => {
  const dir = tempDir("orch-scheduler-neubot-")
  const descriptors = path.join(dir, "descriptors")
  writeDescriptor(descriptors, "echo", {
    description: "Prints <n>",
    parameters: { n: { default: "1", regexp: "^[0-9]+$" } },
    command: ["$node", "-e", "console.log(JSON.stringify({ n: Number(process.argv[1]) }))", "$n"],
    schedule: { every: day }
  })
  // fires by itself one second after start
  writeDescriptor(descriptors, "tick", { command: nodeScript(`console.log("{}")`), schedule: { every: day, firstDelay: 1 } })
  const config = path.join(dir, "orch.yaml")
  fs.writeFileSync(config, `scheduler:
  descriptors: ${descriptors}
  allowRoot: true
  stateTimeoutSeconds: 2
  speedtest:
    bytes: 200000
    firstDelaySeconds: 3600
${privacy}`)
  return ["--plugins", "scheduler", "--data-dir", path.join(dir, "data"), "--config", config]
}

const form = (url: string, body: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })

const json = async (url: string) => {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  return response.json() as Promise<any>
}

/** A raw HTTP/1.1 exchange: the answer's head, its body as sent, and whether the server closed. */
const raw = (url: string) =>
  new Promise<{ head: string; body: string }>((resolve, reject) => {
    const { hostname, pathname, port, search } = new URL(url)
    const socket = net.connect(Number(port), hostname, () =>
      socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`))
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk) => (text += chunk))
    // the answer is complete only when the server closes the connection
    socket.on("end", () => {
      const at = text.indexOf("\r\n\r\n")
      resolve({ head: text.slice(0, at).toLowerCase(), body: text.slice(at + 4) })
    })
    socket.on("error", reject)
    socket.setTimeout(30_000, () => reject(new Error("the server did not close the connection")))
  })

describe("Neubot's API with consent pre-set (orch's default)", () => {
  let daemon: Daemon
  let base: string

  beforeAll(async () => {
    daemon = await startDaemon(orchBin, setup(""))
    base = `${daemon.url}/scheduler`
    await eventually(async () => ((await fetch(`${base}/api/version`)).status === 200 ? true : undefined))
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("/api/config has Neubot's privacy, www and agent.interval settings; consent is given only as 1", async () => {
    expect(await json(`${base}/api/config`)).toMatchObject({
      "privacy.informed": 1,
      "privacy.can_collect": 1,
      "privacy.can_publish": 1,
      "www.lang": "default",
      "agent.interval": 0,
      www_default_test_to_show: "speedtest",
      www_no_plot: 0
    })
    const revoked = await form(`${base}/api/config`, "privacy.informed=1&privacy.can_collect=0&privacy.can_publish=1")
    expect(revoked.status).toBe(500)
    expect(revoked.statusText).toBe("Invalid privacy.can_collect=0: Passed invalid privacy settings")
    expect((await form(`${base}/api/config`, "www.lang=it")).status).toBe(200)
    expect((await json(`${base}/api/config`))["www.lang"]).toBe("it")
    expect((await form(`${base}/api/config`, "www.lang=default")).status).toBe(200)
  })

  it("agent.interval: 0 or at least 1380 s, the period of the tests on Neubot's schedule", async () => {
    const tooShort = await form(`${base}/api/config`, "agent.interval=60")
    expect(tooShort.status).toBe(500)
    expect(tooShort.statusText).toBe("Invalid agent.interval=60: must be 0 or at least 1380")
    const speedtest = async () => (await json(`${base}/api/descriptors`)).descriptors.find((d: any) => d.name === "speedtest")
    expect((await form(`${base}/api/config`, "agent.interval=3600")).status).toBe(200)
    expect((await speedtest()).schedule_spec).toMatchObject({ everyMs: 3_600_000, jitterMs: 0 })
    // a test with its own schedule keeps it
    expect((await json(`${base}/api/descriptors`)).descriptors.find((d: any) => d.name === "echo").schedule_spec.everyMs).toBe(day * 1000)
    expect((await form(`${base}/api/config`, "agent.interval=0")).status).toBe(200)
    const drawn = (await speedtest()).schedule_spec.everyMs
    expect(drawn).toBeGreaterThanOrEqual(23 * 60_000)
    expect(drawn).toBeLessThanOrEqual(27 * 60_000)
  })

  it("/api/index sends the UI to its status page once consent is given", async () => {
    const response = await fetch(`${base}/api/index`, { redirect: "manual" })
    expect(response.status).toBe(302)
    expect(response.headers.get("location")).toBe("/index.html")
  })

  it("the streaming runner ends by closing the connection, without chunks, as Neubot's (runner_api.py)", async () => {
    const { body, head } = await raw(`${base}/api/runner?test=echo&n=3&streaming=1`)
    expect(head).toMatch(/^http\/1\.1 200/)
    expect(head).toContain("connection: close")
    expect(head).not.toContain("transfer-encoding")
    expect(head).toContain("content-type: text/plain")
    // the lines as they are, no chunk sizes between them
    expect(body).toMatch(/^INFO runner: starting test echo( as \w+)?\r\n(.*\r\n)*INFO runner: done \(ok\)\r\n$/)
  })

  it("queue_len reads 0 while idle after a run", async () => {
    await fetch(`${base}/api/runner?test=echo&n=4&streaming=1`).then((r) => r.text())
    const state = await eventually(async () => {
      const now = await json(`${base}/api/state`)
      return now.current === "idle" && now.events.test_status !== undefined ? now : undefined
    })
    expect(state.events.queue_len).toBe(0)
  })

  it("/api/results describes results.html's plots and table for a test, and /api/data has every column the table names", async () => {
    const speedtest = await json(`${base}/api/results`)
    expect(speedtest).toMatchObject({
      selected_test: "speedtest",
      available_tests: ["echo", "speedtest", "tick"],
      www_no_description: 0,
      www_no_legend: 0,
      www_no_plot: 0,
      www_no_split_by_ip: 0,
      www_no_table: 0,
      www_no_title: 0
    })
    // api_results.py's order: the drawing first, then the choice and the knobs
    expect(Object.keys(speedtest).slice(0, 6)).toEqual(["title", "plots", "table", "available_tests", "selected_test", "description"])
    expect(speedtest.plots).toHaveLength(2)
    expect(speedtest.table.map((c: any) => c.recipe.flat(3).at(-2))).toEqual([
      "timestamp", "internal_address", "real_address", "remote_address", "connect_time", "latency", "download_speed", "upload_speed"
    ])
    const echo = await json(`${base}/api/results?test=echo`)
    expect(echo).toMatchObject({ selected_test: "echo", description: "<p>Prints &lt;n&gt;</p>" })
    const unknown = await fetch(`${base}/api/results?test=nope`)
    expect(unknown.status).toBe(500)
    expect(unknown.statusText).toBe("Test not implemented")

    const [row] = await json(`${base}/api/data?test=echo`)
    for (const column of echo.table) expect(row).toHaveProperty(column.recipe.flat(3).at(-2))
    expect(row).toMatchObject({ n: expect.any(Number), remote_address: "", uuid: expect.stringMatching(/^[0-9a-f-]{36}$/), privacy_can_collect: 1 })
  })

  it("/api/debug shows the internals as text", async () => {
    const response = await fetch(`${base}/api/debug`)
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/)
    const debug = JSON.parse(await response.text())
    expect(debug).toMatchObject({ version: "0.5.0.0", pid: daemon.process.pid, allowed_to_run: true, tests: ["echo", "speedtest", "tick"] })
  })
})

describe("Neubot's API on a fresh install's consent (scheduler.privacy all false), without the bundled test", () => {
  let daemon: Daemon
  let base: string

  beforeAll(async () => {
    daemon = await startDaemon(orchBin, setup(`  bundled: false
  privacy:
    informed: false
    canCollect: false
    canPublish: false
`))
    base = `${daemon.url}/scheduler`
    await eventually(async () => ((await fetch(`${base}/api/version`)).status === 200 ? true : undefined))
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("runs nothing, scheduled or asked for, and stores nothing until the user is informed and consents", async () => {
    // the scheduled run due a second after start is skipped, and says why
    await eventually(async () =>
      (await json(`${base}/api/log?verbosity=0`)).some((l: any) =>
        l.severity === "WARNING" && l.message.startsWith("scheduler: automatic run of tick due at") && l.message.includes("privacy settings are not OK")
      ) || undefined
    )
    const index = await fetch(`${base}/api/index`, { redirect: "manual" })
    expect(index.headers.get("location")).toBe("/privacy.html")
    const refused = await fetch(`${base}/api/runner?test=echo`)
    expect(refused.status).toBe(500)
    expect(refused.statusText).toMatch(/^Tests are disabled because privacy settings are not OK/)
    expect(await json(`${base}/api/data`)).toEqual([])

    // informed and allowed to collect, not to publish: still nothing (runner_core.py wants all three)
    expect((await form(`${base}/api/config`, "privacy.informed=1&privacy.can_collect=1")).status).toBe(200)
    expect((await fetch(`${base}/api/runner?test=echo`)).status).toBe(500)
    expect((await form(`${base}/api/config`, "privacy.can_publish=1")).status).toBe(200)
    expect((await fetch(`${base}/api/index`, { redirect: "manual" })).headers.get("location")).toBe("/index.html")
    const ran = await (await fetch(`${base}/api/runner?test=echo&n=8&streaming=1`)).text()
    expect(ran).toMatch(/INFO runner: done \(ok\)\r\n$/)
    expect((await json(`${base}/api/data?test=echo`))[0]).toMatchObject({ n: 8, privacy_informed: 1, privacy_can_collect: 1, privacy_can_publish: 1 })
  })

  it("/api/results with no test and no speedtest (www_default_test_to_show) shows the first test", async () => {
    expect(await json(`${base}/api/results`)).toMatchObject({ selected_test: "echo", available_tests: ["echo", "tick"] })
    expect((await fetch(`${base}/api/results?test=speedtest`)).statusText).toBe("Test not implemented")
  })
})
