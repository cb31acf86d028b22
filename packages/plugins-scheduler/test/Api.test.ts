/**
 * The scheduler in the real `orch` binary: a root daemon with a folder of descriptors,
 * driven through Neubot's API on orch's server and on the plugin's own listener.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, run, startDaemon, tempDir } from "@orch/testing"
import { Schema } from "effect"
import * as Description from "../src/ApiDescription.js"
import { isRoot, nodeScript, writeDescriptor } from "./helpers.js"

const day = 86_400

const writeSetup = () => {
  const dir = tempDir("orch-scheduler-api-")
  const descriptors = path.join(dir, "descriptors")
  writeDescriptor(descriptors, "whoami", {
    command: nodeScript(`console.error("INFO hello from uid " + process.getuid())
      console.log(JSON.stringify({ uid: process.getuid(), latency: 0.012, download_speed: 1250000, upload_speed: 125000 }))`),
    schedule: { every: day }
  })
  writeDescriptor(descriptors, "slow", {
    command: nodeScript(`console.error("INFO slow starts"); setTimeout(() => { console.error("INFO slow ends"); console.log("{}") }, 1500)`),
    schedule: { every: day }
  })
  writeDescriptor(descriptors, "fail", { command: nodeScript(`console.error("ERR it broke"); process.exit(3)`), schedule: { every: day } })
  writeDescriptor(descriptors, "hang", { command: nodeScript(`setInterval(() => {}, 1000)`), maxRuntimeSeconds: 1, schedule: { every: day } })
  writeDescriptor(descriptors, "echo", {
    parameters: { n: { default: "1", regexp: "^[0-9]+$" } },
    command: ["$node", "-e", "console.log(JSON.stringify({ n: Number(process.argv[1]) }))", "$n"],
    schedule: { every: day }
  })
  // fires by itself one second after start
  writeDescriptor(descriptors, "tick", { command: nodeScript(`console.log("{\\"tick\\":1}")`), schedule: { every: day, firstDelay: 1 } })
  writeDescriptor(descriptors, "broken", `{ "command": "not an array" }`)
  const config = path.join(dir, "orch.yaml")
  fs.writeFileSync(config, `scheduler:
  descriptors: ${descriptors}
  apiPort: 0
  apiHosts: ["127.0.0.1"]
  stateTimeoutSeconds: 2
  speedtest:
    bytes: 300000
    firstDelaySeconds: 3600
`)
  return { dir, descriptors, config, dataDir: path.join(dir, "data") }
}

const form = (url: string, body: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body })

const json = async (url: string) => {
  const response = await fetch(url)
  expect(response.status).toBe(200)
  return response.json() as Promise<any>
}

/** Runs `test` through the streaming runner; its text. */
const stream = async (base: string, query: string) => {
  const response = await fetch(`${base}/api/runner?${query}&streaming=1`)
  expect(response.status).toBe(200)
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/)
  return response.text()
}

describe.skipIf(!isRoot)("the scheduler in a root daemon", () => {
  let setup: ReturnType<typeof writeSetup>
  let daemon: Daemon
  let base: string
  let own: string

  beforeAll(async () => {
    setup = writeSetup()
    daemon = await startDaemon(orchBin, ["--plugins", "scheduler", "--data-dir", setup.dataDir, "--config", setup.config])
    base = `${daemon.url}/scheduler`
    own = await eventually(() => {
      const line = daemon.logs.find((l) => String(l.message).startsWith("also listening on "))
      return line ? String(line.message).slice("also listening on ".length) : undefined
    })
    await eventually(async () => ((await fetch(`${base}/api/version`)).status === 200 ? true : undefined))
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("answers /api/version and lists its endpoints at /api and /api/", async () => {
    const version = await fetch(`${base}/api/version`)
    expect(version.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(await version.text()).toBe("0.5.0.0")
    const list = await json(`${base}/api`)
    expect(list).toEqual([
      "/api", "/api/", "/api/config", "/api/data", "/api/debug", "/api/descriptors", "/api/exit", "/api/index", "/api/log",
      "/api/results", "/api/runner", "/api/state", "/api/version"
    ])
    expect(await json(`${base}/api/`)).toEqual(list)
    // any method, as in Neubot
    expect(await (await fetch(`${base}/api/version`, { method: "POST" })).text()).toBe("0.5.0.0")
  })

  it("lists valid descriptors with parameters, schedule and next run, and the broken one with its error", async () => {
    const body = await json(`${base}/api/descriptors`)
    expect(body.descriptors.map((d: any) => d.name)).toEqual(["echo", "fail", "hang", "slow", "speedtest", "tick", "whoami"])
    const echo = body.descriptors.find((d: any) => d.name === "echo")
    expect(echo).toMatchObject({
      parameters: { n: { default: "1", regexp: "^[0-9]+$" } },
      schedule: { kind: "interval", everyMs: day * 1000, jitterMs: 0 },
      file: path.join(setup.descriptors, "echo.json"),
      bundled: false
    })
    expect(echo.next_run).toBeGreaterThan(Date.now() / 1000)
    const speedtest = body.descriptors.find((d: any) => d.name === "speedtest")
    expect(speedtest).toMatchObject({ bundled: true, schedule: { kind: "neubot", firstDelayMs: 3_600_000 } })
    expect(speedtest.schedule_spec.everyMs).toBeGreaterThanOrEqual(23 * 60_000)
    expect(speedtest.schedule_spec.everyMs).toBeLessThanOrEqual(27 * 60_000)
    expect(body.invalid).toEqual([{ name: "broken", file: path.join(setup.descriptors, "broken.json"), reason: expect.stringMatching(/command/) }])
    const log = await json(`${base}/api/log?verbosity=0`)
    expect(log.some((l: any) => l.severity === "WARNING" && l.message.startsWith(`descriptor ${path.join(setup.descriptors, "broken.json")} skipped`))).toBe(true)
  })

  it("a test started by the root daemon runs as the unprivileged user, which it reports", async () => {
    const started = await fetch(`${base}/api/runner?test=whoami`)
    // Neubot's answer, with the run's job id beside it
    expect(await started.json()).toEqual({})
    expect(Number(started.headers.get("x-orch-run"))).toBeGreaterThan(0)
    const rows = await eventually(async () => {
      const data = await json(`${base}/api/data?test=whoami`)
      return data.length > 0 ? data : undefined
    })
    const nobody = Number(fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("nobody:"))!.split(":")[2])
    expect(rows[0]).toMatchObject({ test_name: "whoami", uid: nobody, timestamp: expect.any(Number), timestamp_msec: expect.any(Number) })
    expect(rows[0].uid).not.toBe(0)
  })

  it("/api/runner?streaming=1 sends the run's log lines as they happen, until it ends", async () => {
    const text = await stream(base, "test=whoami")
    const lines = text.split("\r\n").filter((l) => l !== "")
    expect(lines[0]).toMatch(/^INFO runner: starting test whoami as nobody$/)
    expect(lines).toContain(`INFO whoami: hello from uid ${lines.length > 0 ? text.match(/uid (\d+)/)![1] : ""}`)
    expect(lines.at(-1)).toBe("INFO runner: done (ok)")
    expect(text).not.toMatch(/uid 0\b/)
    const echo = await stream(base, "test=echo&n=42")
    expect(echo).toMatch(/INFO runner: done \(ok\)/)
    expect((await json(`${base}/api/data?test=echo`))[0]).toMatchObject({ n: 42 })
  })

  it("a failing run, and a run past its longest time, are stored as failed results with the reason", async () => {
    expect(await stream(base, "test=fail")).toMatch(/ERROR fail: it broke\r\n.*ERROR runner: done \(failed: exited with code 3\)\r\n$/s)
    expect(await stream(base, "test=hang")).toMatch(/ERROR runner: done \(failed: killed after running longer than 1000 ms\)\r\n$/)
    expect((await json(`${base}/api/data?test=fail`))[0]).toMatchObject({ status: "failed", reason: "exited with code 3", exit_code: 3 })
    expect((await json(`${base}/api/data?test=hang`))[0]).toMatchObject({ status: "failed", reason: "killed after running longer than 1000 ms" })
  })

  it("errors are a 500 whose reason phrase is the message, with a JSON body", async () => {
    const check = async (url: string, message: string) => {
      const response = await fetch(url)
      expect(response.status).toBe(500)
      expect(response.statusText).toBe(message)
      expect(await response.json()).toEqual({ error: message })
    }
    await check(`${base}/api/runner?test=nope`, "No such test: nope (tests: echo, fail, hang, slow, speedtest, tick, whoami)")
    await check(`${base}/api/runner?streaming=1`, "Missing \"test\" option in query string")
    await check(`${base}/api/runner?test=echo&n=1%3Brm`, "echo: parameter n=\"1;rm\" does not match ^[0-9]+$")
    await check(
      `${base}/api/runner?test=broken`,
      `Test broken has an invalid descriptor (${path.join(setup.descriptors, "broken.json")}): command: Expected readonly [string, ...string[]], actual "not an array"`
    )
    await check(`${base}/api/data?since=yesterday`, "Invalid since: yesterday is not unix seconds")
    // an empty query keeps Neubot's UI happy
    expect(await json(`${base}/api/runner`)).toEqual({})
  })

  it("/api/config: GET values and labels; a form POST is all or nothing", async () => {
    const values = await json(`${base}/api/config`)
    expect(values).toMatchObject({ enabled: 1, max_database_size: 10 * 1024 * 1024, "runner.refuse_when_busy": 0, verbose: 0, uuid: expect.stringMatching(/^[0-9a-f-]{36}$/) })
    const labels = await json(`${base}/api/config?labels=1`)
    expect(Object.keys(labels).sort()).toEqual(Object.keys(values).sort())
    expect(typeof labels.enabled).toBe("string")

    const ok = await form(`${base}/api/config`, "verbose=1&max_database_size=20000000")
    expect(ok.status).toBe(200)
    expect(await ok.json()).toBe("{}")
    expect(await json(`${base}/api/config`)).toMatchObject({ verbose: 1, max_database_size: 20_000_000 })

    const unknown = await form(`${base}/api/config`, "verbose=0&nope=2")
    expect(unknown.status).toBe(500)
    expect(unknown.statusText).toBe("No such property: nope")
    const uncastable = await form(`${base}/api/config`, "verbose=0&max_database_size=big")
    expect(uncastable.statusText).toBe("Cannot cast \"big\" to an integer for max_database_size")
    const tooSmall = await form(`${base}/api/config`, "max_database_size=100")
    expect(tooSmall.statusText).toBe("Invalid max_database_size=100: must be at least 32768 bytes")
    // nothing of the refused posts was stored
    expect(await json(`${base}/api/config`)).toMatchObject({ verbose: 1, max_database_size: 20_000_000 })
    expect((await form(`${base}/api/config`, "verbose=0&max_database_size=10485760")).status).toBe(200)
  })

  it("/api/state answers at once without t, waits on a current t and wakes on a change", async () => {
    const now = await json(`${base}/api/state`)
    expect(now).toMatchObject({ current: expect.stringMatching(/^(idle|test)$/), events: { pid: daemon.process.pid, since: expect.any(Number) }, t: expect.any(Number) })
    expect(now.events.next_rendezvous).toBeGreaterThan(Date.now() / 1000)
    // t=0 answers at once too (with a later t only if a run queued by an earlier test moved on)
    expect((await json(`${base}/api/state?t=0`)).t).toBeGreaterThanOrEqual(now.t)

    // nothing changes: the poll ends after its timeout (2 s here) with the same state. This
    // daemon is shared by the file's tests, so a run they queued may change the state
    // meanwhile: the poll then answers with the new t, and is asked again from there.
    let current = now
    let quiet = await json(`${base}/api/state?t=${current.t}`)
    for (let i = 0; i < 3 && quiet.t !== current.t; i++) {
      expect(quiet.t).toBeGreaterThan(current.t)
      current = quiet
      quiet = await json(`${base}/api/state?t=${current.t}`)
    }
    expect(quiet.t).toBe(current.t)

    // a change wakes a waiting poll with the new state
    const waiting = json(`${base}/api/state?t=${current.t}`)
    await new Promise((r) => setTimeout(r, 200))
    await form(`${base}/api/config`, "verbose=0")
    const woken = await waiting
    expect(woken.t).toBeGreaterThan(current.t)
    expect(woken.events.config).toEqual({ verbose: "0" })

    // a run shows as current "test" with its name (after the change that queued it)
    const states: Array<any> = []
    let t = woken.t
    const following = (async () => {
      for (let i = 0; i < 10 && states.at(-1)?.current !== "test"; i++) {
        states.push(await json(`${base}/api/state?t=${t}`))
        t = states.at(-1).t
      }
    })()
    await json(`${base}/api/runner?test=slow`)
    await following
    expect(states.at(-1)).toMatchObject({ current: "test", events: { test_name: "slow" } })
    expect(states.map((s) => s.t)).toEqual([...states.map((s) => s.t)].sort((a, b) => a - b))

    const bad = await fetch(`${base}/api/state?t=-1`)
    expect(bad.status).toBe(500)
    await eventually(async () => ((await json(`${base}/api/state`)).current === "idle" ? true : undefined))
  })

  it("runs wait in a FIFO queue, or are refused while one runs when runner.refuse_when_busy=1", async () => {
    const runId = async (url: string) => Number((await fetch(url)).headers.get("x-orch-run"))
    const first = await runId(`${base}/api/runner?test=slow`)
    const second = await runId(`${base}/api/runner?test=echo&n=7`)
    expect(second).toBeGreaterThan(first)
    const rows = await eventually(async () => {
      const data = await json(`${base}/api/data?since=${Math.floor(Date.now() / 1000) - 30}`)
      const slow = data.find((r: any) => r.test_name === "slow")
      const echo = data.find((r: any) => r.test_name === "echo" && r.n === 7)
      return slow && echo ? { slow, echo } : undefined
    })
    expect(rows.slow.timestamp_msec).toBeLessThan(rows.echo.timestamp_msec)

    expect((await form(`${base}/api/config`, "runner.refuse_when_busy=1")).status).toBe(200)
    await json(`${base}/api/runner?test=slow`)
    const refused = await fetch(`${base}/api/runner?test=whoami`)
    expect(refused.status).toBe(500)
    expect(refused.statusText).toBe("A test is already in progress, try again later")
    expect((await form(`${base}/api/config`, "runner.refuse_when_busy=0")).status).toBe(200)
  })

  it("/api/data filters by test, since (inclusive) and until (exclusive), newest first", async () => {
    const all = await json(`${base}/api/data`)
    expect(all.length).toBeGreaterThan(3)
    const times = all.map((r: any) => r.timestamp_msec)
    expect(times).toEqual([...times].sort((a: number, b: number) => b - a))
    const pivot = all[Math.floor(all.length / 2)]
    const since = await json(`${base}/api/data?since=${pivot.timestamp}`)
    expect(since.every((r: any) => r.timestamp >= pivot.timestamp)).toBe(true)
    expect(since.some((r: any) => r.timestamp_msec === pivot.timestamp_msec)).toBe(true)
    const until = await json(`${base}/api/data?until=${pivot.timestamp}`)
    expect(until.every((r: any) => r.timestamp < pivot.timestamp)).toBe(true)
    expect(since.length + until.length).toBe(all.length)
    expect(await json(`${base}/api/data?since=-1&until=-1`)).toEqual(all)
  })

  it("/api/log: oldest first, reversed, by verbosity, and as text with debug=1", async () => {
    const log = await json(`${base}/api/log`)
    expect(log[0]).toEqual({ timestamp: expect.any(Number), timestamp_msec: expect.any(Number), severity: expect.any(String), message: expect.any(String) })
    expect(log.map((l: any) => l.timestamp_msec)).toEqual([...log.map((l: any) => l.timestamp_msec)].sort((a, b) => a - b))
    const reversed = await json(`${base}/api/log?reversed=1`)
    // lines may have been added between the two requests: compare order and the oldest line
    expect(reversed.map((l: any) => l.timestamp_msec)).toEqual([...reversed.map((l: any) => l.timestamp_msec)].sort((a, b) => b - a))
    expect(reversed.at(-1)).toEqual(log[0])
    expect(reversed.length).toBeGreaterThanOrEqual(log.length)
    const quiet = await json(`${base}/api/log?verbosity=0`)
    expect(new Set(quiet.map((l: any) => l.severity))).toEqual(new Set(["WARNING", "ERROR"]))
    const text = await (await fetch(`${base}/api/log?debug=1`)).text()
    expect(text).toMatch(/^\d+ \[INFO\]\tscheduler 0\.5\.0\.0 started with pid \d+\r\n/)
  })

  it("a scheduled run fires by itself", async () => {
    const rows = await eventually(async () => {
      const data = await json(`${base}/api/data?test=tick`)
      return data.length > 0 ? data : undefined
    })
    expect(rows[0]).toMatchObject({ tick: 1 })
  })

  it("the bundled speed test measures latency, download and upload against this orch", async () => {
    const text = await stream(base, "test=speedtest")
    expect(text).toMatch(/INFO speedtest: latency [\d.]+ ms/)
    expect(text).toMatch(/INFO runner: done \(ok\)\r\n$/)
    const [row] = await json(`${base}/api/data?test=speedtest`)
    // Neubot's columns: addresses (not the URL), the install, the consent, platform and versions
    expect(row).toMatchObject({
      url: `${base}/speedtest`,
      remote_address: "127.0.0.1",
      internal_address: "127.0.0.1",
      real_address: "127.0.0.1",
      bytes: 300000,
      uuid: (await json(`${base}/api/config`)).uuid,
      privacy_informed: 1,
      privacy_can_collect: 1,
      privacy_can_publish: 1,
      platform: process.platform,
      neubot_version: "0.005000000",
      test_version: 1
    })
    expect(row.latency).toBeGreaterThan(0)
    expect(row.download_speed).toBeGreaterThan(0)
    expect(row.upload_speed).toBeGreaterThan(0)
  })

  it("the status page shows version, pid and a table of the last tests, on orch's server and the own listener", async () => {
    for (const url of [`${base}/`, `${own}/`]) {
      const response = await fetch(url)
      expect(response.headers.get("content-type")).toMatch(/^text\/html/)
      const page = await response.text()
      expect(page).toContain("<h1>orch scheduler 0.5.0.0 status</h1>")
      expect(page).toContain(`running with pid ${daemon.process.pid} since`)
      expect(page).toMatch(/\| Test name \| Started \(UTC\)\s+\| Download speed\s*\| Upload speed\s*\| Latency\s*\| Result\s+\|/)
      expect(page).toMatch(/\| whoami\s+\| [\d-]+ [\d:]+ \|\s+10\.00 Mbit\/s \|\s+1\.00 Mbit\/s \|\s+12\.0 ms \| ok\s+\|/)
      expect(page).toMatch(/\| speedtest\s+\| [\d-]+ [\d:]+ \|\s+[\d.]+ Mbit\/s \|\s+[\d.]+ Mbit\/s \|\s+[\d.]+ ms \| ok\s+\|/)
      expect(page).toMatch(/\| fail\s+\| [\d-]+ [\d:]+ \|\s+--- \|\s+--- \|\s+--- \| failed: exited with code 3\s+\|/)
      expect(page).toContain(`<a href="${url === `${base}/` ? "/scheduler" : ""}/api/data">api/data</a>`)
    }
    expect(await (await fetch(base)).text()).toContain("<h1>orch scheduler 0.5.0.0 status</h1>")
    // Neubot's API at the root of the own listener, as its clients expect
    expect(await (await fetch(`${own}/api/version`)).text()).toBe("0.5.0.0")
    const refused = await fetch(`${own}/api/runner?test=nope`)
    expect(refused.status).toBe(500)
    expect(refused.statusText).toMatch(/^No such test: nope/)
  })

  it("/metrics has runs by test and outcome, run duration, schedule lag and store sizes", async () => {
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    expect(metrics).toMatch(/orch_scheduler_runs_total\{[^}]*test="whoami"[^}]*outcome="ok"[^}]*\} [1-9]/)
    expect(metrics).toMatch(/orch_scheduler_runs_total\{[^}]*test="fail"[^}]*outcome="failed"[^}]*\} 1/)
    expect(metrics).toMatch(/orch_scheduler_run_duration_seconds_count\{test="whoami"\} [1-9]/)
    expect(metrics).toMatch(/orch_scheduler_schedule_lag_seconds_count [1-9]/)
    expect(metrics).toMatch(/orch_scheduler_store_bytes\{store="data"\} [1-9]\d+/)
    expect(metrics).toMatch(/orch_scheduler_store_prunes_total\{store="log"\} \d+/)
  })

  it("/openapi.json describes the JSON API under /scheduler, and the live answers match it", async () => {
    const doc = await json(`${daemon.url}/openapi.json`)
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining([
      "/scheduler/api",
      "/scheduler/api/version",
      "/scheduler/api/config",
      "/scheduler/api/data",
      "/scheduler/api/descriptors",
      "/scheduler/api/log",
      "/scheduler/api/runner",
      "/scheduler/api/state",
      "/scheduler/api/exit"
    ]))
    expect(Object.keys(doc.paths["/scheduler/api/config"]).sort()).toEqual(["get", "post"])
    expect(Object.keys(doc.paths["/scheduler/api/exit"])).toEqual(["post"])
    expect(doc.paths["/scheduler/api/log"].get.parameters.map((p: any) => p.name)).toEqual(["verbosity", "reversed", "debug"])
    // what the document says is what the routes answer
    const decode = <A, I>(schema: Schema.Schema<A, I>, body: unknown) => Schema.decodeUnknownSync(schema)(body)
    decode(Schema.Array(Schema.String), await json(`${base}/api`))
    decode(Description.Settings, await json(`${base}/api/config`))
    decode(Schema.Array(Description.Result), await json(`${base}/api/data`))
    decode(Description.Descriptors, await json(`${base}/api/descriptors`))
    decode(Schema.Array(Description.LogLine), await json(`${base}/api/log`))
    decode(Description.State, await json(`${base}/api/state`))
    decode(Description.RunnerAnswer, await json(`${base}/api/runner`))
    const refused = await fetch(`${base}/api/runner?test=nope`)
    expect(refused.status).toBe(500)
    decode(Description.NeubotError, await refused.json())
  })

  it("the CLI lists descriptors and runs a test through the daemon, and reads data, log and config", async () => {
    const common = ["--data-dir", setup.dataDir, "--config", setup.config]
    const descriptors = await run(orchBin, ["scheduler", "descriptors", "--url", daemon.url, ...common])
    expect(descriptors.code).toBe(0)
    expect(descriptors.stdout).toMatch(/^echo\s+every 86400 s\s+\d{4}-/m)
    expect(descriptors.stdout).toContain(`invalid: ${path.join(setup.descriptors, "broken.json")}:`)
    const ran = await run(orchBin, ["scheduler", "run", "echo", "--param", "n=9", "--url", daemon.url, ...common])
    expect(ran.code).toBe(0)
    expect(ran.stdout).toMatch(/INFO runner: starting test echo as nobody\n(.|\n)*INFO runner: done \(ok\)\n$/)
    const data = await run(orchBin, ["scheduler", "data", "--test", "whoami", "--url", daemon.url, ...common])
    expect(data.stdout).toMatch(/whoami\s+ok\s+10\.00 Mbit\/s\s+1\.00 Mbit\/s\s+12\.0 ms/)
    const dataJson = JSON.parse((await run(orchBin, ["scheduler", "data", "--json", "--limit", "1", "--url", daemon.url, ...common])).stdout)
    expect(dataJson).toEqual([(await json(`${base}/api/data`))[0]])
    const log = await run(orchBin, ["scheduler", "log", "--verbosity", "0", "--url", daemon.url, ...common])
    expect(log.stdout).toMatch(/ERROR\s+fail: it broke/)
    const logJson = JSON.parse((await run(orchBin, ["scheduler", "log", "--json", "--verbosity", "0", "--url", daemon.url, ...common])).stdout)
    expect(logJson).toContainEqual(expect.objectContaining({ severity: "ERROR", message: "fail: it broke" }))
    const set = await run(orchBin, ["scheduler", "config", "set", "verbose=1", "--url", daemon.url, ...common])
    expect(set.code).toBe(0)
    expect((await json(`${base}/api/config`)).verbose).toBe(1)
    const refused = await run(orchBin, ["scheduler", "config", "set", "verbose=7", "--url", daemon.url, ...common])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain("Invalid verbose=7: must be 0 or 1")
    const get = await run(orchBin, ["scheduler", "config", "get", "verbose", "--url", daemon.url, ...common])
    expect(get.stdout.trim()).toBe("1")
    expect(JSON.parse((await run(orchBin, ["scheduler", "config", "get", "--json", "--url", daemon.url, ...common])).stdout)).toEqual(await json(`${base}/api/config`))
  })

  it("/api/exit (any method, as Neubot's) refuses a cross-site browser request and stops the daemon cleanly", async () => {
    for (const headers of [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "http://evil.example" }]) {
      const refused = await fetch(`${base}/api/exit`, { headers })
      expect(refused.status).toBe(403)
      expect(((await refused.json()) as { error: string }).error).toMatch(/a request from another (site|origin) .* is refused/)
    }
    // still running
    expect(await (await fetch(`${base}/api/version`)).text()).toBe("0.5.0.0")
    const exited = new Promise((resolve) => daemon.process.once("exit", (code) => resolve(code)))
    const response = await fetch(`${base}/api/exit`)
    expect(response.status).toBe(200)
    expect(await exited).toBe(0)
  })
})

describe("a newcomer's orch run --plugins=scheduler", () => {
  it("shows the bundled speed test's row in the status table once it has run by itself", async () => {
    const dir = tempDir("orch-scheduler-newcomer-")
    // the bundled test's first run, 60 s after start by default, brought forward for the test
    const daemon = await startDaemon(orchBin, [
      "--plugins", "scheduler", "--data-dir", dir,
      "--set", "scheduler.speedtest.firstDelaySeconds=1", "--set", "scheduler.speedtest.bytes=200000"
    ])
    try {
      const page = await eventually(async () => {
        const text = await (await fetch(`${daemon.url}/scheduler/`)).text()
        return text.includes("| speedtest") ? text : undefined
      }, 30_000)
      expect(page).toMatch(/\| speedtest\s+\| [\d-]+ [\d:]+ \|\s+[\d.]+ Mbit\/s \|\s+[\d.]+ Mbit\/s \|\s+[\d.]+ ms \| ok\s+\|/)
    } finally {
      await daemon.stop("SIGKILL")
    }
  })
})

describe.skipIf(!isRoot)("a root daemon whose runAs user is missing", () => {
  it("refuses to start the scheduler and says why, on the API and in its log", async () => {
    const dir = tempDir("orch-scheduler-norunas-")
    const daemon = await startDaemon(orchBin, ["--plugins", "scheduler", "--data-dir", dir, "--set", "scheduler.runAs=no-such-user-4711"])
    try {
      const response = await eventually(async () => {
        const r = await fetch(`${daemon.url}/scheduler/api/version`)
        const body = await r.json() as { error: string }
        return body.error !== "the scheduler is starting" ? { status: r.status, body } : undefined
      })
      expect(response.status).toBe(503)
      expect(response.body.error).toMatch(/^the scheduler will not start: orch runs as root and tests must not, but no user "no-such-user-4711"/)
      expect(daemon.logs.some((l) => String(l.message).includes("the scheduler will not start"))).toBe(true)
    } finally {
      await daemon.stop("SIGKILL")
    }
  })
})

describe.skipIf(!isRoot)("a run on the scheduler's job worker when orch stops", () => {
  it("is killed at once, its job ends with the stored failure, and the next start does not run it again", async () => {
    const setup = writeSetup()
    writeDescriptor(setup.descriptors, "long", {
      command: nodeScript(`console.error("INFO long starts"); setTimeout(() => console.log("{}"), 60000)`),
      schedule: { every: day }
    })
    const args = ["--plugins", "scheduler", "--data-dir", setup.dataDir, "--config", setup.config]
    const first = await startDaemon(orchBin, args)
    try {
      const ready = await json(`${first.url}/readyz`)
      expect(ready.loops).toEqual(expect.arrayContaining([expect.objectContaining({ name: "scheduler:worker:run", running: true })]))
      await json(`${first.url}/scheduler/api/runner?test=long`)
      await eventually(async () => ((await json(`${first.url}/scheduler/api/state`)).events.test_name === "long" ? true : undefined))
      await eventually(async () => (await json(`${first.url}/scheduler/api/log`)).some((l: any) => String(l.message).includes("long starts")) || undefined)
    } finally {
      await first.stop("SIGTERM")
    }
    const second = await startDaemon(orchBin, args)
    try {
      const base = `${second.url}/scheduler`
      await eventually(async () => ((await fetch(`${base}/api/version`)).status === 200 ? true : undefined))
      const jobs: Array<any> = await json(`${second.url}/jobs?plugin=scheduler&kind=run`)
      const long = jobs.find((job) => job.payload.test === "long")
      expect(long).toMatchObject({ state: "succeeded", result: { status: "failed", reason: "interrupted: orch stopped while the test ran" } })
      // runs go oldest first: had the long run been given back, this one would wait a minute behind it
      await json(`${base}/api/runner?test=echo&n=42`)
      await eventually(async () => (await json(`${base}/api/data?test=echo`)).some((r: any) => r.n === 42) || undefined)
      const rows = await json(`${base}/api/data?test=long`)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toMatchObject({ status: "failed", reason: "interrupted: orch stopped while the test ran" })
    } finally {
      await second.stop("SIGKILL")
    }
  })
})

describe("the CLI without a daemon", () => {
  it("runs a test in-process and lists descriptors from the folder", async () => {
    const setup = writeSetup()
    const common = ["--data-dir", setup.dataDir, "--config", setup.config, "--url", "http://127.0.0.1:9"]
    const ran = await run(orchBin, ["scheduler", "run", "echo", "--param", "n=5", ...common])
    expect(ran.code).toBe(0)
    expect(ran.stdout).toMatch(/^\(no daemon at http:\/\/127\.0\.0\.1:9\/scheduler: running echo in this process\)\n/)
    expect(ran.stdout).toMatch(/\{"n":5\}\n$/)
    const failed = await run(orchBin, ["scheduler", "run", "echo", "--param", "n=x", ...common])
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toContain("echo: parameter n=\"x\" does not match ^[0-9]+$")
    const data = await run(orchBin, ["scheduler", "data", "--json", ...common.slice(0, 4)])
    expect(JSON.parse(data.stdout)[0]).toMatchObject({ test_name: "echo", n: 5 })
    const descriptors = await run(orchBin, ["scheduler", "descriptors", ...common])
    expect(descriptors.stdout).toMatch(/^speedtest\s+Neubot's 23-27 min, first after 3600 s\s+\(no daemon\)/m)
  })
})
