/** `orch watchdog …` (clients of a daemon's /watchdog/ API) and `orch config init` through the built binary, and the HTTP API. */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, run, startDaemon, tempDir } from "@orch/testing"
import { FakeWpt } from "./fakes/FakeWpt.js"

const A = "us-central1-a--tor--agent1"
const fake = new FakeWpt({ locations: [{ id: A, browsers: ["Tor Browser"] }, { id: "europe-west1-b--firefox--agent2" }] })
const daemons: Array<Daemon> = []

beforeAll(async () => {
  await fake.start()
})
// one daemon at a time talks to the fake WPT server, as each test expects
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop("SIGKILL")))
})
afterAll(async () => {
  await fake.close()
})

/**
 * A data dir with an orch.yaml pointing at the fake WPT server, and a daemon over it whose
 * job_starter waits an hour between rounds (jobs stay AWAITING); `orch` asks that daemon
 * from a folder of its own.
 */
const workspace = async (extra = "") => {
  const dir = tempDir("orch-watchdog-cli-")
  const config = path.join(dir, "orch.yaml")
  fs.writeFileSync(config, `watchdog:\n  wpt:\n    server: ${fake.url}\n  starter: { intervalMs: 3600000 }\n${extra}`)
  const daemon = await startDaemon(orchBin, ["--config", config, "--data-dir", dir, "--plugins", "watchdog"])
  daemons.push(daemon)
  const elsewhere = tempDir("orch-watchdog-cli-elsewhere-")
  const orch = (...args: Array<string>) => run(orchBin, [...args, "--url", daemon.url], { cwd: elsewhere })
  return { dir, config, orch, daemon, elsewhere }
}

describe("orch config init", () => {
  it("writes the WPT server and key given as --watchdog-wpt-server and --watchdog-wpt-key, and the file checks", async () => {
    const dir = tempDir()
    const file = path.join(dir, "orch.yaml")
    const init = await run(orchBin, ["config", "init", "--watchdog-wpt-server", "http://wpt.example:8080", "--watchdog-wpt-key", "abcdef0123456789abcdef0123456789", "-o", file])
    expect(init.stderr).toBe("")
    expect(init.code).toBe(0)
    const text = fs.readFileSync(file, "utf8")
    expect(text).toMatch(/^watchdog:\n(?:.*\n)*? {2}wpt:\n(?:.*\n)*? {4}server: http:\/\/wpt\.example:8080\n/m)
    expect(text).toContain("    key: abcdef0123456789abcdef0123456789")
    const check = await run(orchBin, ["config", "check", "--config", file])
    expect(check.code).toBe(0)
    const bad = await run(orchBin, ["config", "init", "--watchdog-wpt-server", "wpt.example", "-o", "-"])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain("must be an http:// or https:// URL")
  })
})

describe("orch watchdog", () => {
  it("creates jobs from flags, a script file, YAML (urls × locations) and CSV, lists, cancels and retries them", async () => {
    const w = await workspace()
    const one = await w.orch("watchdog", "create", "--zone", "us-central1-a", "--browser", "tor", "--agent", "agent1", "--runs", "2", "--label", "first", "https://example.org/")
    expect(one.code).toBe(0)
    expect(one.stdout.trim()).toBe("created job 1")
    const script = path.join(w.dir, "login.wpt")
    fs.writeFileSync(script, "setTimeout\t60\nnavigate\thttps://example.org/login\n")
    expect((await w.orch("watchdog", "create", "--browser", "tor", "--agent", "agent1", script)).stdout.trim()).toBe("created job 2")

    const yaml = path.join(w.dir, "jobs.yaml")
    fs.writeFileSync(yaml, `urls: [https://a.example/, https://b.example/]\nlocations:\n  - us-central1-a--tor--agent1\n  - { zone: europe-west1-b, browser: firefox, agent: agent2 }\nruns: 3\n`)
    expect((await w.orch("watchdog", "create", "--file", yaml)).stdout.trim()).toBe("created 4 jobs (3…6)")
    const csv = path.join(w.dir, "jobs.csv")
    fs.writeFileSync(csv, "url,location,runs\nhttps://c.example/,us-central1-a--tor--agent1,1\nhttps://d.example/,,2\n")
    expect((await w.orch("watchdog", "create", "--file", csv, "--zone", "asia-east1-a", "--browser", "chrome", "--agent", "a3")).stdout.trim()).toBe("created 2 jobs (7…8)")

    const listed = JSON.parse((await w.orch("watchdog", "jobs", "--json")).stdout) as Array<any>
    expect(listed.map((j) => [j.id, j.location, j.url ?? "script", j.runs, j.state])).toEqual([
      [8, "asia-east1-a--chrome--a3", "https://d.example/", 2, "AWAITING"],
      [7, "us-central1-a--tor--agent1", "https://c.example/", 1, "AWAITING"],
      [6, "europe-west1-b--firefox--agent2", "https://b.example/", 3, "AWAITING"],
      [5, "us-central1-a--tor--agent1", "https://b.example/", 3, "AWAITING"],
      [4, "europe-west1-b--firefox--agent2", "https://a.example/", 3, "AWAITING"],
      [3, "us-central1-a--tor--agent1", "https://a.example/", 3, "AWAITING"],
      [2, "us-central1-a--tor--agent1", "script", 1, "AWAITING"],
      [1, "us-central1-a--tor--agent1", "https://example.org/", 2, "AWAITING"]
    ])
    expect(listed[6].script).toBe("setTimeout\t60\nnavigate\thttps://example.org/login\n")
    const table = (await w.orch("watchdog", "jobs", "--state", "AWAITING")).stdout
    expect(table.split("\n")[0]).toMatch(/^ID\s+STATE\s+LOCATION\s+URL\/SCRIPT/)
    expect(table).toContain("script (3 lines)")

    expect((await w.orch("watchdog", "cancel", "1")).stdout.trim()).toBe("job 1 is CANCELLED")
    const again = await w.orch("watchdog", "cancel", "1")
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain("CANCELLED is final")
    expect((await w.orch("watchdog", "retry", "1")).stdout.trim()).toBe("job 1 is AWAITING")
    const missing = await w.orch("watchdog", "retry", "999")
    expect(missing.stderr).toBe("orch: POST /watchdog/jobs/999/retry: 404 no job 999\n")
    // every job went to the daemon's database; nothing was written where orch ran
    expect(((await (await fetch(`${w.daemon.url}/jobs?plugin=watchdog`)).json()) as Array<unknown>)).toHaveLength(8)
    expect(fs.readdirSync(w.elsewhere)).toEqual([])
  })

  it("refuses bad job files with the file, line and key, storing nothing", async () => {
    const w = await workspace()
    const yaml = path.join(w.dir, "bad.yaml")
    fs.writeFileSync(yaml, "jobs:\n  - zone: us-central1-a\n    browser: tor\n    agent: agent1\n    url: https://x.example/\n    runs: 50\n")
    const bad = await w.orch("watchdog", "create", "--file", yaml)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${yaml}:6`)
    expect(bad.stderr).toContain("jobs[0].runs")
    expect(bad.stderr).toContain("must be from 1 to 10")
    const csv = path.join(w.dir, "bad.csv")
    fs.writeFileSync(csv, "url,zone,browser,agent\nhttps://ok.example/,us-central1-a,tor,agent1\nhttps://x.example/,US_CENTRAL,tor,agent1\n")
    const badCsv = await w.orch("watchdog", "create", "--file", csv)
    expect(badCsv.stderr).toContain(`${csv}:3`)
    expect(badCsv.stderr).toContain("zone")
    const noTarget = await w.orch("watchdog", "create")
    expect(noTarget.stderr).toContain("give a URL")
    expect(JSON.parse((await w.orch("watchdog", "jobs", "--json")).stdout)).toEqual([])
  })

  it("check-idle shows per location what WPT reports, with the jobs orch holds, at locations WPT does not list too", async () => {
    const w = await workspace()
    await fetch(`${fake.url}/work/getwork.php?location=${A}&pc=agent1&key=`)
    await w.orch("watchdog", "create", "--zone", "us-central1-a", "--browser", "tor", "--agent", "agent1", "https://example.org/")
    await w.orch("watchdog", "create", "--zone", "asia-east1-a", "--browser", "tor", "--agent", "agent9", "https://example.org/")
    const out = await w.orch("watchdog", "check-idle")
    expect(out.code).toBe(0)
    const lines = out.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^LOCATION\s+STATUS\s+PENDING\s+TESTING\s+IDLE\s+AWAITING\s+SUBMITTED$/)
    expect(lines.find((l) => l.startsWith(A))).toMatch(new RegExp(`^${A}\\s+OK\\s+0\\s+0\\s+1\\s+1\\s+0$`))
    expect(lines.find((l) => l.startsWith("europe-west1-b"))).toMatch(/OFFLINE\s+0\s+0\s+0\s+0\s+0$/)
    expect(lines.find((l) => l.startsWith("asia-east1-a--tor--agent9"))).toMatch(/NOT AT WPT\s+-\s+-\s+-\s+1\s+0$/)
    expect(lines.at(-2)).toBe("2 of 2 locations have fewer than 2 tests pending or running; 2 have none")
    expect(lines.at(-1)).toBe("1 location(s) with jobs are not listed by WPT")
    const json = JSON.parse((await w.orch("watchdog", "check-idle", "--json")).stdout) as Array<any>
    expect(json.find((l) => l.location === A)).toMatchObject({ status: "OK", idle: 1, listed: true, jobs: { AWAITING: 1 } })
    expect(json.find((l) => l.location === "asia-east1-a--tor--agent9")).toMatchObject({ location: "asia-east1-a--tor--agent9", status: "NOT AT WPT", listed: false, jobs: { AWAITING: 1 } })
    expect((await w.orch("watchdog", "instances")).stdout.trim()).toMatch(/^NAME\s+ZONE\s+STATE/)
    expect(JSON.parse((await w.orch("watchdog", "instances", "--json")).stdout)).toEqual([])
  })

  it("check-idle without a WPT server says so, from the daemon (502)", async () => {
    const dir = tempDir("orch-watchdog-cli-nowpt-")
    const daemon = await startDaemon(orchBin, ["--data-dir", dir, "--plugins", "watchdog"])
    daemons.push(daemon)
    const out = await run(orchBin, ["watchdog", "check-idle", "--url", daemon.url])
    expect(out.code).toBe(1)
    expect(out.stderr).toBe("orch: GET /watchdog/locations: 502 WPT getLocations.php: wpt.server is not set\n")
  })
})

describe("/watchdog/ HTTP API", () => {
  it("creates and lists jobs, cancels one queued at WPT there too, retries it, and answers 404 and 409 with a message", async () => {
    const dir = tempDir("orch-watchdog-api-")
    const config = path.join(dir, "orch.yaml")
    fs.writeFileSync(config, `watchdog:\n  wpt:\n    server: ${fake.url}\n  starter: { intervalMs: 100 }\n  finisher: { intervalMs: 100, recheckMs: 60000 }\n`)
    const daemon = await startDaemon(orchBin, ["--config", config, "--data-dir", dir, "--plugins", "watchdog"])
    daemons.push(daemon)
    await fetch(`${fake.url}/work/getwork.php?location=${A}&pc=agent1&key=`)
    const created = await fetch(`${daemon.url}/watchdog/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobs: [{ zone: "us-central1-a", browser: "tor", agent: "agent1", url: "https://example.org/api", notBefore: "1970-01-02T00:00:00Z" }] })
    })
    expect(created.status).toBe(201)
    const { ids: [id] } = (await created.json()) as { ids: Array<number> }
    const submitted = await eventually(async () => {
      const jobs = (await (await fetch(`${daemon.url}/watchdog/jobs?state=SUBMITTED`)).json()) as Array<any>
      return jobs.find((j) => j.id === id)
    })
    expect(fake.tests.get(submitted.testId)!.state).toBe("queued")
    // job_starter is a loop, job_finisher core's job worker over the plugin's kind
    const ready = (await (await fetch(`${daemon.url}/readyz`)).json()) as { loops: Array<{ name: string; running: boolean }> }
    const names = ready.loops.map((l) => l.name)
    expect(ready.loops).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: "watchdog:job_starter", running: true }),
      expect.objectContaining({ name: "watchdog:worker:wpt-test", running: true })
    ]))
    expect(names).not.toContain("watchdog:job_finisher")
    const cancel = await fetch(`${daemon.url}/watchdog/jobs/${id}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect(cancel.status).toBe(200)
    expect(await cancel.json()).toMatchObject({ id, state: "CANCELLED", testId: submitted.testId })
    expect(fake.tests.get(submitted.testId)!.state).toBe("cancelled")
    const twice = await fetch(`${daemon.url}/watchdog/jobs/${id}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect(twice.status).toBe(409)
    expect(((await twice.json()) as any).message).toContain("CANCELLED is final")
    const unknown = await fetch(`${daemon.url}/watchdog/jobs/4242/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
    expect(unknown.status).toBe(404)
    const history = (await (await fetch(`${daemon.url}/jobs/${id}`)).json()) as any
    // (followed by "(lease of … revoked)" when job_finisher was checking the job right then)
    expect(history.history.at(-1).reason.startsWith(`cancelled over HTTP; cancelling test ${submitted.testId} at WPT`)).toBe(true)
    const retry = (path: string, body: string) => fetch(`${daemon.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body })
    const retried = await retry(`/watchdog/jobs/${id}/retry`, JSON.stringify({ reason: "once more" }))
    expect(retried.status).toBe(200)
    expect(await retried.json()).toMatchObject({ id, state: "AWAITING" })
    expect(((await (await fetch(`${daemon.url}/jobs/${id}`)).json()) as any).history.some((h: any) => h.reason === "once more")).toBe(true)
    expect((await retry("/watchdog/jobs/4242/retry", "{}")).status).toBe(404)
    expect((await retry(`/watchdog/jobs/${id}/retry`, JSON.stringify({ bogus: 1 }))).status).toBe(400)
    expect(await daemon.stop()).toBe(0)
    daemons.splice(daemons.indexOf(daemon), 1)
  })
})
