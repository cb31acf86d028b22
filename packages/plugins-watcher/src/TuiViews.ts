/** The watcher's view in the TUI (`Plugin.tui`): its endpoints, down ones first, with how long each has been in its state. */
import * as SqlClient from "@effect/sql/SqlClient"
import type { TuiView } from "@orch/core/Plugin"
import { Clock, Effect } from "effect"
import { listStates } from "./sql.js"

const shown = 200

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
    return {
      title: `watcher: ${states.length} endpoint(s) seen, ${down.length} down`,
      columns: ["ENDPOINT", "STATE", "FOR", "SINCE", "FAILURES IN A ROW", "CHECKED"],
      rows: shownRows.map((row) => [
        row.endpoint,
        row.state,
        row.changed_at === null ? "-" : duration(now - Number(row.changed_at)),
        row.changed_at === null ? "-" : new Date(Number(row.changed_at)).toISOString(),
        String(row.failures),
        `${duration(now - Number(row.checked_at))} ago`
      ]),
      keys: shownRows.map((row) => ({ endpoint: row.endpoint })),
      actions: [{ key: "n", label: "check now", method: "POST", path: "/api/endpoints/{endpoint}/check", role: "operate" }]
    }
  })
}

export const views = (): ReadonlyArray<TuiView> => [endpoints]
