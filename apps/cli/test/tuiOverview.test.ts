/** The overview's queue at 80×24 and wider: counts, the rate jobs finish at and its sparkline, every line within the width. */
import { render } from "ink-testing-library"
import { createElement } from "react"
import { describe, expect, it } from "vitest"
import type { Overview as OverviewData } from "../src/tui/Api.js"
import { Overview, queueTable } from "../src/tui/Overview.js"

// 0, 3, … 27 three times: the newest minute (27) is the largest
const minutes = Array.from({ length: 30 }, (_, i) => (i % 10) * 3)
const overview: OverviewData = {
  status: "ready",
  loops: [{ name: "demo/worker", running: true, restarts: 0 } as OverviewData["loops"][number]],
  jobs: [
    { plugin: "watchdog", kind: "wpt-submit", state: "queued", count: 12 },
    { plugin: "watchdog", kind: "wpt-submit", state: "succeeded", count: 3400 }
  ],
  rates: [
    { plugin: "watchdog", kind: "wpt-submit", perMinute: 4.25, minutes },
    // its jobs all gone already (retention): still shown, by its rate
    { plugin: "scheduler", kind: "run", perMinute: 12.4, minutes: minutes.map(() => 1) }
  ],
  resources: [{ plugin: "lab", kind: "device", state: "ready", count: 5, leased: 2 }]
}

describe("overview", () => {
  it("shows a kind's rate and its sparkline on its first row, the newest minute on the right", () => {
    const table = queueTable(overview, 120)
    expect(table.columns).toEqual(["PLUGIN", "KIND", "STATE", "COUNT", "DONE/MIN", "LAST 30 MIN"])
    const spark = "▁▂▃▃▄▅▆▆▇█".repeat(3)
    expect(table.rows).toEqual([
      ["scheduler", "run", "-", "0", "12", "█".repeat(30)],
      ["watchdog", "wpt-submit", "queued", "12", "4.3", spark],
      ["watchdog", "wpt-submit", "succeeded", "3400", "", ""]
    ])
  })

  it("at 80 columns keeps the newest minutes that fit, and every line fits", () => {
    const table = queueTable(overview, 80)
    const spark = table.rows[1]![5]!
    expect(table.columns[5]).toBe(`LAST ${spark.length} MIN`)
    expect(spark.length).toBeGreaterThanOrEqual(5)
    expect(spark.length).toBeLessThan(30)
    expect(spark.endsWith("▆▆▇█")).toBe(true)
    const { lastFrame } = render(createElement(Overview, { overview, width: 80, height: 20 }))
    const lines = lastFrame()!.split("\n")
    expect(lines.every((line) => line.length <= 80)).toBe(true)
    expect(lines.join("\n")).toMatch(/watchdog\s+wpt-submit\s+queued\s+12\s+4\.3\s+[▁▂▃▄▅▆▇█]{5,}/)
  })

  it("leaves the sparkline out when fewer than 5 minutes would fit", () => {
    expect(queueTable(overview, 40).columns).toEqual(["PLUGIN", "KIND", "STATE", "COUNT", "DONE/MIN"])
  })
})
