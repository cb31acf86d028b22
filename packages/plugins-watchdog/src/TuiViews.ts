/**
 * The watchdog's views in the TUI (`Plugin.tui`): its jobs by location and state, and its
 * instances with their last decision; on an instance, start or stop it through the
 * watchdog's own routes (`POST /instances/{name}/start|stop`, operate role).
 */
import type { TuiView } from "@orch/core/Plugin"
import { Effect } from "effect"
import * as Watchdog from "./Watchdog.js"

const states = ["AWAITING", "SUBMITTED", "FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED"]

const locations: TuiView = {
  name: "locations",
  title: "WPT jobs by location",
  read: Effect.map(Watchdog.jobsByLocation, (rows) => ({
    title: "WPT jobs by location",
    columns: ["LOCATION", ...states],
    rows: rows.map((l) => [l.location, ...states.map((state) => String(l.counts[state] ?? 0))])
  }))
}

const instances: TuiView = {
  name: "instances",
  title: "Instances",
  read: Effect.map(Watchdog.instances, (rows) => ({
    title: `Instances (${rows.filter((i) => i.state === "RUNNING").length} running of ${rows.length})`,
    columns: ["NAME", "ZONE", "STATE", "SINCE", "LAST DECISION"],
    rows: rows.map((i) => [i.name, i.zone, i.state, new Date(i.since).toISOString().slice(0, 19), i.lastDecision ?? "-"]),
    keys: rows.map((i) => ({ name: i.name })),
    actions: [
      { key: "s", label: "start the instance", method: "POST", path: "/instances/{name}/start", role: "operate" },
      { key: "t", label: "stop the instance", method: "POST", path: "/instances/{name}/stop", role: "operate" }
    ]
  }))
}

export const views = (): ReadonlyArray<TuiView> => [locations, instances]
