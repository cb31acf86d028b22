/**
 * Core's pages and the process's series, through a real daemon (`Runtime.start`): a real
 * HTTP server on 127.0.0.1:0 and a real SQLite file in a temp folder, driven by fetch.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { tempDir, testDaemonEnv } from "@orch/testing"
import { Effect, Schema } from "effect"
import * as Config from "../src/Config.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"

const NoConfig = Schema.Struct({})

const start = (plugins: ReadonlyArray<Plugin.Plugin>) =>
  Effect.gen(function*() {
    const dataDir = tempDir("orch-pages-")
    const config = yield* Config.load(plugins, { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, yield* testDaemonEnv(dataDir))
    const { info } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "1.2.3-test" })
    return info.url
  })

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() }
  })

/** The value of the one series `name` (no labels, or exactly `labels`) in a scrape. */
const value = (scrape: string, series: string) => {
  const line = scrape.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const paged = Plugin.make({
  name: "paged",
  description: "a plugin with a page",
  config: NoConfig,
  http: () => ({ routes: HttpLayerRouter.add("GET", "/", HttpServerResponse.html("<p>paged</p>")) })
})

const quiet = Plugin.make({ name: "quiet", description: "a plugin without routes", config: NoConfig })

describe("/metrics", () => {
  it.scopedLive("adds the process's standard series, unprefixed, and orch_build_info", () =>
    Effect.gen(function*() {
      const url = yield* start([])
      const first = (yield* get(`${url}/metrics`)).text
      expect(first).toContain("# TYPE process_resident_memory_bytes gauge\n")
      expect(first).toContain("# TYPE process_cpu_seconds_total counter\n")
      expect(first).toContain("# TYPE nodejs_eventloop_lag_seconds gauge\n")
      expect(first).toContain("# TYPE orch_build_info gauge\n")
      expect(first).toContain(`orch_build_info{version="1.2.3-test"} 1\n`)
      expect(first).not.toMatch(/orch_process_|orch_nodejs_/)
      const rss = value(first, "process_resident_memory_bytes")!
      expect(rss).toBeGreaterThan(1024 * 1024)
      expect(Math.abs(rss - process.memoryUsage.rss())).toBeLessThan(256 * 1024 * 1024)
      const cpuBefore = value(first, "process_cpu_seconds_total")!
      expect(cpuBefore).toBeGreaterThan(0)
      // let the lag monitor tick once since the scrape reset it (its first tick is not a sample),
      // then hold the event loop (and burn CPU) for 200 ms: both series must show it
      yield* Effect.sleep("50 millis")
      const until = performance.now() + 200
      while (performance.now() < until) {
        // busy
      }
      // and let the monitor's timer record that stall before the scrape reads it (a CI run
      // scraped first and read the calm samples alone: 0.6 ms)
      yield* Effect.sleep("30 millis")
      const second = (yield* get(`${url}/metrics`)).text
      expect(value(second, "process_cpu_seconds_total")! - cpuBefore).toBeGreaterThanOrEqual(0.1)
      expect(value(second, "nodejs_eventloop_lag_seconds")).toBeGreaterThan(0.001)
      expect(value(second, "process_start_time_seconds")).toBeGreaterThan(1_600_000_000)
    }))
})

describe("GET /", () => {
  it.scopedLive("is a page linking core's pages and each plugin that has routes", () =>
    Effect.gen(function*() {
      const url = yield* start([paged, quiet])
      const page = yield* get(`${url}/`)
      expect(page.status).toBe(200)
      expect(page.type).toMatch(/^text\/html/)
      expect(page.text).toContain("orch 1.2.3-test")
      for (const href of ["docs", "openapi.json", "metrics", "readyz", "paged/"]) {
        expect(page.text).toContain(`href="${href}"`)
      }
      expect(page.text).not.toContain("quiet")
      // every link on it answers
      for (const href of [...page.text.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!)) {
        const status = href === "readyz" ? [200, 503] : [200]
        expect(status).toContain((yield* get(`${url}/${href}`)).status)
      }
    }))
})
