/**
 * The watcher's status page in headless Chromium (Debian's, driven by playwright-core),
 * served by the built `orch` checking a local target: it loads with no console error, no
 * exception and no failed request, and shows each endpoint's state, uptime, chart and
 * failure, and the file it skipped; an endpoint that comes up in the daemon shows as up on the
 * open page without a reload (core's /events). Without Chromium it skips and says why.
 */
import { type Daemon, eventually, findChromium, orchBin, startDaemon, tempDir } from "@orch/testing"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { type HealthTarget, startHealthTarget } from "./healthTarget.js"

const browserBinary = findChromium()
const missing = "missing" in browserBinary ? browserBinary.missing : undefined
if (missing !== undefined) console.warn(`StatusPage.browser.test.ts skipped: ${missing}`)

describe.skipIf(missing !== undefined)(`the watcher's status page in Chromium${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let target: HealthTarget | undefined
  let daemon: Daemon
  beforeAll(async () => {
    target = await startHealthTarget(503)
    const targetUrl = target.url
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "endpoints"))
    fs.writeFileSync(path.join(dir, "endpoints", "web.yml"), [
      "good:",
      "  interval: 300ms",
      `  url: ${targetUrl}/health`,
      "  response_json_values: [status]",
      "bad:",
      "  interval: 300ms",
      `  url: ${targetUrl}/down`,
      "  conditions: ['[STATUS] == 200']"
    ].join("\n") + "\n")
    fs.writeFileSync(path.join(dir, "endpoints", "broken.yml"), "x:\n  cron_schedule: * * * * *\n  url: http://127.0.0.1:1/\n")
    daemon = await startDaemon(orchBin, ["--plugins=watcher", "--data-dir", path.join(dir, "data")], { cwd: dir })
    await eventually(async () => {
      const body = await (await fetch(`${daemon.url}/watcher/api/endpoints`)).json() as any
      const states = Object.fromEntries(body.endpoints.map((e: any) => [e.key, e.state]))
      return states.good === "up" && states.bad === "down" || undefined
    })
  }, 60_000)
  afterAll(async () => {
    await daemon?.stop()
    await target?.close()
  })

  it("loads with no console error, exception or failed request, and shows states, uptime, the chart, the failure and the skipped file", async () => {
    const browser = await chromium.launch({ executablePath: (browserBinary as { executable: string }).executable, args: ["--no-sandbox"] })
    try {
      const page = await browser.newPage()
      const errors: Array<string> = []
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()}`)
      })
      page.on("pageerror", (error) => errors.push(`exception: ${error.message}`))
      // (a missing favicon would be a 404 here: the page names an empty one)
      page.on("requestfailed", (request) => errors.push(`failed: ${request.url()}`))
      page.on("response", (response) => {
        if (response.status() >= 400) errors.push(`HTTP ${response.status()} ${response.url()}`)
      })
      const response = await page.goto(`${daemon.url}/watcher/`)
      expect(response?.status()).toBe(200)
      const text = await page.locator("body").innerText()
      expect(text).toContain("good")
      expect(text).toContain("bad")
      expect(text).toContain("[STATUS] (503) == 200")
      expect(text).toContain("broken.yml")
      // a response-time chart per endpoint that has results
      expect(await page.locator("svg.chart").count()).toBeGreaterThanOrEqual(1)
      expect(await page.locator("tr.down").count()).toBe(1)

      // the target recovers: the daemon sees "bad" come up, and the open page follows, without a reload
      // (within 15 s: the page's own every-30-seconds refresh would be too late)
      await page.evaluate("window.kept = 1")
      target!.setDownStatus(200)
      await page.waitForFunction(`document.querySelectorAll("tr.down").length === 0 && document.querySelectorAll("tr.up").length === 2`, undefined, { timeout: 15_000 })
      expect(await page.evaluate("window.kept")).toBe(1)
      expect(await page.evaluate(`document.documentElement.hasAttribute("data-live-refreshed")`)).toBe(true)
      expect(errors).toEqual([])
    } finally {
      await browser.close()
    }
  }, 60_000)
})
