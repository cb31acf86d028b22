/**
 * The watcher's view in the TUI (`Plugin.tui`): its endpoints, down ones first, with how
 * long each has been in its state and a sparkline of its latest checks' latencies.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { TuiView } from "@orch/core/Plugin"
import { sparkline } from "@orch/core/Sparkline"
import { Clock, Effect } from "effect"
import { listStates, newestDurationsOf } from "./sql.js"

const shown = 200
/** Checks in an endpoint's latency sparkline. */
export const latencyChecks = 16

/**
 * An endpoint's latencies, oldest first (`newestDurationsOf` gives them newest first), on its
 * own scale from 0 to its slowest success; a failed check is drawn `×` (its duration, a
 * timeout say, would flatten the others).
 */
export const latencyLine = (newestFirst: ReadonlyArray<{ readonly duration_ms: number; readonly success: number | boolean }>): string =>
  sparkline([...newestFirst].reverse().map((c) => (c.success ? Number(c.duration_ms) : undefined)), { missing: "×" })

/** `3d4h`, `2h5m`, `4m10s`, `12s`: the two largest units. */
export const duration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const [d, h, m] = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60]
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s % 60}s` : `${s}s`
}

const endpoints: TuiView = {
  name: "endpoints",
  title: "Endpoints",
  read: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const states = yield* listStates(sql)
    const down = states.filter((row) => row.state === "down")
    const shownRows = [...down, ...states.filter((row) => row.state !== "down")].slice(0, shown)
    const latencies = new Map<string, Array<{ duration_ms: number; success: number }>>()
    for (const result of yield* newestDurationsOf(sql, shownRows.map((row) => row.endpoint), latencyChecks)) {
      const list = latencies.get(result.endpoint) ?? []
      list.push(result)
      latencies.set(result.endpoint, list)
    }
    return {
      title: `watcher: ${states.length} endpoint(s) seen, ${down.length} down`,
      columns: ["ENDPOINT", "STATE", "FOR", "SINCE", "FAILURES IN A ROW", "CHECKED", `LATENCY (LAST ${latencyChecks})`],
      rows: shownRows.map((row) => [
        row.endpoint,
        row.state,
        row.changed_at === null ? "-" : duration(now - Number(row.changed_at)),
        row.changed_at === null ? "-" : new Date(Number(row.changed_at)).toISOString(),
        String(row.failures),
        `${duration(now - Number(row.checked_at))} ago`,
        latencyLine(latencies.get(row.endpoint) ?? [])
      ]),
      keys: shownRows.map((row) => ({ endpoint: row.endpoint })),
      actions: [{ key: "n", label: "check now", method: "POST", path: "/api/endpoints/{endpoint}/check", role: "operate" }]
    }
  })
}

export const views = (): ReadonlyArray<TuiView> => [endpoints]
