/** The watchdog's JSON API (core mounts it under /watchdog/): create, list and cancel jobs; list instances. */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Conflict, IdPath, NotFound, strict } from "@orch/core/CoreApi"
import { Effect, Layer, Schema } from "effect"
import type { WatchdogConfig } from "./Config.js"
import * as Watchdog from "./Watchdog.js"
import { states, TestRequest } from "./WptJob.js"

export class WatchdogGroup extends HttpApiGroup.make("watchdog")
  .add(
    HttpApiEndpoint.post("createJobs", "/jobs")
      .setPayload(strict(Schema.Struct({
        jobs: Schema.Array(TestRequest).pipe(Schema.minItems(1), Schema.maxItems(10_000)).annotations({
          description: "Tests to queue: a location (zone, browser, agent) and a url or a script each"
        })
      })))
      .addSuccess(Schema.Struct({ ids: Schema.Array(Schema.Int) }), { status: 201 })
  )
  .add(
    HttpApiEndpoint.get("listJobs", "/jobs")
      .setUrlParams(Schema.Struct({
        state: Schema.optional(Schema.Literal(...states)),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))),
        beforeId: Schema.optional(Schema.NumberFromString.pipe(Schema.int()))
      }))
      .addSuccess(Schema.Array(Watchdog.JobView))
  )
  .add(
    HttpApiEndpoint.post("cancelJob", "/jobs/:id/cancel")
      .setPath(IdPath)
      .setPayload(strict(Schema.Struct({ reason: Schema.optional(Schema.String.pipe(Schema.maxLength(1000))) })))
      .addSuccess(Watchdog.JobView)
      .addError(NotFound)
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("listInstances", "/instances").addSuccess(Schema.Array(Watchdog.InstanceView)))
{}

export class WatchdogApi extends HttpApi.make("watchdog").add(WatchdogGroup) {}

const handlers = (config: WatchdogConfig) =>
  HttpApiBuilder.group(WatchdogApi, "watchdog", (h) =>
    h
      .handle("createJobs", ({ payload }) => Effect.map(Effect.orDie(Watchdog.create(payload.jobs)), (ids) => ({ ids })))
      .handle("listJobs", ({ urlParams }) => Effect.orDie(Watchdog.list(urlParams)))
      .handle("cancelJob", ({ path, payload }) =>
        Watchdog.cancel(config, path.id, payload.reason ?? "cancelled over HTTP").pipe(
          Effect.catchTags({
            JobNotFound: (e) => Effect.fail(new NotFound({ message: e.message })),
            IllegalTransition: (e) => Effect.fail(new Conflict({ message: e.message })),
            UnknownJobKind: (e) => Effect.fail(new Conflict({ message: e.message }))
          }),
          Effect.catchTag("SqlError", Effect.die)
        ))
      .handle("listInstances", () => Effect.orDie(Watchdog.instances)))

export const routes = (config: WatchdogConfig) => HttpLayerRouter.addHttpApi(WatchdogApi).pipe(Layer.provide(handlers(config)))
