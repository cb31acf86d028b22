/**
 * A lease's expiry counts down in the resources view, each second, from `expiresAt` on
 * the client's clock; no other view ticks. The app runs over a fake API (its answers
 * fixed, its clock a variable), so the only thing that redraws is the tick.
 */
import { render } from "ink-testing-library"
import { createElement } from "react"
import { describe, expect, it } from "vitest"
import type { Resource, TuiApi } from "../src/tui/Api.js"
import { App } from "../src/tui/App.js"
import { counted, jobsTable, resourcesTable, ticks } from "../src/tui/Content.js"

const start = Date.UTC(2026, 0, 1, 12, 0, 0)
const resources: ReadonlyArray<Resource> = [
  { plugin: "lab", kind: "device", name: "pixel-1", state: "ready", labels: {}, lease: { id: "l1", holder: "ci:7", token: 3, expiresAt: start + 12_000 } },
  { plugin: "lab", kind: "device", name: "pixel-2", state: "ready", labels: { rack: "r1" } }
]

const fakeApi = (): TuiApi & { loads: number } => {
  const api = {
    url: "http://fake",
    loads: 0,
    overview: () => Promise.resolve({ status: "ready", loops: [], jobs: [], resources: [], rates: [] }),
    health: () => Promise.resolve("ready"),
    jobs: () => Promise.resolve([]),
    job: () => Promise.reject(new Error("no jobs")),
    resources: () => {
      api.loads++
      return Promise.resolve(resources)
    },
    views: () => Promise.resolve([]),
    view: () => Promise.reject(new Error("no views")),
    perform: () => Promise.reject(new Error("no actions")),
    // the daemon never says anything changed: whatever redraws is the tick
    watch: () => () => undefined
  }
  return api
}

const waitUntil = async (what: string, frame: () => string, holds: (text: string) => boolean) => {
  for (let i = 0; i < 500; i++) {
    if (holds(frame())) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`never showed ${what}; the screen:\n${frame()}`)
}

describe("lease expiry countdown", () => {
  it("draws the countdown column as of the clock, and only tables with a time tick", () => {
    const table = resourcesTable(resources, "")
    expect(ticks(table)).toBe(true)
    const expires = (now: number) => {
      const shown = counted(table, now)
      return shown?._tag === "table" ? shown.rows.map((row) => row[5]) : []
    }
    expect(expires(start)).toEqual(["in 12s", "-"])
    expect(expires(start + 15_000)).toEqual(["3s ago", "-"])
    // the same resources loaded again are the same content: a reload alone does not redraw
    expect(JSON.stringify(resourcesTable(resources, ""))).toBe(JSON.stringify(table))
    expect(ticks(resourcesTable(resources.filter((r) => r.lease === undefined), ""))).toBe(false)
    expect(ticks(jobsTable([], "", start))).toBe(false)
    expect(ticks({ _tag: "overview", overview: { status: "ready", loops: [], jobs: [], resources: [], rates: [] } })).toBe(false)
  })

  it("counts down each second in the resources view without reading the daemon again", async () => {
    let clock = start
    const api = fakeApi()
    const screen = render(createElement(App, { api, view: "resources", now: () => clock }))
    try {
      const frame = () => screen.lastFrame() ?? ""
      await waitUntil("the lease's expiry", frame, (text) => /pixel-1\s+ready\s+ci:7\s+in 12s/.test(text))
      const loads = api.loads
      clock += 1000
      await waitUntil("a second less", frame, (text) => text.includes("in 11s"))
      clock += 5000
      await waitUntil("six seconds less", frame, (text) => text.includes("in 6s"))
      expect(api.loads).toBe(loads)
    } finally {
      screen.unmount()
    }
  })
})
