/** The watcher's routes, mounted by core under `/watcher/`: the status page and the JSON API. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Effect, Layer } from "effect"
import { jobsetsOverview } from "./JobsetsStatus.js"
import * as Status from "./Status.js"
import * as StatusPage from "./StatusPage.js"
import { Watcher } from "./Watcher.js"

const failed = (error: unknown) =>
  Effect.succeed(HttpServerResponse.unsafeJson({ error: `the watcher's status cannot be read: ${String(error)}` }, { status: 500 }))

export const routes = Layer.mergeAll(
  // the router ignores a trailing slash: this is also `/watcher`
  HttpLayerRouter.add("GET", "/", Effect.gen(function*() {
    const overview = yield* Status.overview(yield* Watcher)
    return HttpServerResponse.html(StatusPage.render(overview, yield* Clock.currentTimeMillis))
  }).pipe(Effect.catchAll(failed))),
  HttpLayerRouter.add("GET", "/api/endpoints", Effect.gen(function*() {
    return HttpServerResponse.unsafeJson(yield* Status.overview(yield* Watcher))
  }).pipe(Effect.catchAll(failed))),
  HttpLayerRouter.add("GET", "/api/jobsets", Effect.gen(function*() {
    return HttpServerResponse.unsafeJson(yield* jobsetsOverview(yield* Watcher))
  }).pipe(Effect.catchAll(failed)))
)
