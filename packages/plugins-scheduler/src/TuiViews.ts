/**
 * The scheduler's view in the TUI (`Plugin.tui`): each test with its next scheduled run
 * (core's schedules) and its newest result (the stores); "run now" is Neubot's own
 * `/api/runner?test=…` (operate role).
 */
import type { TuiView } from "@orch/core/Plugin"
import { Schedules } from "@orch/core/Schedules"
import { Effect } from "effect"
import * as Scheduler from "./Scheduler.js"
import type { SchedulerConfig } from "./Settings.js"
import * as StatusPage from "./StatusPage.js"
import * as Stores from "./Stores.js"

const iso = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().slice(0, 19).replace("T", " "))

const tests = (config: typeof SchedulerConfig.Type): TuiView => ({
  name: "tests",
  title: "Tests",
  read: Effect.gen(function*() {
    const schedules = yield* (yield* Schedules).list(Scheduler.pluginName)
    const latest = yield* Stores.latestResults(Scheduler.storesDir(yield* Scheduler.dataDir))
    const results = new Map(StatusPage.tableRows(
      latest.map((row) => ({ test: row.test_name, startedAt: row.timestamp_msec, result: JSON.parse(row.json) }))
    ).map((row) => [row[0]!, row.slice(1)]))
    const names = [...new Set([...schedules.map((s) => s.name), ...results.keys()])].sort()
    const next = new Map(schedules.map((s) => [s.name, s.nextRunAt]))
    return {
      title: `scheduler: ${names.length} test(s) (descriptors in ${config.descriptors})`,
      columns: ["TEST", "NEXT RUN (UTC)", ...StatusPage.tableColumns.slice(1).map((c) => `LAST ${c.toUpperCase()}`)],
      rows: names.map((name) => [name, iso(next.get(name)), ...(results.get(name) ?? StatusPage.tableColumns.slice(1).map(() => "-"))]),
      keys: names.map((test) => ({ test })),
      actions: [{ key: "n", label: "run the test now", method: "POST", path: "/api/runner?test={test}", role: "operate" }]
    }
  })
})

export const views = (config: typeof SchedulerConfig.Type): ReadonlyArray<TuiView> => [tests(config)]
