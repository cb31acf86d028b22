/** The watcher's routes, mounted by core under `/watcher/`: the status page and the JSON API. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
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
  HttpLayerRouter.add("GET", "/api/jobsets", Effect.gen(function*() {
    return HttpServerResponse.unsafeJson(yield* jobsetsOverview(yield* Watcher))
  }).pipe(Effect.catchAll(failed)))
)
