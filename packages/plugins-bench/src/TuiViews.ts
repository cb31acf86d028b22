/**
 * The bench's views in the TUI (`Plugin.tui`): its queue (drop a commit), its recent runs
 * (queue a run's commit again) and its recent alerts. The actions are its own API's routes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { TuiView } from "@orch/core/Plugin"
import { Clock, Effect } from "effect"
import type { BenchConfig } from "./BenchConfig.js"
import { allAlerts } from "./sql/analysis.js"
import { listQueue, listRuns } from "./sql/index.js"

const shown = 200
const recentAlerts = 50
const short = (hash: string | null) => (hash === null ? "-" : hash.slice(0, 10))
const time = (ms: number) => new Date(Number(ms)).toISOString().slice(0, 19).replace("T", " ")

const queue = (config: typeof BenchConfig.Type): TuiView => ({
  name: "queue",
  title: "Queue",
  read: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const rows = (yield* listQueue(sql, now - config.workerTimeoutSeconds * 1000)).slice(0, shown)
    return {
      title: `bench: ${rows.length} commit(s) queued`,
      columns: ["COMMIT", "PRIORITY", "REASON", "QUEUED", "WORKER", "MESSAGE"],
      rows: rows.map((row) => [
        short(row.hash), String(row.priority), row.reason, time(row.queued_at), row.worker ?? "-", row.message.split("\n")[0] ?? ""
      ]),
      keys: rows.map((row) => ({ hash: row.hash })),
      actions: [{ key: "x", label: "drop from the queue", method: "DELETE", path: "/api/queue/{hash}", role: "operate" }]
    }
  })
})

const runs: TuiView = {
  name: "runs",
  title: "Recent runs",
  read: Effect.gen(function*() {
    const rows = yield* listRuns(yield* SqlClient.SqlClient, { limit: shown })
    return {
      title: `bench: the ${rows.length} newest run(s)`,
      columns: ["RUN", "COMMIT", "METHOD", "WORKER", "ENDED", "EXIT", "MEASUREMENTS"],
      rows: rows.map((row) => [
        String(row.id), short(row.hash), row.bench_method, row.worker_name ?? "-", time(Number(row.ended_at)), String(row.exit_code),
        String(row.measurements)
      ]),
      keys: rows.map((row) => ({ hash: row.hash })),
      actions: [{ key: "e", label: "queue its commit again", method: "POST", path: "/api/queue", body: { hash: "{hash}" }, role: "operate" }]
    }
  })
}

const alerts: TuiView = {
  name: "alerts",
  title: "Alerts",
  read: Effect.map(Effect.flatMap(SqlClient.SqlClient, allAlerts), (all) => ({
    title: `bench: ${all.filter((a) => a.state !== "dismissed").length} open alert(s)`,
    columns: ["ALERT", "STATE", "GOOD", "BAD", "BLAMED", "UPDATED"],
    rows: all.slice(-recentAlerts).reverse().map((alert) => [
      String(alert.id), alert.state, short(alert.good_hash), short(alert.bad_hash), short(alert.blamed_hash), time(alert.updated_at)
    ])
  }))
}

export const views = (config: typeof BenchConfig.Type): ReadonlyArray<TuiView> => [queue(config), runs, alerts]
