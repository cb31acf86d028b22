/**
 * The bench plugin's read-only JSON, mounted by core under `/bench/api/`, and the views the
 * pages render (`Pages.ts` reads through the same functions):
 *
 * - `GET /api/refs`: every ref, tracked or not, with its commit and newest run;
 * - `GET /api/alerts?limit=`: the newest alerts with the metrics each moved;
 * - `GET /api/commit/<rev>`: a commit (full or short hash, ref, branch or tag name) with its
 *   parents, children, refs, runs and queue entry;
 * - `GET /api/run/<id>`: a run with its measurements and output;
 * - `GET /api/compare/<a>/<b>`: two runs (each a run id, or a commit standing for its newest
 *   run) compared metric by metric (`pages/Compare.ts`);
 * - `GET /api/graph?metrics=a,b&from=&to=&points=`: each metric's history, a point per
 *   commit, downsampled by the server to at most `points` points (`pages/Downsample.ts`);
 *   with no metric, the metrics there are.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as SqlClient from "@effect/sql/SqlClient"
import { Data, Effect, Layer } from "effect"
import * as Compare from "./pages/Compare.js"
import * as Downsample from "./pages/Downsample.js"
import * as Resolve from "./pages/Resolve.js"
import * as PagesSql from "./sql/pages.js"

/** A request the read API cannot answer: its status and why, said to the caller. */
export class ReadError extends Data.TaggedError("ReadError")<{ readonly status: number; readonly message: string }> {}

const notFound = (message: string) => new ReadError({ status: 404, message })
const badRequest = (message: string) => new ReadError({ status: 400, message })

export const commitOf = (rev: string) =>
  Effect.flatMap(Resolve.resolveRev(rev), (resolved) =>
    resolved._tag === "Found"
      ? Effect.succeed(resolved.hash)
      : Effect.fail(
        resolved._tag === "Ambiguous"
          ? badRequest(`${JSON.stringify(rev)} is the prefix of several commits: give more of the hash`)
          : notFound(`no commit, ref or branch ${JSON.stringify(rev)}`)
      ))

export const runOf = (text: string) =>
  Effect.flatMap(Resolve.resolveRun(text), (resolved) =>
    resolved._tag === "Found" ? Effect.succeed(resolved.run) : Effect.fail(notFound(resolved.message)))

const parseJson = (text: string | null): unknown => {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export const refsView = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const refs = yield* PagesSql.listRefs(sql)
  return refs.map((ref) => ({
    name: ref.name,
    hash: ref.hash,
    tracked: ref.tracked === 1,
    updatedAt: ref.updated_at,
    subject: subjectOf(ref.message),
    committerDate: ref.committer_date,
    newestRun: ref.run_id
  }))
})

export const alertsView = (limit: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const alerts = yield* PagesSql.recentAlerts(sql, limit)
    const metrics = yield* PagesSql.metricsOfAlerts(sql, alerts.map((a) => a.id))
    return alerts.map((alert) => ({
      id: alert.id,
      goodHash: alert.good_hash,
      badHash: alert.bad_hash,
      blamedHash: alert.blamed_hash,
      state: alert.state,
      createdAt: alert.created_at,
      updatedAt: alert.updated_at,
      metrics: metrics.filter((m) => m.alert_id === alert.id).map((m) => ({
        metric: m.metric,
        beforeMean: m.before_mean,
        afterMean: m.after_mean,
        change: m.change,
        pValue: m.p_value,
        regression: m.regression === 1
      }))
    }))
  })

export const subjectOf = (message: string) => message.split("\n", 1)[0] ?? ""

const runView = (run: PagesSql.RunRow) => ({
  id: run.id,
  hash: run.hash,
  benchMethod: run.bench_method,
  worker: run.worker_name,
  workerInfo: run.worker_info,
  fingerprint: parseJson(run.fingerprint),
  startedAt: run.started_at,
  endedAt: run.ended_at,
  exitCode: run.exit_code,
  source: run.source
})

export const commitView = (hash: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [commit] = yield* PagesSql.getCommit(sql, hash)
    if (commit === undefined) return yield* Effect.fail(notFound(`no commit ${hash}`))
    const [parents, children, refs, runs, queue] = yield* Effect.all([
      PagesSql.parentsOf(sql, hash),
      PagesSql.childrenOf(sql, hash),
      PagesSql.refsAt(sql, hash),
      PagesSql.runsOfCommit(sql, hash),
      PagesSql.queueEntry(sql, hash)
    ])
    return {
      hash: commit.hash,
      author: commit.author,
      authorDate: commit.author_date,
      committer: commit.committer,
      committerDate: commit.committer_date,
      message: commit.message,
      reachable: (["from no ref", "from an untracked ref", "from a tracked ref"] as const)[commit.reachable] ?? "unknown",
      parents: parents.map((p) => ({ hash: p.hash, subject: subjectOf(p.message) })),
      children: children.map((c) => ({ hash: c.hash, subject: subjectOf(c.message) })),
      refs: refs.map((r) => ({ name: r.name, tracked: r.tracked === 1 })),
      runs: runs.map(runView),
      queue: queue[0] === undefined ? null : { priority: queue[0].priority, reason: queue[0].reason, queuedAt: queue[0].queued_at }
    }
  })

export const runDetails = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [run] = yield* PagesSql.getRun(sql, id)
    if (run === undefined) return yield* Effect.fail(notFound(`no run ${JSON.stringify(id)}`))
    const [[commit], measurements, output] = yield* Effect.all([
      PagesSql.getCommit(sql, run.hash),
      PagesSql.measurementsOfRun(sql, id),
      PagesSql.outputOfRun(sql, id)
    ])
    return {
      ...runView(run),
      subject: commit === undefined ? "" : subjectOf(commit.message),
      measurements: measurements.map((m) => ({
        metric: m.metric,
        value: m.value,
        lowerValue: m.lower_value,
        upperValue: m.upper_value,
        samples: parseJson(m.samples),
        unit: m.unit,
        direction: m.direction
      })),
      output: output.map((o) => ({ line: o.line, source: o.source === 2 ? "stderr" : "stdout", text: o.text }))
    }
  })

/** Two runs compared; `a` and `b` are already resolved runs. */
export const comparison = (a: PagesSql.RunRow, b: PagesSql.RunRow) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [ma, mb] = yield* Effect.all([PagesSql.measurementsOfRun(sql, a.id), PagesSql.measurementsOfRun(sql, b.id)])
    return Compare.compare(a, b, ma, mb)
  })

export interface GraphQuery {
  readonly metrics: ReadonlyArray<string>
  /** Committer dates bounding the range, inclusive (epoch ms). */
  readonly since: number
  readonly until: number
  readonly points: number
}

export const defaultPoints = 1000
export const maxPoints = 20_000

/** The graph's query from `metrics=a,b` (or repeated `metric=`), `from`/`to` (revs) or `since`/`until` (epoch ms), `points`. */
export const graphQuery = (params: URLSearchParams) =>
  Effect.gen(function*() {
    const metrics = [
      ...params.getAll("metric"),
      ...params.getAll("metrics").flatMap((list) => list.split(","))
    ].map((m) => m.trim()).filter((m) => m !== "")
    const pointsText = params.get("points")
    const points = pointsText === null || pointsText === "" ? defaultPoints : Number(pointsText)
    if (!Number.isInteger(points) || points < 2 || points > maxPoints) {
      return yield* Effect.fail(badRequest(`points must be a whole number from 2 to ${maxPoints}, not ${JSON.stringify(pointsText)}`))
    }
    const bound = (dateName: string, revName: string, fallback: number) =>
      Effect.gen(function*() {
        const rev = params.get(revName)
        const date = params.get(dateName)
        if (rev !== null && rev !== "") {
          const hash = yield* commitOf(rev)
          const [commit] = yield* PagesSql.getCommit(yield* SqlClient.SqlClient, hash)
          return commit!.committer_date
        }
        if (date !== null && date !== "") {
          const ms = Number(date)
          if (!Number.isFinite(ms)) return yield* Effect.fail(badRequest(`${dateName} must be epoch milliseconds, not ${JSON.stringify(date)}`))
          return ms
        }
        return fallback
      })
    const since = yield* bound("since", "from", -Number.MAX_SAFE_INTEGER)
    const until = yield* bound("until", "to", Number.MAX_SAFE_INTEGER)
    return { metrics: [...new Set(metrics)], since, until, points } satisfies GraphQuery
  })

/** A point per commit, the mean of its runs' values (its rows are adjacent). */
const meanPerCommit = (rows: ReadonlyArray<PagesSql.SeriesRow>): Downsample.Series => {
  const x: Array<number> = []
  const y: Array<number> = []
  const hash: Array<string> = []
  for (let i = 0; i < rows.length;) {
    const row = rows[i]!
    let sum = 0
    let n = 0
    for (; i < rows.length && rows[i]!.hash === row.hash; i++, n++) sum += rows[i]!.value
    x.push(Number(row.committer_date))
    y.push(sum / n)
    hash.push(row.hash)
  }
  return { x, y, hash }
}

export const graphData = (query: GraphQuery) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const known = new Map((yield* PagesSql.listMetrics(sql)).map((m) => [m.name, m]))
    const unknown = query.metrics.filter((m) => !known.has(m))
    if (unknown.length > 0) return yield* Effect.fail(notFound(`no metric ${unknown.map((m) => JSON.stringify(m)).join(", ")}`))
    // each metric gets an equal share of the points the caller can draw
    const perMetric = Math.max(2, Math.floor(query.points / Math.max(1, query.metrics.length)))
    const metrics = yield* Effect.forEach(query.metrics, (name) =>
      Effect.map(PagesSql.seriesRows(sql, name, query.since, query.until), (rows) => {
        const whole = meanPerCommit(rows)
        const drawn = Downsample.minMaxBuckets(whole, perMetric)
        const metric = known.get(name)!
        return { name, unit: metric.unit, direction: metric.direction, total: whole.x.length, ...drawn }
      }))
    return {
      since: query.since === -Number.MAX_SAFE_INTEGER ? null : query.since,
      until: query.until === Number.MAX_SAFE_INTEGER ? null : query.until,
      points: query.points,
      downsampling: "min-max per bucket",
      metrics,
      // asked for none: what there is to ask for
      ...(query.metrics.length === 0 ? { available: [...known.values()].map((m) => ({ name: m.name, unit: m.unit, direction: m.direction })) } : {})
    }
  })

const searchParams = Effect.map(HttpServerRequest.HttpServerRequest, (request) => new URL(request.url, "http://localhost").searchParams)

export const param = (name: string) => Effect.map(HttpRouter.RouteContext, (context) => context.params[name] ?? "")

/** The route's answer, or its `ReadError` as JSON, or a 500 that says what failed. */
export const json = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  effect.pipe(
    Effect.map((body) => HttpServerResponse.unsafeJson(body)),
    Effect.catchAll((error) =>
      Effect.succeed(
        error instanceof ReadError
          ? HttpServerResponse.unsafeJson({ error: error.message }, { status: error.status })
          : HttpServerResponse.unsafeJson({ error: `the bench data cannot be read: ${String(error)}` }, { status: 500 })
      )
    )
  )

const limitOf = (params: URLSearchParams, fallback: number) => {
  const text = params.get("limit")
  if (text === null) return Effect.succeed(fallback)
  const n = Number(text)
  return Number.isInteger(n) && n >= 1 && n <= 1000
    ? Effect.succeed(n)
    : Effect.fail(badRequest(`limit must be a whole number from 1 to 1000, not ${JSON.stringify(text)}`))
}

export const readApiRoutes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/api/refs", json(refsView)),
  HttpLayerRouter.add("GET", "/api/alerts", json(Effect.flatMap(searchParams, (params) => Effect.flatMap(limitOf(params, 50), alertsView)))),
  HttpLayerRouter.add("GET", "/api/commit/*", json(Effect.flatMap(param("*"), (rev) => Effect.flatMap(commitOf(rev.replace(/\/$/, "")), commitView)))),
  HttpLayerRouter.add("GET", "/api/run/:id", json(Effect.flatMap(param("id"), runDetails))),
  HttpLayerRouter.add("GET", "/api/compare/:a/:b", json(Effect.gen(function*() {
    const a = yield* runOf(yield* param("a"))
    const b = yield* runOf(yield* param("b"))
    return yield* comparison(a, b)
  }))),
  HttpLayerRouter.add("GET", "/api/graph", json(Effect.flatMap(Effect.flatMap(searchParams, graphQuery), graphData)))
)
