/**
 * The bench pages in headless Chromium (Debian's, driven by playwright-core), served by a real
 * daemon in this process over a seeded SQLite file: every page loads with no console error, no
 * exception and no failed request, the graph draws, the queue's actions change the queue
 * through core's gate and the plugin's routes, a commit message with markup is shown as text, and refs, branch names and
 * short hashes redirect to the canonical URL; the queue page follows the daemon (core's /events) without
 * a reload. Without Chromium the browser part skips and says why.
 */
import { findChromium } from "@orch/testing"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hashOf, type PagesServer, startPagesServer } from "./pagesServer.js"

const browserBinary = findChromium()
const missing = "missing" in browserBinary ? browserBinary.missing : undefined
if (missing !== undefined) console.warn(`Pages.browser.test.ts skipped: ${missing}`)

const xss = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> fix "quotes" & 'apostrophes'`
const commits = Array.from({ length: 30 }, (_, i) => hashOf(i + 1, "e"))
const head = commits[commits.length - 1]!
const evil = commits[10]!

let server: PagesServer

beforeAll(async () => {
  server = await startPagesServer()
  const { seed } = server
  seed.commits(commits.map((hash, i) => ({
    hash,
    message: hash === evil ? `${xss}\n\nbody ${xss}` : `commit number ${i}`,
    date: 1_700_000_000_000 + i * 60_000,
    parents: i === 0 ? [] : [commits[i - 1]!]
  })))
  seed.ref("refs/heads/main", head, true)
  seed.ref("refs/heads/feature", commits[20]!, false)
  const fingerprint = { cpu: "Test CPU", cores: 2, kernel: "6.1.0", governor: "performance", noise: { cv: 0.01 } }
  commits.forEach((hash, i) =>
    seed.run({
      id: `run-${i}`,
      hash,
      endedAt: 1_700_001_000_000 + i * 1000,
      fingerprint: i === 29 ? { ...fingerprint, governor: "powersave" } : fingerprint,
      measurements: {
        "sort/time": { value: 10 + (i >= 20 ? 3 : 0) + (i % 3) * 0.1, samples: [9.9, 10, 10.1].map((x) => x + (i >= 20 ? 3 : 0)), unit: "ms", direction: -1 },
        "sort/throughput": { value: 100 - i, lower: 98 - i, upper: 102 - i, unit: "ops/s", direction: 1 },
        [`only/${i % 2}`]: { value: 1 }
      },
      output: [[1, `running ${xss}`], [2, "a warning"]]
    })
  )
  seed.queue(commits[5]!, 3, "manual")
  seed.queue(evil, 0, "bisect")
  seed.worker("w-busy", { type: "working", id: "run-x", hash: commits[5], bench_method: "internal", start: "2023-11-14T22:13:20Z", last_output: [[1, "step 1"], [2, xss]] }, {
    fingerprint,
    info: xss,
    runId: "run-x",
    runHash: commits[5]
  })
  seed.worker("w-idle", { type: "idle" }, { fingerprint })
  seed.alert(1, commits[19]!, commits[20]!, "blamed", commits[20]!, [{ metric: "sort/time", before: 10, after: 13, p: 1e-5, regression: true }])
}, 60_000)
afterAll(async () => {
  await server?.close()
})

const noFollow = async (path: string) => {
  const response = await fetch(`${server.url}${path}`, { redirect: "manual" })
  return { status: response.status, location: response.headers.get("location") }
}

describe("redirects to the canonical URL", () => {
  it("sends a branch, a ref, a tag and a short hash to the commit's full hash", async () => {
    for (const rev of ["main", "refs/heads/main", head.slice(0, 12)]) {
      expect(await noFollow(`/bench/commit/${rev}/`), rev).toEqual({ status: 302, location: `/bench/commit/${head}/` })
    }
    expect((await fetch(`${server.url}/bench/commit/${head}/`)).status).toBe(200)
  })

  it("sends a compare of commits or branches to the runs' ids, and the compare form there too", async () => {
    expect(await noFollow(`/bench/compare/feature/main/`)).toEqual({ status: 302, location: `/bench/compare/run-20/run-29/` })
    expect(await noFollow(`/bench/compare?a=${commits[0]!.slice(0, 10)}&b=run-3`)).toEqual({ status: 302, location: `/bench/compare/run-0/run-3/` })
  })

  it("answers an unknown commit, run or compare with a 404 page that says what is missing", async () => {
    for (const path of ["/bench/commit/nope/", "/bench/run/nope/", "/bench/compare/main/nope/"]) {
      const response = await fetch(`${server.url}${path}`)
      expect(response.status, path).toBe(404)
      expect(response.headers.get("content-type")).toMatch(/^text\/html/)
      expect(await response.text()).toContain("nope")
    }
    expect((await fetch(`${server.url}/bench/compare?a=main`)).status).toBe(400)
  })
})

describe.skipIf(missing !== undefined)(`the pages in Chromium${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: (browserBinary as { executable: string }).executable, args: ["--no-sandbox"] })
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
  })

  /** Opens `path` and collects every console error, exception, failed request and 4xx/5xx answer. */
  const open = async (path: string) => {
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(`console: ${message.text()}`)
    })
    page.on("pageerror", (error) => errors.push(`exception: ${error.message}`))
    page.on("requestfailed", (request) => {
      // the live pages' event stream is cut when the page goes (a link followed, a reload): not a failure
      if (request.resourceType() === "eventsource" && request.failure()?.errorText === "net::ERR_ABORTED") return
      errors.push(`failed: ${request.url()} (${request.failure()?.errorText})`)
    })
    page.on("response", (response) => {
      if (response.status() >= 400) errors.push(`HTTP ${response.status()} ${response.url()}`)
    })
    const response = await page.goto(`${server.url}${path}`)
    expect(response?.status(), path).toBe(200)
    return { page, errors }
  }

  const noXss = async (page: Page) => {
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined()
    expect(await page.locator("img[src=x]").count()).toBe(0)
  }

  it("/: refs tracked or not, the alert, recent runs, links to the other pages", async () => {
    const { page, errors } = await open("/bench/")
    const text = await page.locator("main").innerText()
    expect(text).toContain("refs/heads/main")
    expect(text).toContain("refs/heads/feature")
    expect(text).toContain("tracked")
    expect(text).toContain("sort/time +30.00%")
    expect(await page.locator(`a[href="/bench/graph/"]`).count()).toBe(1)
    expect(await page.locator(`a[href="/bench/queue/"]`).count()).toBeGreaterThanOrEqual(1)
    // the compare form lands on the canonical compare
    await page.fill("input[name=a]", "feature")
    await page.fill("input[name=b]", "main")
    await page.click("form[action='/bench/compare'] button")
    await page.waitForURL(/\/bench\/compare\/run-20\/run-29\/$/)
    expect(errors).toEqual([])
  }, 30_000)

  it("/commit/<hash>/: the message as text, parents, children, refs, runs", async () => {
    const { page, errors } = await open(`/bench/commit/${evil}/`)
    const text = await page.locator("main").innerText()
    expect(text).toContain(`<script>window.__xss = 1</script>`)
    expect(text).toContain(`"quotes" & 'apostrophes'`)
    expect(text).toContain(commits[9]!.slice(0, 10))
    expect(text).toContain(commits[11]!.slice(0, 10))
    expect(text).toContain("run-10")
    expect(text).toContain("queued (bisect, priority 0)")
    await noXss(page)
    expect(await page.title()).toContain("<script>")
    expect(errors).toEqual([])
  }, 30_000)

  it("/run/<id>/: measurements, environment, output", async () => {
    const { page, errors } = await open(`/bench/run/run-10/`)
    const text = await page.locator("main").innerText()
    expect(text).toContain("sort/time")
    expect(text).toContain("sort/throughput")
    expect(text).toContain("Test CPU")
    expect(text).toContain("a warning")
    expect(text).toContain("running <script>")
    await noXss(page)
    expect(await page.locator("pre.output .stderr").count()).toBe(1)
    expect(errors).toEqual([])
  }, 30_000)

  it("/compare/<a>/<b>/: every metric with change, effect size, interval and verdict, and the environment's differing key", async () => {
    const { page, errors } = await open(`/bench/compare/run-18/run-29/`)
    const rows = await page.locator("#metrics tbody tr").allInnerTexts()
    // sort/time, sort/throughput, only/0 (run 18's), only/1 (run 29's)
    expect(rows).toHaveLength(4)
    const time = rows.find((r) => r.startsWith("sort/time"))!
    expect(time).toContain("regression")
    // 10.0 to 13.2
    expect(time).toContain("+32.00%")
    const environment = await page.locator("#environment").innerText()
    expect(environment).toContain("governor")
    expect(environment).toContain("powersave")
    expect(environment).not.toContain("noise")
    expect(rows.find((r) => r.startsWith("only/0"))).toContain("removed")
    expect(rows.find((r) => r.startsWith("only/1"))).toContain("added")
    expect(errors).toEqual([])
  }, 30_000)

  it("/queue/: workers with state and fingerprint, the unfinished run, queued commits, and actions that post JSON", async () => {
    const { page, errors } = await open(`/bench/queue/`)
    const text = await page.locator("main").innerText()
    expect(text).toContain("w-busy")
    expect(text).toContain("w-idle")
    expect(text).toContain("working on run run-x")
    expect(text).toContain("step 1")
    expect(text).toContain("Test CPU")
    expect(text).toContain("since 2023-11-14T22:13:20Z")
    const row = await page.locator("#queue tbody tr", { hasText: commits[5]!.slice(0, 10) }).innerText()
    expect(row).toContain("manual")
    expect(row).toContain("w-busy")
    await noXss(page)
    // the actions go through core's gate to the plugin's queue routes, and the page reloads
    await page.fill(`#priority-${commits[5]}`, "7")
    await Promise.all([page.waitForEvent("load"), page.click(`button[data-action=priority][data-hash="${commits[5]}"]`)])
    expect(server.db.prepare("SELECT priority FROM bench_queue WHERE hash = ?").get(commits[5])).toEqual({ priority: 7 })
    await Promise.all([page.waitForEvent("load"), page.click(`button[data-action=drop][data-hash="${evil}"]`)])
    expect(server.db.prepare("SELECT count(*) AS n FROM bench_queue WHERE hash = ?").get(evil)).toEqual({ n: 0 })
    expect(await page.locator(`button[data-action=drop][data-hash="${evil}"]`).count()).toBe(0)
    expect(errors).toEqual([])
  }, 30_000)

  it("/queue/ follows the daemon: a commit queued through the API shows on the open page without a reload", async () => {
    const { page, errors } = await open(`/bench/queue/`)
    const added = commits[12]!
    expect(await page.locator("#queue tbody tr", { hasText: added.slice(0, 10) }).count()).toBe(0)
    await page.evaluate("window.kept = 1")
    const answer = await fetch(`${server.url}/bench/api/queue`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hash: added, priority: 2 })
    })
    expect(answer.status).toBe(200)
    await page.locator("#queue tbody tr", { hasText: added.slice(0, 10) }).waitFor({ timeout: 10_000 })
    expect(await page.evaluate("window.kept")).toBe(1)
    expect(errors).toEqual([])
  }, 30_000)

  it("/graph/: draws the chosen metrics with uPlot from the server's downsampled data", async () => {
    const { page, errors } = await open(`/bench/graph/?metric=sort/time&metric=sort/throughput&points=40`)
    await page.waitForFunction(() => (globalThis as any).benchGraph?.drawnMs !== null && (globalThis as any).benchGraph?.drawnMs !== undefined, undefined, { timeout: 10_000 })
    expect(await page.locator("#plot canvas").count()).toBe(1)
    const state = await page.evaluate(() => (globalThis as any).benchGraph)
    // 40 points for two metrics: 20 each, of 30 commits each
    expect(state.points).toBeLessThanOrEqual(40)
    expect(state.points).toBeGreaterThan(30)
    expect(await page.locator("#graph-status").innerText()).toMatch(/\d+ point\(s\) drawn of 60 \(downsampled/)
    expect(await page.locator("input[value='sort/time']").isChecked()).toBe(true)
    expect(errors).toEqual([])
  }, 30_000)

  it("/graph/ with nothing chosen and with a range given by branch names", async () => {
    const empty = await open(`/bench/graph/`)
    expect(await empty.page.locator("#graph-status").innerText()).toContain("Choose")
    expect(empty.errors).toEqual([])
    const ranged = await open(`/bench/graph/?metric=sort/time&from=feature&to=main`)
    await ranged.page.waitForFunction(() => (globalThis as any).benchGraph?.drawnMs != null, undefined, { timeout: 10_000 })
    expect(await ranged.page.evaluate(() => (globalThis as any).benchGraph.points)).toBe(10)
    expect(ranged.errors).toEqual([])
  }, 30_000)
})
