/**
 * End to end through the built `orch` binary: 50 jobs over 3 locations, the fake WPT
 * server and fake Compute Engine on 127.0.0.1, the daemon SIGKILLed in the middle and
 * started again. WPT minutes are compressed to 100 ms so the whole run takes seconds.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, queryTestDatabase, run, startDaemon, tempDir } from "@orch/testing"
import { Fleet } from "./fakes/Fleet.js"

const zone = "us-central1-a"
const L1 = `${zone}--tor--agent1`
const L2 = `${zone}--firefox--agent2`
const L3 = `${zone}--chrome--agent3`
const apiKey = "e2e-wpt-api-key-0123456789abcdef"

const fleet = new Fleet({
  wpt: {
    locations: [{ id: L1, browsers: ["Tor Browser"] }, { id: L2, browsers: ["Firefox"] }, { id: L3, browsers: ["Chrome"] }],
    apiKey,
    locationKey: "e2e-location-key",
    minuteMs: 100,
    maxRunMinutes: 60,
    blocked: /blocked\.invalid/,
    // an answer that takes a while widens the window a SIGKILL can fall into
    runtestDelayMs: 20
  },
  bootMs: 150,
  stopMs: 50,
  waitMs: 500,
  // the third location's agent hangs after two tests on its first boot; a reboot heals it
  behavior: (location, boot) => ({ testMs: 25, pollMs: 15, failing: /\/fail\//, ...(location === L3 && boot === 1 ? { silentAfterTests: 2 } : {}) })
})

const dir = tempDir("orch-watchdog-e2e-")
const configFile = path.join(dir, "orch.yaml")
const daemons: Array<Daemon> = []

const yaml = () => `
watchdog:
  wpt:
    server: ${fleet.wpt.url}
    key: \${WPT_KEY}
    locationKey: e2e-location-key
    requestTimeoutMs: 2000
  provider: gce
  leaseMs: 5000
  starter: { intervalMs: 100, maxQueueLength: 3, retryDelayMs: 200, lostAnswerWaitMs: 2500 }
  finisher: { intervalMs: 100, recheckMs: 100 }
  controller: { intervalMs: 150, idleStopMs: 1500, bootGraceMs: 1000, agentSilentMinutes: 15, operationTimeoutMs: 1000 }
  gce:
    project: test-project
    zones: [${zone}]
    image: wptagent
    apiEndpoint: 127.0.0.1
    port: ${fleet.gce.port}
    protocol: http
    credentials: none
`

const env = { WPT_KEY: apiKey, GOOGLE_APPLICATION_CREDENTIALS: "" }
const start = async () => {
  const daemon = await startDaemon(orchBin, ["--config", configFile, "--data-dir", dir, "--plugins", "watchdog"], { env })
  daemons.push(daemon)
  return daemon
}

/** The daemon's jobs, read from its database on the pass's engine. */
const states = async () =>
  (await queryTestDatabase<{ id: number; state: string }>(path.join(dir, "orch.sqlite"), "SELECT id, state FROM orch_jobs WHERE plugin = 'watchdog'"))
const counts = async () => (await states()).reduce<Record<string, number>>((acc, j) => ({ ...acc, [j.state]: (acc[j.state] ?? 0) + 1 }), {})

beforeAll(async () => {
  await fleet.start()
  fs.writeFileSync(configFile, yaml())
})
afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop("SIGKILL")))
  await fleet.close()
})

describe("watchdog end to end", () => {
  it("runs 50 jobs over 3 locations through instances it starts, repairs and stops, across a SIGKILL and restart", async () => {
    let daemon = await start()
    const openapi: any = await (await fetch(`${daemon.url}/openapi.json`)).json()
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(["/watchdog/jobs", "/watchdog/jobs/{id}/cancel", "/watchdog/instances"]))

    // a bad request is refused with what is wrong, and nothing is stored
    const bad = await fetch(`${daemon.url}/watchdog/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobs: [{ zone, browser: "tor", agent: "agent1" }] })
    })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain("needs a url or a script")

    const locations = [L1, L2, L3]
    const jobs = Array.from({ length: 50 }, (_, i) => {
      const [z, browser, agent] = locations[i % 3]!.split("--") as [string, string, string]
      const url = i === 7 ? "https://blocked.invalid/" : i === 8 ? "https://example.org/fail/" : `https://example.org/page/${i}`
      return { zone: z, browser, agent, url, label: `e2e ${i}` }
    })
    const created = await fetch(`${daemon.url}/watchdog/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobs })
    })
    expect(created.status).toBe(201)
    const { ids } = (await created.json()) as { ids: Array<number> }
    expect(ids).toHaveLength(50)

    // instances are created because of the jobs, agents boot and take work
    await eventually(async () => ((await counts()).FINISHED ?? 0) >= 15 ? true : undefined, 45_000)
    expect(fleet.gce.callsOf("insert").map((c) => c.instance).sort()).toEqual([L1, L2, L3].sort())

    // SIGKILL in the middle, then start again on the same database
    const logsBefore = [...daemon.logs]
    expect(await daemon.stop("SIGKILL")).toBe("SIGKILL")
    daemons.splice(daemons.indexOf(daemon), 1)
    const finishedAtKill = (await counts()).FINISHED ?? 0
    expect(finishedAtKill).toBeLessThan(48)
    daemon = await start()

    // every job ends in a final state
    await eventually(async () => ((await states()).every((j) => ["FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING"].includes(j.state)) ? true : undefined), 60_000)
    expect(await counts()).toEqual({ FINISHED: 48, ERROR_SUBMITTING: 1, ERROR_TESTING: 1 })
    const errors = await queryTestDatabase<any>(path.join(dir, "orch.sqlite"), "SELECT id, state, last_error FROM orch_jobs WHERE state LIKE 'ERROR%' ORDER BY id")
    expect(errors).toEqual([
      { id: ids[7], state: "ERROR_SUBMITTING", last_error: expect.stringContaining("WPT rejected the test: Your test request was intercepted by our spam filters") },
      { id: ids[8], state: "ERROR_TESTING", last_error: "test complete without a successful first-view run (0 of 1)" }
    ])

    // none twice submitted: one WPT test per job (none for the rejected one)
    for (const id of ids) expect(fleet.wpt.testsOfJob(id)).toHaveLength(id === ids[7] ? 0 : 1)
    expect(fleet.wpt.submissions).toHaveLength(49)
    // each FINISHED job carries its test and summary
    const finished = (await (await fetch(`${daemon.url}/watchdog/jobs?state=FINISHED&limit=1000`)).json()) as Array<any>
    expect(finished).toHaveLength(48)
    for (const job of finished) {
      expect(job.testId).toBe(fleet.wpt.testsOfJob(job.id)[0]!.id)
      expect(job.summary).toMatchObject({ successfulFVRuns: 1, loadTime: 1010, ttfb: 201, fullyLoaded: 1510 })
    }

    // the silent agent's instance was detected as stuck and repaired
    expect(fleet.gce.callsOf("reset", L3).length).toBeGreaterThanOrEqual(1)
    expect(fleet.boots.get(L3)).toBeGreaterThanOrEqual(2)
    const logs = [...logsBefore, ...daemon.logs]
    const reset = logs.find((l) => l.decision === "reset" && l.instance === L3)
    expect(reset).toMatchObject({ severity: "INFO", message: expect.stringMatching(/^instance_controller: reset us-central1-a--chrome--agent3: stuck: /) })
    expect(Date.parse(String(reset!.timestamp))).not.toBeNaN()
    expect(String(reset!.reason)).toMatch(/has not polled WPT/)

    // once the queue drains, every instance is stopped
    await eventually(() => [L1, L2, L3].every((name) => fleet.gce.instances.get(`${zone}/${name}`)?.status === "TERMINATED") ? true : undefined, 30_000)
    await eventually(() => daemon.logs.filter((l) => l.decision === "stop").length >= 3 ? true : undefined, 5_000)
    const instances = (await (await fetch(`${daemon.url}/watchdog/instances`)).json()) as Array<any>
    await eventually(async () => {
      const now = (await (await fetch(`${daemon.url}/watchdog/instances`)).json()) as Array<any>
      return now.length === 3 && now.every((i) => i.state === "TERMINATED") ? true : undefined
    }, 5_000)
    expect(instances.map((i) => i.name).sort()).toEqual([L3, L2, L1].sort())

    // decisions are logged and counted (each process counts its own)
    expect(logs.filter((l) => l.decision === "create").map((l) => l.instance).sort()).toEqual([L1, L2, L3].sort())
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(metrics).toMatch(/orch_watchdog_instance_decisions_total\{decision="stop",outcome="done"\} 3/)
    // the key is a secret: never in a log line
    expect(JSON.stringify(logs)).not.toContain(apiKey)

    // the CLI asks the same daemon
    const listed = await run(orchBin, ["watchdog", "jobs", "--state", "ERROR_TESTING", "--config", configFile, "--url", daemon.url], { env })
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain("https://example.org/fail/")
    const resources = await run(orchBin, ["resources", "list", "--plugin", "watchdog", "--config", configFile, "--url", daemon.url], { env })
    expect(resources.stdout).toContain(L3)
    expect(resources.stdout).toContain("TERMINATED")

    expect(await daemon.stop("SIGTERM")).toBe(0)
    daemons.splice(daemons.indexOf(daemon), 1)
  }, 180_000)
})
