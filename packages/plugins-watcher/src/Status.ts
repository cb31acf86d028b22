/**
 * What `GET /watcher/api/endpoints` answers and the status page shows: every endpoint
 * with its state, newest result, next run and uptime over 24 hours and 7 days, its
 * recent failures, and the endpoint files with their problems. States and results come
 * from the database (shared by every process), the endpoints from this process's read
 * of the files.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect } from "effect"
import * as Endpoint from "./Endpoint.js"
import * as Sql from "./sql.js"
import type { WatcherService } from "./Watcher.js"

export interface EndpointStatus {
  readonly key: string
  readonly file: string
  readonly address: string
  readonly schedule: string
  readonly state: "unknown" | "up" | "down"
  /** When it entered its state (epoch ms), if it has changed since the watcher first saw it. */
  readonly since: number | null
  readonly nextRunAt: number | null
  readonly uptime: { readonly "24h": number | null; readonly "7d": number | null }
  readonly last: {
    readonly at: number
    readonly success: boolean
    readonly status: number | null
    readonly responseTimeMs: number
    readonly lagMs: number
    readonly reasons: ReadonlyArray<string>
    readonly values: Record<string, unknown>
  } | null
  readonly recentFailures: ReadonlyArray<{ readonly at: number; readonly reasons: ReadonlyArray<string> }>
  /** The newest checks' response times, oldest first, for a chart. */
  readonly history: ReadonlyArray<{ readonly at: number; readonly ms: number; readonly success: boolean }>
}

export interface FileStatus {
  readonly file: string
  readonly endpoints: number
  readonly problems: ReadonlyArray<string>
}

export interface Overview {
  readonly directory: string
  readonly missing: boolean
  readonly files: ReadonlyArray<FileStatus>
  readonly endpoints: ReadonlyArray<EndpointStatus>
}

const day = 86_400_000
const failuresShown = 5
const historyShown = 40

const ratio = (row: { checks: number; successes: number } | undefined) =>
  row === undefined || Number(row.checks) === 0 ? null : Number(row.successes) / Number(row.checks)

export const overview = (watcher: WatcherService) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const load = yield* watcher.load
    const next = yield* watcher.timetable.nextRuns
    const [states, latest, day1, day7, failures, history] = yield* Effect.all([
      Sql.listStates(sql),
      Sql.latestResults(sql),
      Sql.uptimeSince(sql, now - day),
      Sql.uptimeSince(sql, now - 7 * day),
      Sql.newestFailures(sql, 1000),
      Sql.responseHistory(sql, historyShown)
    ])
    const historyOf = new Map<string, Array<{ at: number; ms: number; success: boolean }>>()
    for (const row of history) {
      const list = historyOf.get(row.endpoint) ?? []
      list.unshift({ at: Number(row.started_at), ms: Number(row.duration_ms), success: Number(row.success) === 1 })
      historyOf.set(row.endpoint, list)
    }
    const stateOf = new Map(states.map((row) => [row.endpoint, row]))
    const latestOf = new Map(latest.map((row) => [row.endpoint, row]))
    const up1 = new Map(day1.map((row) => [row.endpoint, row]))
    const up7 = new Map(day7.map((row) => [row.endpoint, row]))
    const failuresOf = new Map<string, Array<{ at: number; reasons: ReadonlyArray<string> }>>()
    for (const row of failures) {
      const list = failuresOf.get(row.endpoint) ?? []
      if (list.length < failuresShown) list.push({ at: Number(row.started_at), reasons: JSON.parse(row.reasons) })
      failuresOf.set(row.endpoint, list)
    }
    const endpoints = load.files.flatMap((file) => file.endpoints).map((endpoint): EndpointStatus => {
      const state = stateOf.get(endpoint.key)
      const last = latestOf.get(endpoint.key)
      return {
        key: endpoint.key,
        file: endpoint.file,
        address: Endpoint.address(endpoint),
        schedule: endpoint.cadence._tag === "Cron" ? endpoint.cadence.expression : `every ${endpoint.cadence.everyMs / 1000}s`,
        state: state?.state ?? "unknown",
        since: state?.changed_at === null || state?.changed_at === undefined ? null : Number(state.changed_at),
        nextRunAt: next.get(endpoint.key) ?? null,
        uptime: { "24h": ratio(up1.get(endpoint.key)), "7d": ratio(up7.get(endpoint.key)) },
        last: last === undefined ? null : {
          at: Number(last.started_at),
          success: Number(last.success) === 1,
          status: last.status === null ? null : Number(last.status),
          responseTimeMs: Number(last.duration_ms),
          lagMs: Number(last.lag_ms),
          reasons: JSON.parse(last.reasons),
          values: JSON.parse(last.extracted)
        },
        recentFailures: failuresOf.get(endpoint.key) ?? [],
        history: historyOf.get(endpoint.key) ?? []
      }
    })
    return {
      directory: load.directory,
      missing: load.missing,
      files: load.files.map((file) => ({ file: file.file, endpoints: file.endpoints.length, problems: file.problems.map(String) })),
      endpoints
    } satisfies Overview
  })
