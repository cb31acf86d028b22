/**
 * The watchdog's views in the TUI (`Plugin.tui`): each location with its agents and queue
 * as WPT reports them and orch's jobs there by state, and its instances with their last decision; on an instance, start or stop it through the
 * watchdog's own routes (`POST /instances/{name}/start|stop`, operate role).
 */
import type { TuiView } from "@orch/core/Plugin"
import { Effect, Either } from "effect"
import * as Watchdog from "./Watchdog.js"
import { WptClient } from "./Wpt.js"

const states = ["AWAITING", "SUBMITTED", "FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED"]

const locations: TuiView<WptClient> = {
  name: "locations",
  title: "WPT jobs by location",
  read: Effect.gen(function*() {
    // bounded: the view (and `/overview`, which shows it) must not wait on a slow WPT
    const asked = (yield* WptClient).locations.pipe(
      Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => ({ message: "no answer within 2 s" }) }),
      Effect.either
    )
    const [jobs, wpt] = yield* Effect.all([Watchdog.jobsByLocation, asked], { concurrency: 2 })
    const atWpt = new Map(Either.isRight(wpt) ? wpt.right.map((l) => [l.location, l]) : [])
    const names = [...new Set([...atWpt.keys(), ...jobs.map((l) => l.location)])].sort()
    const counts = new Map(jobs.map((l) => [l.location, l.counts]))
    // WPT's own figures, "?" while it cannot be asked, "-" for a location it does not list
    const wptFigures = (name: string) => {
      const l = atWpt.get(name)
      return Either.isLeft(wpt) ? ["?", "?", "?", "?"] : l === undefined ? ["not at WPT", "-", "-", "-"] : [l.status, `${l.idle}/${l.total}`, String(l.queued), String(l.testing)]
    }
    return {
      title: Either.isLeft(wpt) ? `WPT jobs by location (WPT unreachable: ${wpt.left.message})` : "WPT jobs by location",
      columns: ["LOCATION", "WPT", "AGENTS IDLE", "WPT QUEUE", "TESTING", ...states],
      rows: names.map((name) => [name, ...wptFigures(name), ...states.map((state) => String(counts.get(name)?.[state] ?? 0))])
    }
  })
}

const instances: TuiView<WptClient> = {
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

export const views = (): ReadonlyArray<TuiView<WptClient>> => [locations, instances]
