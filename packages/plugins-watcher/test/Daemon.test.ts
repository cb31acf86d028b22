/** The built `orch` with every plugin: the watcher's routes, series and commands end to end. */
import { orchBin, run, startDaemon, eventually, tempDir } from "@orch/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { startAwsDouble } from "./AwsDouble.js"
import { type HealthTarget, startHealthTarget } from "./healthTarget.js"

const fixtures = new URL("./fixtures/", import.meta.url).pathname

describe("orch watcher validate", () => {
  it("the seed's own example: exit 2, every problem listed with its file, line, key and what to write", async () => {
    const result = await run(orchBin, ["watcher", "validate", fixtures])
    expect(result.code).toBe(2)
    const lines = result.stderr.trim().split("\n")
    expect(lines).toHaveLength(4)
    expect(lines[0]).toBe(`${path.join(fixtures, "seed-example.yml")}:2:18 at www.fabricsounds.com/health.cron_schedule: an unquoted * * * * * is read by YAML as an alias: quote it, cron_schedule: "* * * * *"`)
    expect(result.stdout).toContain("1 file(s), 0 endpoint(s) valid; 4 problem(s) in 1 file(s)")
  })

  it("valid files: exit 0; no directory named: exit 0 with a note", async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "endpoints"))
    fs.writeFileSync(path.join(dir, "endpoints", "a.yml"), `a:\n  cron_schedule: "*/5 * * * *"\n  url: http://127.0.0.1:1/\n`)
    const ok = await run(orchBin, ["watcher", "validate"], { cwd: dir })
    expect([ok.code, ok.stdout.trim()]).toEqual([0, "1 file(s), 1 endpoint(s) valid"])
    const none = await run(orchBin, ["watcher", "validate"], { cwd: tempDir() })
    expect(none.code).toBe(0)
    expect(none.stdout).toContain("no such directory")
  })
})

describe("the daemon with every plugin", () => {
  let target: HealthTarget
  let targetUrl: string
  beforeAll(async () => {
    target = await startHealthTarget(500)
    targetUrl = target.url
  })
  afterAll(() => target.close())

  it("no endpoints directory: starts, serves an empty status page", async () => {
    const daemon = await startDaemon(orchBin, ["--plugins=all", "--data-dir", tempDir()], { cwd: tempDir() })
    try {
      const page = await fetch(`${daemon.url}/watcher/`)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain("No endpoints.")
      expect(await (await fetch(`${daemon.url}/watcher/api/endpoints`)).json()).toMatchObject({ missing: true, endpoints: [] })
      expect(daemon.logs.some((l) => String(l.message).startsWith("watcher: no endpoints directory"))).toBe(true)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  })

  it("checks the endpoints of its files: state, uptime and failures in the API and the page; probe series at /metrics; AWS sends", async () => {
    const aws = await startAwsDouble(["AKIDDAEMON"])
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "endpoints"))
    fs.writeFileSync(path.join(dir, "endpoints", "web.yml"), [
      "good:",
      "  interval: 300ms",
      `  url: ${targetUrl}/health`,
      "  response_json_values: [status]",
      "  success_test: { key: status, value: ok }",
      "  post_service:",
      `    - { service: aws-eventbridge, region: eu-west-1, endpoint: "${aws.url}", aws_key: AKIDDAEMON, aws_secret: s, data_source: web }`,
      `    - { service: aws-cloudwatch, region: eu-west-1, endpoint: "${aws.url}", aws_key: AKIDDAEMON, aws_secret: s }`,
      "self:",
      "  interval: 1s",
      `  post_service: { service: aws-cloudwatch, region: eu-west-1, endpoint: "${aws.url}", aws_key: AKIDDAEMON, aws_secret: s, namespace: Self }`,
      "bad:",
      "  interval: 300ms",
      `  url: ${targetUrl}/other`,
      "  conditions: ['[STATUS] == 200']"
    ].join("\n") + "\n")
    fs.writeFileSync(path.join(dir, "endpoints", "seed.yml"), fs.readFileSync(path.join(fixtures, "seed-example.yml")))
    const daemon = await startDaemon(orchBin, ["--plugins=all", "--data-dir", path.join(dir, "data")], { cwd: dir })
    try {
      const overview = await eventually(async () => {
        const body = await (await fetch(`${daemon.url}/watcher/api/endpoints`)).json() as any
        const states = Object.fromEntries(body.endpoints.map((e: any) => [e.key, e.state]))
        return states.good === "up" && states.bad === "down" ? body : undefined
      })
      const bad = overview.endpoints.find((e: any) => e.key === "bad")
      expect(bad.recentFailures[0].reasons).toEqual(["[STATUS] (500) == 200"])
      expect(bad.uptime["24h"]).toBe(0)
      expect(overview.endpoints.find((e: any) => e.key === "good").last.values).toEqual({ status: "ok" })
      expect(overview.files.find((f: any) => f.file === "seed.yml").problems).toHaveLength(4)
      const page = await (await fetch(`${daemon.url}/watcher/`)).text()
      expect(page).toContain("[STATUS] (500) == 200")
      expect(page).toContain("seed.yml:2:18 at www.fabricsounds.com/health.cron_schedule")
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
      expect(metrics).toMatch(/^probe_success\{endpoint="good",file="web.yml"\} 1$/m)
      expect(metrics).toMatch(/^probe_success\{endpoint="bad",file="web.yml"\} 0$/m)
      expect(metrics).toMatch(/^probe_http_duration_seconds\{endpoint="good",file="web.yml",phase="connect"\} /m)
      expect(metrics).toMatch(/^probe_duration_seconds\{endpoint="good",file="web.yml"\} [0-9.e-]+$/m)
      expect(metrics).not.toContain("orch_watcher_probe_")
      expect(metrics).toMatch(/^orch_watcher_file_errors_total 1$/m)
      // alone on its database: this worker holds every jobset
      expect(metrics).toMatch(/^orch_watcher_jobsets_held 16$/m)
      expect(metrics).toMatch(/^orch_watcher_jobset_changes_total\{change="claimed"\} 16$/m)
      expect(metrics).toMatch(/^orch_watcher_endpoint_files\{status="skipped"\} 1$/m)
      const status = await run(orchBin, ["watcher", "status", "--url", daemon.url], { cwd: dir })
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(/^web\.yml\s+good\s+up\s/m)
      expect(status.stdout).toMatch(/^web\.yml\s+bad\s+down\s.*\[STATUS\] \(500\) == 200$/m)
      expect(status.stdout).toContain("skipped: seed.yml:2:18")
      // the AWS clients, outside the bundle, loaded on the first send
      await eventually(async () => aws.putEvents.length > 0 && aws.putMetricData.length > 0 || undefined)
      expect(aws.putEvents[0]![0]).toMatchObject({ Source: "web", DetailType: expect.stringMatching(/^Endpoint (Check|State Change)$/) })
      expect(aws.putMetricData.some((call) => call.Namespace === "Orch/Watcher")).toBe(true)
      // the self: block's health reports
      await eventually(async () => aws.putMetricData.some((call) => call.Namespace === "Self") || undefined)
      const health = aws.putMetricData.find((call) => call.Namespace === "Self")!.MetricData
      expect(health.map((d) => d.MetricName)).toEqual(["Checks", "LagP50", "LagP99", "MissedRuns", "Behind"])
      expect(status.stdout).toMatch(/^workers: 1 live \(.+:\d+:watcher holds 16\); this daemon holds 16 of 16 jobsets; 0 unheld$/m)
    } finally {
      expect(await daemon.stop()).toBe(0)
      await aws.close()
    }
  }, 40_000)
})
