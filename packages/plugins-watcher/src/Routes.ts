/** The watcher's routes, mounted by core under `/watcher/`: the status page and the JSON API. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Effect, Either, Layer } from "effect"
import { jobsetsOverview } from "./JobsetsStatus.js"
import * as Status from "./Status.js"
import * as StatusPage from "./StatusPage.js"
import { Watcher } from "./Watcher.js"

const failed = (error: unknown) =>
  Effect.succeed(HttpServerResponse.unsafeJson({ error: `the watcher's status cannot be read: ${String(error)}` }, { status: 500 }))

export const routes = Layer.mergeAll(
  // the router ignores a trailing slash: this is also `/watcher`
  HttpLayerRouter.add("GET", "/", Effect.gen(function*() {
    const query = Status.queryOf(yield* HttpServerRequest.ParsedSearchParams)
    if (Either.isLeft(query)) return HttpServerResponse.text(StatusPage.badQuery(query.left), { status: 400, contentType: "text/html; charset=utf-8" })
    const overview = yield* Status.overview(yield* Watcher, query.right)
    return HttpServerResponse.html(StatusPage.render(overview, yield* Clock.currentTimeMillis))
  }).pipe(Effect.catchAll(failed))),
  HttpLayerRouter.add("GET", "/api/endpoints", Effect.gen(function*() {
    const query = Status.queryOf(yield* HttpServerRequest.ParsedSearchParams)
    if (Either.isLeft(query)) return HttpServerResponse.unsafeJson({ error: query.left }, { status: 400 })
    return HttpServerResponse.unsafeJson(yield* Status.overview(yield* Watcher, query.right))
  }).pipe(Effect.catchAll(failed))),
  // a person's "check now" (the TUI's): recorded as a run due now; operate role, as every POST
  HttpLayerRouter.add("POST", "/api/endpoints/:key/check", Effect.gen(function*() {
    const key = (yield* HttpRouter.RouteContext).params.key ?? ""
    const outcome = yield* (yield* Watcher).checkOne(key)
    if (outcome === "unknown") return HttpServerResponse.unsafeJson({ error: `no endpoint ${JSON.stringify(key)}` }, { status: 404 })
    if (outcome === "elsewhere") {
      return HttpServerResponse.unsafeJson({ error: `endpoint ${JSON.stringify(key)} is checked by another worker: ask that daemon` }, { status: 409 })
    }
    return HttpServerResponse.unsafeJson({ endpoint: key, at: outcome.at, success: outcome.verdict.success, reasons: outcome.verdict.reasons })
  }).pipe(Effect.catchAll(failed))),
  HttpLayerRouter.add("GET", "/api/jobsets", Effect.gen(function*() {
    return HttpServerResponse.unsafeJson(yield* jobsetsOverview(yield* Watcher))
  }).pipe(Effect.catchAll(failed)))
)
