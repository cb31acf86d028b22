/**
 * The built daemon's pages: `GET /`, `/docs` with its viewer served by orch (no internet
 * needed), and the process's series on `/metrics`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, orchBin, startDaemon, tempDir } from "@orch/testing"

const bundle = path.join(path.dirname(orchBin), "..", "dist", "orch.mjs")

describe("the built daemon's pages", () => {
  let daemon: Daemon
  beforeAll(async () => {
    daemon = await startDaemon(orchBin, ["--data-dir", tempDir("orch-pages-"), "--plugins", "scheduler"])
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("GET / links the docs, the OpenAPI document, metrics, readiness and the scheduler's page", async () => {
    const response = await fetch(`${daemon.url}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^text\/html/)
    const page = await response.text()
    for (const href of ["docs", "openapi.json", "metrics", "readyz", "scheduler/"]) expect(page).toContain(`href="${href}"`)
  })

  it("/docs loads its viewer from orch, not from another site, and the CLI bundle does not hold it", async () => {
    const page = await (await fetch(`${daemon.url}/docs`)).text()
    expect(page).not.toMatch(/src="https?:/)
    const src = page.match(/<script type="module" src="([^"]+)"/)![1]!
    const viewer = await fetch(new URL(src, `${daemon.url}/docs`))
    expect(viewer.status).toBe(200)
    expect(viewer.headers.get("content-type")).toMatch(/^text\/javascript/)
    const script = await viewer.text()
    expect(script.length).toBeGreaterThan(100_000)
    expect(script).toContain("rapi-doc")
    expect(page).toContain(`spec-url="/openapi.json"`)
    // read from node_modules at run time, never inlined into the CLI
    expect(fs.readFileSync(bundle, "utf8")).not.toContain("RapiDoc 9")
    expect(fs.statSync(bundle).size).toBeLessThan(script.length * 20)
  })

  it("/metrics has the process's standard series and orch_build_info with the CLI's version", async () => {
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
    const version = JSON.parse(fs.readFileSync(path.join(path.dirname(orchBin), "..", "package.json"), "utf8")).version
    expect(metrics).toContain(`orch_build_info{version="${version}"} 1\n`)
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+$/m)
    expect(metrics).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m)
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds [\d.e-]+$/m)
  })
})
