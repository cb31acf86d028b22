/**
 * Neubot's own web UI (neubot/neubot's `neubot/www`, fetched, never in this repository)
 * against the real `orch` binary, in headless Chromium (Debian's, driven by playwright-core):
 * its pages served as Neubot's HTTP server did, `/api/*` forwarded to orch's
 * `/scheduler/api/*`. It starts as Neubot's fresh install (no consent) and goes through
 * privacy.html, index.html (a test started from the sidebar), results.html (plots and
 * table), settings.html (a setting saved, one refused, the language) and log.html.
 *
 * It runs when a copy of the www folder is at hand (NEUBOT_WWW, or a clone of
 * neubot/neubot at NEUBOT_GIT_DIR, by default where this machine's `fetch` put it) and
 * Chromium is installed; otherwise it skips and says why. The copy is not in the
 * repository, so CI skips it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Browser, Page } from "playwright-core"
import { chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, findChromium, orchBin, startDaemon, tempDir } from "@orch/testing"
import { findNeubotWww, serveNeubotWww } from "./neubotWww.js"
import { nodeScript, writeDescriptor } from "./helpers.js"

const www = findNeubotWww()
const browserBinary = findChromium()
const missing = "missing" in www ? www.missing : "missing" in browserBinary ? browserBinary.missing : undefined
if (missing !== undefined) console.warn(`NeubotUi.test.ts skipped: ${missing}`)

/** A computed style of an element, read in the page (this file is compiled without the DOM's types). */
const style = (element: unknown, property: string): string => (globalThis as any).getComputedStyle(element)[property]

/** How long a page may take to show something: the machine may be busy with other tests (a bound, not a measure). */
const patient = { timeout: 30_000, interval: 100 }

/**
 * Types `value` into agent.interval and presses Save in one turn of the page's event loop: the
 * page's state poll (settings.js `process_state`) writes the daemon's config back into the
 * inputs, and landing between a separate fill and click it would save the old value.
 */
const editAndSave = (page: Page, value: string) =>
  page.evaluate((v) => {
    const doc = (globalThis as any).document
    const input = doc.querySelector("#setting_agent-interval")
    input.value = v
    input.onchange()
    doc.querySelector("input[type=button][value=Save]").click()
  }, value)

/** What a page said that a person would call broken: console errors, uncaught exceptions, failed loads. */
interface Watched {
  readonly page: Page
  readonly errors: Array<string>
  readonly dialogs: Array<string>
}

describe.skipIf(missing !== undefined)(`Neubot's web UI on orch${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let daemon: Daemon
  let proxy: Awaited<ReturnType<typeof serveNeubotWww>>
  let browser: Browser
  let api: string

  const open = async (pagePath: string): Promise<Watched> => {
    const page = await browser.newPage()
    const watched: Watched = { page, errors: [], dialogs: [] }
    page.on("console", (message) => {
      if (message.type() === "error") watched.errors.push(`console: ${message.text()}`)
    })
    page.on("pageerror", (error) => watched.errors.push(`exception: ${error.message}`))
    page.on("response", (response) => {
      if (response.status() >= 400) watched.errors.push(`HTTP ${response.status()} ${response.url()}`)
    })
    page.on("dialog", (dialog) => {
      watched.dialogs.push(dialog.message())
      void dialog.accept()
    })
    await page.goto(`${proxy.url}${pagePath}`)
    return watched
  }

  const settings = async () => (await (await fetch(`${api}/api/config`)).json()) as Record<string, unknown>

  beforeAll(async () => {
    const dir = tempDir("orch-neubot-ui-")
    const descriptors = path.join(dir, "descriptors")
    writeDescriptor(descriptors, "fail", {
      description: "Always fails",
      command: nodeScript(`console.error("ERROR it broke"); process.exit(3)`),
      schedule: { every: 86_400 }
    })
    const config = path.join(dir, "orch.yaml")
    // Neubot's fresh install: no consent yet
    fs.writeFileSync(config, `scheduler:
  descriptors: ${descriptors}
  stateTimeoutSeconds: 5
  speedtest:
    bytes: 500000
    firstDelaySeconds: 3600
  privacy:
    informed: false
    canCollect: false
    canPublish: false
`)
    daemon = await startDaemon(orchBin, ["--plugins", "scheduler", "--data-dir", path.join(dir, "data"), "--config", config])
    api = `${daemon.url}/scheduler`
    await eventually(async () => ((await fetch(`${api}/api/version`)).status === 200 ? true : undefined))
    proxy = await serveNeubotWww((www as { dir: string }).dir, api)
    browser = await chromium.launch({ executablePath: (browserBinary as { executable: string }).executable, args: ["--no-sandbox"] })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await proxy?.stop()
    await daemon?.stop("SIGKILL")
  })

  it("privacy.html: the entry sends a fresh install there; the three boxes ticked and saved give consent", async () => {
    const { dialogs, errors, page } = await open("/")
    await page.waitForURL(/\/privacy\.html$/)
    // "Neubot is disabled" until consent is given
    await expect.poll(() => page.locator("#privacy_not_ok").evaluate(style, "display"), patient).toBe("block")
    expect(await page.isChecked("#check_privacy_informed")).toBe(false)
    for (const box of ["informed", "can_collect", "can_publish"]) await page.check(`#check_privacy_${box}`)
    await page.click("input[type=button][value=Save]")
    await expect.poll(() => dialogs, patient).toEqual(["Privacy settings successfully saved"])
    // the page reloads with the boxes ticked and the warning gone
    await expect.poll(() => page.locator("#privacy_not_ok").evaluate(style, "display"), patient).toBe("none")
    expect(await page.isChecked("#check_privacy_can_publish")).toBe(true)
    expect(await settings()).toMatchObject({ "privacy.informed": 1, "privacy.can_collect": 1, "privacy.can_publish": 1 })
    expect(errors).toEqual([])
    await page.close()
  })

  it("index.html: the daemon's pid, start and next run; a test started from the sidebar shows its figures", async () => {
    const { errors, page } = await open("/")
    await page.waitForURL(/\/index\.html$/)
    await expect.poll(() => page.locator("#pid").textContent(), patient).toBe(String(daemon.process.pid))
    expect(await page.locator("#since").textContent()).toMatch(/^\d{4}-\d\d-\d\d\s+\d\d:\d\d$/)
    await expect.poll(() => page.locator("#next_rendezvous").textContent(), patient).toMatch(/^\d+ minutes$/)
    expect(await page.locator("#statusBoxSpan").textContent()).toBe("enabled")
    // "Manually start test": Go! with speedtest selected
    await page.selectOption("#select_startnow", "speedtest")
    await page.click("#startNow input[type=button]")
    await expect.poll(() => page.locator("#downloadResult").textContent(), { timeout: 90_000 }).toMatch(/^[\d.]+ Mbit\/s$/)
    expect(await page.locator("#testNameSideBar").textContent()).toBe("speedtest")
    expect(await page.locator("#uploadResult").textContent()).toMatch(/^[\d.]+ Mbit\/s$/)
    expect(await page.locator("#latencyResult").textContent()).toMatch(/^[\d.]+ ms$/)
    await expect.poll(() => page.locator("#testProgress").textContent(), patient).toBe("100%")
    // back to idle: its row is the highlighted one
    await expect.poll(() => page.locator("table#state tr#idle").evaluate(style, "backgroundColor"), patient).toBe("rgb(255, 255, 204)")
    // the sidebar's switch of automatic tests, followed through /api/state
    await page.click("#statusBoxA")
    await expect.poll(() => page.locator("#statusBoxSpan").textContent(), patient).toBe("disabled")
    expect((await settings()).enabled).toBe(0)
    await page.click("#statusBoxA")
    await expect.poll(() => page.locator("#statusBoxSpan").textContent(), patient).toBe("enabled")
    expect((await settings()).enabled).toBe(1)
    expect(errors).toEqual([])
    await page.close()
  }, 120_000)

  it("results.html: the speed test's plots and table are filled, one cell per column; another test can be chosen", async () => {
    await fetch(`${api}/api/runner?test=fail&streaming=1`).then((r) => r.text())
    const { errors, page } = await open("/results.html")
    await expect.poll(() => page.locator("#results_table tbody tr").count(), patient).toBeGreaterThan(0)
    expect(await page.locator("#results_title").textContent()).toBe("Recent results of speedtest")
    expect(await page.locator("#res_type_value option").allTextContents()).toEqual(["fail", "speedtest"])
    // two plots, drawn (jqPlot canvases), with a series per address
    expect(await page.locator("#charts .chartdiv").count()).toBe(2)
    expect(await page.locator("#charts .chartdiv").first().locator("canvas").count()).toBeGreaterThan(3)
    expect(await page.locator("#charts .jqplot-table-legend").first().textContent()).toContain("Download (127.0.0.1)")
    const headers = await page.locator("#results_table thead th").allTextContents()
    expect(headers).toEqual(["Started", "Local address", "Address seen by the server", "Server address", "Connect time", "Latency", "Download", "Upload"])
    const cells = await page.locator("#results_table tbody tr").first().locator("td").allTextContents()
    expect(cells).toHaveLength(headers.length)
    expect(cells.slice(1, 4)).toEqual(["127.0.0.1", "127.0.0.1", "127.0.0.1"])
    expect(cells[6]).toMatch(/^[\d.]+ Mbit\/s$/)

    // the other test, chosen in the page: its failed run's row has every column of its table
    await page.selectOption("#res_type_value", "fail")
    await page.click("#res_type_submit")
    await expect.poll(() => page.locator("#results_title").textContent(), patient).toBe("Recent results of fail")
    await expect.poll(() => page.locator("#results_table thead th").count(), patient).toBe(4)
    expect(await page.locator("#results_table tbody tr").first().locator("td").count()).toBe(4)
    expect(await page.locator("#results_description").textContent()).toBe("Always fails")
    expect(errors).toEqual([])
    await page.close()
  }, 60_000)

  it("settings.html: every setting listed; a change saved, a refused one shows orch's reason; www.lang translates", async () => {
    const { dialogs, errors, page } = await open("/settings.html")
    await expect.poll(() => page.locator("#table_settings tr").count(), patient).toBe(Object.keys(await settings()).length)
    expect(await page.inputValue("#setting_www-lang")).toBe("default")
    expect(await page.inputValue("#setting_agent-interval")).toBe("0")
    // uuid is shown, not editable
    expect(await page.locator("#setting_uuid").count()).toBe(0)

    await page.evaluate(() => ((globalThis as any).beforeSave = true))
    await editAndSave(page, "3600")
    await expect.poll(() => dialogs, patient).toEqual(["Settings successfully updated"])
    expect((await settings())["agent.interval"]).toBe(3600)

    // the page reloads after the alert, and shows the saved value
    await expect.poll(() => page.evaluate(() => (globalThis as any).beforeSave === undefined && (globalThis as any).document.querySelector("#setting_agent-interval") !== null), patient).toBe(true)
    expect(await page.inputValue("#setting_agent-interval")).toBe("3600")
    await editAndSave(page, "60")
    await expect.poll(() => dialogs.length, patient).toBe(2)
    expect(dialogs[1]).toBe("Invalid agent.interval=60: must be 0 or at least 1380\nNo setting saved")
    expect((await settings())["agent.interval"]).toBe(3600)
    // the refused POST (and Chromium's console line about it) is the one error
    expect(errors.length).toBeGreaterThan(0)
    expect(errors.filter((e) => !/\/api\/config$|status of 500/.test(e))).toEqual([])
    await page.close()

    await fetch(`${api}/api/config`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "www.lang=it" })
    const italian = await open("/settings.html")
    await expect.poll(() => italian.page.locator(".i18n_settings_title").textContent(), patient).toBe("Impostazioni")
    expect(italian.errors).toEqual([])
    await italian.page.close()
    await fetch(`${api}/api/config`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "www.lang=default" })
  })

  it("log.html: the log's lines, ERROR and INFO in Neubot's colours", async () => {
    const { errors, page } = await open("/log.html")
    await expect.poll(() => page.locator("#results tbody tr").count(), patient).toBeGreaterThan(3)
    const colour = (severity: string) =>
      page.locator("#results tbody tr", { has: page.locator(`td:text-is("${severity}")`) }).first().evaluate(style, "backgroundColor")
    expect(await colour("ERROR")).toBe("rgb(255, 153, 119)")
    expect(await colour("INFO")).toBe("rgb(187, 255, 255)")
    expect(await page.locator("#results tbody").textContent()).toContain("fail: it broke")
    // its "text representation" link: /api/log?debug=1&verbosity=2
    await page.click("a[href*='debug']")
    await page.waitForURL(/\/api\/log\?debug=1&verbosity=2$/)
    expect(await page.locator("body").textContent()).toMatch(/^\d+ \[INFO\]\tscheduler 0\.5\.0\.0 started with pid \d+/)
    expect(errors).toEqual([])
    await page.close()
  })
})
