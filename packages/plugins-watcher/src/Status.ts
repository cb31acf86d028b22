/**
 * What `GET /watcher/api/endpoints` answers and the status page shows: the endpoints,
 * failing ones first, a page at a time (filtered by state, file or text), each with its
 * state, newest result, next run and uptime over 24 hours and 7 days, its recent failures
 * and response times; counts of every endpoint by state; the endpoint files with their problems. States and results come
 * from the database (shared by every process), the endpoints from this process's read
 * of the files.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Either, ParseResult, Schema } from "effect"
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
  /** Its endpoints down, and failing (their newest checks failed, not yet down). */
  readonly down: number
  readonly failing: number
  readonly problems: ReadonlyArray<string>
}

/** How an endpoint ranks on the page: down first, then failing, unknown, up. */
export type Standing = "down" | "failing" | "unknown" | "up"
const standings: ReadonlyArray<Standing> = ["down", "failing", "unknown", "up"]

/** Which endpoints, and which page of them (`GET /watcher/?state=down&file=web.yml&q=api&offset=100`). */
export const Query = Schema.Struct({
  state: Schema.optional(Schema.Literal(...standings)),
  file: Schema.optional(Schema.String),
  /** Part of the key or the address, any case. */
  q: Schema.optional(Schema.String),
  offset: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()), { default: () => 0 }),
  limit: Schema.optionalWith(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000)), { default: () => 100 })
})
export type Query = typeof Query.Type

/** The query of a request's search parameters; an unknown or bad one says which and why. */
export const queryOf = (params: Readonly<Record<string, string | ReadonlyArray<string>>>): Either.Either<Query, string> => {
  const unknown = Object.keys(params).filter((key) => !(key in Query.fields))
  if (unknown.length > 0) return Either.left(`unknown query parameter ${unknown.join(", ")} (known: ${Object.keys(Query.fields).join(", ")})`)
  const single = Object.fromEntries(Object.entries(params).map(([key, value]) => [key, typeof value === "string" ? value : value[0]]))
  return Schema.decodeUnknownEither(Query)(single).pipe(
    Either.mapLeft((error) => ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; "))
  )
}

export interface Overview {
  readonly directory: string
  readonly missing: boolean
  readonly files: ReadonlyArray<FileStatus>
  /** Every endpoint of the files, by standing. */
  readonly counts: Readonly<Record<Standing, number>>
  readonly query: Query
  /** Endpoints matching the query; `endpoints` is the page of them from `query.offset`. */
  readonly total: number
  /** Down first, then failing, unknown and up; in file order within each. */
  readonly endpoints: ReadonlyArray<EndpointStatus>
}

const day = 86_400_000
const failuresShown = 5
const historyShown = 40

const ratio = (row: { checks: number; successes: number } | undefined) =>
  row === undefined || Number(row.checks) === 0 ? null : Number(row.successes) / Number(row.checks)

/**
 * The overview of the endpoints `query` picks. Every endpoint's state is read (20,000 small
 * rows) to rank and count them; results, uptime and failures only for the page's endpoints,
 * each through its (endpoint, id) index, so a page costs the same with 1 or 10 million results.
 */
export const overview = (watcher: WatcherService, query: Query = Schema.decodeSync(Query)({})) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const load = yield* watcher.load
    const stateOf = new Map((yield* Sql.listStates(sql)).map((row) => [row.endpoint, row]))
    const standingOf = (key: string): Standing => {
      const state = stateOf.get(key)
      return state === undefined ? "unknown" : state.state === "down" ? "down" : Number(state.failures) > 0 ? "failing" : state.state
    }
    const counts = { down: 0, failing: 0, unknown: 0, up: 0 }
    const ranked: Array<Array<Endpoint.Endpoint>> = standings.map(() => [])
    const files = load.files.map((file): FileStatus => {
      let down = 0
      let failing = 0
      for (const endpoint of file.endpoints) {
        const standing = standingOf(endpoint.key)
        counts[standing]++
        if (standing === "down") down++
        if (standing === "failing") failing++
        if (!matches(endpoint, standing, query)) continue
        ranked[standings.indexOf(standing)]!.push(endpoint)
      }
      return { file: file.file, endpoints: file.endpoints.length, down, failing, problems: file.problems.map(String) }
    })
    const matching = ranked.flat()
    const page = matching.slice(query.offset, query.offset + query.limit)
    const keys = page.map((endpoint) => endpoint.key)
    const next = yield* watcher.timetable.nextRuns
    const [day1, day7, newest, failed] = yield* Effect.all([
      Sql.uptimeOf(sql, keys, now - day),
      Sql.uptimeOf(sql, keys, now - 7 * day),
      Sql.newestResultsOf(sql, keys, historyShown),
      Sql.newestFailuresOf(sql, keys, failuresShown)
    ])
    const up1 = new Map(day1.map((row) => [row.endpoint, row]))
    const up7 = new Map(day7.map((row) => [row.endpoint, row]))
    const byEndpoint = <R extends { readonly endpoint: string }>(rows: ReadonlyArray<R>) => {
      const map = new Map<string, Array<R>>()
      for (const row of rows) {
        const list = map.get(row.endpoint)
        if (list === undefined) map.set(row.endpoint, [row])
        else list.push(row)
      }
      return map
    }
    const recentOf = byEndpoint(newest)
    const failuresOf = byEndpoint(failed)
    const endpoints = page.map((endpoint): EndpointStatus => {
      const state = stateOf.get(endpoint.key)
      const recent = recentOf.get(endpoint.key) ?? []
      const failures = failuresOf.get(endpoint.key) ?? []
      const last = recent[0]
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
        recentFailures: failures.map((row) => ({ at: Number(row.started_at), reasons: JSON.parse(row.reasons) })),
        history: recent.map((row) => ({ at: Number(row.started_at), ms: Number(row.duration_ms), success: Number(row.success) === 1 })).reverse()
      }
    })
    return {
      directory: load.directory,
      missing: load.missing,
      files,
      counts,
      query,
      total: matching.length,
      endpoints
    } satisfies Overview
  })

const matches = (endpoint: Endpoint.Endpoint, standing: Standing, query: Query) => {
  if (query.state !== undefined && standing !== query.state) return false
  if (query.file !== undefined && endpoint.file !== query.file) return false
  if (query.q !== undefined && query.q !== "") {
    const q = query.q.toLowerCase()
    return endpoint.key.toLowerCase().includes(q) || Endpoint.address(endpoint).toLowerCase().includes(q)
  }
  return true
}
