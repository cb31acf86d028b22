/**
 * The bench plugin's figures (issue 14), each against its goal:
 *
 * - import_100k_s: importing a 100,000-commit history (`_import.ts`; goal < 30 s);
 * - graph_10k_points_ms: in headless Chromium, the graph page asking for one metric over
 *   10,000 commits with 10,000 points: from the start of its fetch of `/bench/api/graph` to
 *   uPlot's first draw hook (goal < 500 ms), the median of `--graph-loads` page loads;
 * - compare_500_metrics_ms: the compare page of two runs of 500 metrics with 10 samples each,
 *   over HTTP from request to the last byte (goal < 200 ms), the median of `--compare-requests`.
 *
 * A real daemon in this process over a SQLite file seeded with rows (`test/pagesServer.ts`).
 *
 *   npm run bench -- bench     (or: node --import tsx packages/plugins-bench/bench/bench.ts [--skip-import])
 *
 * Its last line:  bench: import_100k_s=<s> graph_10k_points_ms=<ms> compare_500_metrics_ms=<ms>
 */
import { findChromium } from "@orch/testing"
import { chromium } from "playwright-core"
import { parseArgs } from "node:util"
import { hashOf, startPagesServer } from "../test/pagesServer.js"
import { importSeconds } from "./_import.js"

const { values: args } = parseArgs({
  options: {
    "skip-import": { type: "boolean", default: false },
    "graph-loads": { type: "string", default: "7" },
    "compare-requests": { type: "string", default: "30" }
  }
})

const median = (xs: ReadonlyArray<number>) => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Deterministic noise, so every run of the benchmark draws the same data. */
const noise = (seed: number) => {
  let state = seed >>> 0 || 1
  return () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return ((state >>> 0) / 2 ** 32) - 0.5
  }
}

const graphMs = async (url: string): Promise<number> => {
  const browser = findChromium()
  if ("missing" in browser) throw new Error(`graph_10k_points_ms needs Chromium: ${browser.missing}`)
  const chrome = await chromium.launch({ executablePath: browser.executable, args: ["--no-sandbox"] })
  try {
    const page = await chrome.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text())
    })
    const times: Array<number> = []
    const fetched: Array<number> = []
    const loads = Number(args["graph-loads"])
    // the first load warms the server's and the browser's caches; it is not counted
    for (let i = 0; i <= loads; i++) {
      await page.goto(`${url}/bench/graph/?metric=${encodeURIComponent("sort_10k/time")}&points=10000`)
      await page.waitForFunction(() => (globalThis as any).benchGraph?.drawnMs != null, undefined, { timeout: 30_000 })
      const state = await page.evaluate(() => (globalThis as any).benchGraph as { drawnMs: number; fetchedMs: number; points: number })
      if (state.points !== 10_000) throw new Error(`the graph drew ${state.points} points, not 10,000`)
      if (i > 0) times.push(state.drawnMs), fetched.push(state.fetchedMs)
    }
    if (errors.length > 0) throw new Error(`the graph page had errors: ${errors.join("; ")}`)
    console.log(`graph: ${times.map((t) => t.toFixed(0)).join(" ")} ms (fetch start to uPlot's first draw, 10,000 points); ` +
      `of which fetched and parsed: ${fetched.map((t) => t.toFixed(0)).join(" ")} ms`)
    return median(times)
  } finally {
    await chrome.close()
  }
}

const compareMs = async (url: string, path: string): Promise<number> => {
  const times: Array<number> = []
  const requests = Number(args["compare-requests"])
  for (let i = 0; i < requests + 3; i++) {
    const started = performance.now()
    const response = await fetch(`${url}${path}`)
    const body = await response.text()
    const ms = performance.now() - started
    if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}: ${body.slice(0, 200)}`)
    if (i >= 3) times.push(ms)
  }
  return median(times)
}

const main = async () => {
  const server = await startPagesServer()
  try {
    // 10,000 commits, one metric measured on each
    const commits = 10_000
    const random = noise(42)
    server.seed.commits(Array.from({ length: commits }, (_, i) => ({
      hash: hashOf(i, "a"),
      date: 1_600_000_000_000 + i * 60_000,
      parents: i === 0 ? [] : [hashOf(i - 1, "a")]
    })))
    server.db.transaction(() => {
      for (let i = 0; i < commits; i++) {
        server.seed.run({
          id: `g${i}`,
          hash: hashOf(i, "a"),
          measurements: { "sort_10k/time": { value: 100 + (i > 6000 ? 5 : 0) + random() * 4, unit: "ms", direction: -1 } }
        })
      }
    })()
    // two runs of 500 metrics with 10 samples each
    const metric = (k: number, shift: number) => {
      const samples = Array.from({ length: 10 }, () => 50 + k % 17 + shift + random() * 2)
      return { value: samples.reduce((a, b) => a + b, 0) / samples.length, samples, unit: "ns", direction: k % 2 === 0 ? -1 : 1 }
    }
    const fingerprint = { cpu: "bench CPU", cores: 2, kernel: "6.1", governor: "performance" }
    server.seed.run({
      id: "before",
      hash: hashOf(commits - 2, "a"),
      fingerprint,
      measurements: Object.fromEntries(Array.from({ length: 500 }, (_, k) => [`suite_${k % 25}/bench_${k}`, metric(k, 0)]))
    })
    server.seed.run({
      id: "after",
      hash: hashOf(commits - 1, "a"),
      fingerprint,
      measurements: Object.fromEntries(Array.from({ length: 500 }, (_, k) => [`suite_${k % 25}/bench_${k}`, metric(k, k % 10 === 0 ? 3 : 0)]))
    })

    const compareApi = await compareMs(server.url, "/bench/api/compare/before/after")
    const comparePage = await compareMs(server.url, "/bench/compare/before/after/")
    console.log(`compare of 500 metrics: JSON ${compareApi.toFixed(1)} ms, page ${comparePage.toFixed(1)} ms (median over HTTP)`)
    const graph = await graphMs(server.url)
    const importS = args["skip-import"] ? Number.NaN : await importSeconds()
    console.log(
      `bench: import_100k_s=${args["skip-import"] ? "skipped" : importS.toFixed(2)} graph_10k_points_ms=${graph.toFixed(0)} ` +
        `compare_500_metrics_ms=${Math.max(compareApi, comparePage).toFixed(1)}`
    )
  } finally {
    await server.close()
  }
}

await main()
