/**
 * The bench plugin's pages, mounted by core under `/bench/` with the read API (`ReadApi.ts`):
 *
 * - `/`: refs (tracked or not), recent alerts and runs, a compare form;
 * - `/graph/?metric=…&from=&to=&points=`: the interactive graph (uPlot);
 * - `/queue/`: workers with their state and fingerprint, unfinished runs, queued commits with
 *   actions to set their priority or drop them;
 * - `/commit/<hash>/`, `/run/<id>/`, `/compare/<run a>/<run b>/`.
 *
 * A short hash, ref, branch or tag name (and, for a compare, a commit standing for its newest
 * run) redirects to the canonical URL: the full hash, the run ids.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Layer } from "effect"
import * as Assets from "./pages/Assets.js"
import { base, errorPage } from "./pages/Html.js"
import * as Views from "./pages/Views.js"
import * as PagesSql from "./sql/pages.js"
import * as ReadApi from "./ReadApi.js"

const htmlResponse = (body: string, status = 200) => HttpServerResponse.text(body, { status, contentType: "text/html; charset=utf-8" })

const htmlPage = <R>(effect: Effect.Effect<string | HttpServerResponse.HttpServerResponse, unknown, R>) =>
  effect.pipe(
    Effect.map((body) => typeof body === "string" ? htmlResponse(body) : body),
    Effect.catchAll((error) =>
      Effect.succeed(
        error instanceof ReadApi.ReadError
          ? htmlResponse(errorPage(error.status === 404 ? "Not found" : "Bad request", error.message), error.status)
          : htmlResponse(errorPage("Error", `The bench data cannot be read: ${String(error)}`), 500)
      )
    )
  )

const redirect = (path: string) => HttpServerResponse.redirect(path, { status: 302 })

const searchParams = Effect.map(HttpServerRequest.HttpServerRequest, (request) => new URL(request.url, "http://localhost").searchParams)

const asset = (get: () => Assets.Asset) =>
  Effect.sync(() => {
    const { body, contentType } = get()
    const response = typeof body === "string"
      ? HttpServerResponse.text(body, { contentType })
      : HttpServerResponse.uint8Array(body, { contentType })
    return HttpServerResponse.setHeader(response, "cache-control", "public, max-age=3600")
  }).pipe(Effect.catchAllDefect((error) =>
    Effect.succeed(HttpServerResponse.text(`cannot read the asset: ${String(error)}`, { status: 500 }))
  ))

const indexRoute = htmlPage(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [refs, alerts, [queued], runs] = yield* Effect.all([
    ReadApi.refsView,
    ReadApi.alertsView(20),
    PagesSql.countQueue(sql),
    PagesSql.recentRuns(sql, 10)
  ])
  return Views.indexPage(
    refs,
    alerts,
    queued?.n ?? 0,
    runs.map((r) => ({ id: r.id, hash: r.hash, subject: ReadApi.subjectOf(r.message), endedAt: r.ended_at, worker: r.worker_name, exitCode: r.exit_code }))
  )
}))

const commitRoute = htmlPage(Effect.gen(function*() {
  const rev = (yield* ReadApi.param("*")).replace(/\/$/, "")
  const hash = yield* ReadApi.commitOf(rev)
  if (hash !== rev) return redirect(`${base}/commit/${hash}/`)
  return Views.commitPage(yield* ReadApi.commitView(hash))
}))

const runRoute = htmlPage(Effect.gen(function*() {
  const run = yield* ReadApi.runDetails(yield* ReadApi.param("id"))
  const [parent] = yield* PagesSql.parentsOf(yield* SqlClient.SqlClient, run.hash)
  return Views.runPage(run, parent?.hash)
}))

const compareUrl = (a: string, b: string) => `${base}/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}/`

const compareRoute = htmlPage(Effect.gen(function*() {
  const textA = yield* ReadApi.param("a")
  const textB = yield* ReadApi.param("b")
  const a = yield* ReadApi.runOf(textA)
  const b = yield* ReadApi.runOf(textB)
  if (a.id !== textA || b.id !== textB) return redirect(compareUrl(a.id, b.id))
  const sql = yield* SqlClient.SqlClient
  const [[commitA], [commitB]] = yield* Effect.all([PagesSql.getCommit(sql, a.hash), PagesSql.getCommit(sql, b.hash)])
  return Views.comparePage(yield* ReadApi.comparison(a, b), {
    a: ReadApi.subjectOf(commitA?.message ?? ""),
    b: ReadApi.subjectOf(commitB?.message ?? "")
  })
}))

// the compare form's target: `?a=&b=` to the canonical URL
const compareFormRoute = htmlPage(Effect.gen(function*() {
  const params = yield* searchParams
  const textA = params.get("a")?.trim() ?? ""
  const textB = params.get("b")?.trim() ?? ""
  if (textA === "" || textB === "") {
    return yield* Effect.fail(new ReadApi.ReadError({ status: 400, message: "A compare needs two runs, commits or branches: ?a=…&b=…" }))
  }
  const a = yield* ReadApi.runOf(textA)
  const b = yield* ReadApi.runOf(textB)
  return redirect(compareUrl(a.id, b.id))
}))

const workerStatus = (text: string): Views.WorkerView["status"] => {
  try {
    const parsed = JSON.parse(text) as unknown
    if (parsed !== null && typeof parsed === "object" && typeof (parsed as { type?: unknown }).type === "string") {
      return parsed as Views.WorkerView["status"]
    }
  } catch {
    // shown as it is below
  }
  return { type: text }
}

const queueLimit = 500

const queueRoute = htmlPage(Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const [workers, queue, [count]] = yield* Effect.all([
    PagesSql.listWorkers(sql),
    PagesSql.listQueue(sql, queueLimit),
    PagesSql.countQueue(sql)
  ])
  return Views.queuePage(
    workers.map((w) => ({
      name: w.name,
      info: w.info,
      fingerprint: w.fingerprint === null ? null : (() => {
        try {
          return JSON.parse(w.fingerprint) as unknown
        } catch {
          return w.fingerprint
        }
      })(),
      status: workerStatus(w.status),
      lastSeen: w.last_seen,
      firstSeen: w.first_seen
    })),
    queue.map((q) => ({
      hash: q.hash,
      priority: q.priority,
      reason: q.reason,
      queuedAt: q.queued_at,
      subject: ReadApi.subjectOf(q.message),
      worker: q.worker
    })),
    count?.n ?? 0,
    yield* Clock.currentTimeMillis
  )
}))

const graphRoute = htmlPage(Effect.gen(function*() {
  const params = yield* searchParams
  const sql = yield* SqlClient.SqlClient
  const [metrics, refs] = yield* Effect.all([PagesSql.listMetrics(sql), ReadApi.refsView])
  const points = Number(params.get("points") ?? ReadApi.defaultPoints)
  return Views.graphPage(metrics, refs.map((r) => r.name), params.getAll("metric"), {
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    points: Number.isInteger(points) && points >= 2 && points <= ReadApi.maxPoints ? points : ReadApi.defaultPoints
  })
}))

/** Every page, the pages' static files and the read API: what the plugin's `http` returns as `routes`. */
export const pageRoutes = Layer.mergeAll(
  // the router ignores a trailing slash: `/` is also `/bench`, `/graph/` also `/graph`
  HttpLayerRouter.add("GET", "/", indexRoute),
  HttpLayerRouter.add("GET", "/graph", graphRoute),
  HttpLayerRouter.add("GET", "/queue", queueRoute),
  HttpLayerRouter.add("GET", "/commit/*", commitRoute),
  HttpLayerRouter.add("GET", "/run/:id", runRoute),
  HttpLayerRouter.add("GET", "/compare", compareFormRoute),
  HttpLayerRouter.add("GET", "/compare/:a/:b", compareRoute),
  HttpLayerRouter.add("GET", "/static/uPlot.iife.min.js", asset(Assets.uplotScript)),
  HttpLayerRouter.add("GET", "/static/uPlot.min.css", asset(Assets.uplotStyle)),
  HttpLayerRouter.add("GET", "/static/graph.js", asset(() => ({ body: Assets.graphScript, contentType: "text/javascript; charset=utf-8" }))),
  HttpLayerRouter.add("GET", "/static/queue.js", asset(() => ({ body: Assets.queueScript, contentType: "text/javascript; charset=utf-8" }))),
  ReadApi.readApiRoutes
)
