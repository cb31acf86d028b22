/** The bench's views in the TUI (`Plugin.tui`): its queue, and its recent alerts. */
import * as SqlClient from "@effect/sql/SqlClient"
import type { TuiPanel } from "@orch/core/Plugin"
import { Clock, Effect } from "effect"
import { allAlerts } from "./sql/analysis.js"
import type { BenchConfig } from "./BenchConfig.js"
import { listQueue } from "./sql/index.js"

const shown = 200
const recentAlerts = 50
const short = (hash: string | null) => (hash === null ? "-" : hash.slice(0, 10))
const time = (ms: number) => new Date(Number(ms)).toISOString().slice(0, 19).replace("T", " ")

export const views = (config: typeof BenchConfig.Type) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const [queue, alerts] = yield* Effect.all([
      listQueue(sql, now - config.workerTimeoutSeconds * 1000),
      allAlerts(sql)
    ])
    const queueView: TuiPanel = {
      name: "queue",
      title: `bench: ${queue.length} commit(s) queued`,
      columns: ["COMMIT", "PRIORITY", "REASON", "QUEUED", "WORKER", "MESSAGE"],
      rows: queue.slice(0, shown).map((row) => [
        short(row.hash), String(row.priority), row.reason, time(row.queued_at), row.worker ?? "-", row.message.split("\n")[0] ?? ""
      ])
    }
    const alertsView: TuiPanel = {
      name: "alerts",
      title: `bench: ${alerts.filter((a) => a.state !== "dismissed").length} open alert(s)`,
      columns: ["ALERT", "STATE", "GOOD", "BAD", "BLAMED", "UPDATED"],
      rows: alerts.slice(-recentAlerts).reverse().map((alert) => [
        String(alert.id), alert.state, short(alert.good_hash), short(alert.bad_hash), short(alert.blamed_hash), time(alert.updated_at)
      ])
    }
    return [queueView, alertsView]
  })
