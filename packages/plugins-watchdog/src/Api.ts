/**
 * The watchdog's JSON API (core mounts it under /watchdog/): create, list, cancel and
 * retry jobs; list, start and stop instances; each location as WPT reports it with the jobs orch holds.
 * `orch watchdog …` is a client of it.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Conflict, IdPath, NotFound, strict } from "@orch/core/CoreApi"
import { Effect, Layer, Schema } from "effect"
import type { WatchdogConfig } from "./Config.js"
import * as InstanceActions from "./InstanceActions.js"
import * as Watchdog from "./Watchdog.js"
import { WptClient } from "./Wpt.js"
import { states, TestRequest } from "./WptJob.js"

/** The WPT server could not be asked, or refused (502: the daemon is fine, its upstream is not). */
export class WptUnavailable extends Schema.TaggedError<WptUnavailable>()(
  "WptUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

export const LocationView = Schema.Struct({
  location: Schema.String,
  status: Schema.String,
  browsers: Schema.Array(Schema.String),
  queued: Schema.Number,
  testing: Schema.Number,
  idle: Schema.Number,
  total: Schema.Number,
  listed: Schema.Boolean.annotations({
    description: "false for a location WPT does not list but orch has waiting or submitted jobs for (they will fail there); its counts are 0"
  }),
  jobs: Schema.Record({ key: Schema.String, value: Schema.Number }).annotations({
    description: "orch's jobs for the location, by state"
  })
}).annotations({ identifier: "WptLocation" })

/** `POST /instances/:name/start|stop` (operate role: core's default for a POST). */
const instanceEndpoint = <N extends string>(name: N, decision: "start" | "stop") =>
  HttpApiEndpoint.post(name, `/instances/:name/${decision}`)
    .setPath(Schema.Struct({ name: Schema.String }))
    .addSuccess(InstanceActions.InstanceOperation)
    .addError(NotFound)
    .addError(Conflict)
    .addError(InstanceActions.ProviderUnavailable)

const Reason = strict(Schema.Struct({ reason: Schema.optional(Schema.String.pipe(Schema.maxLength(1000))) }))

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
      .setPayload(Reason)
      .addSuccess(Watchdog.JobView)
      .addError(NotFound)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.post("retryJob", "/jobs/:id/retry")
      .setPath(IdPath)
      .setPayload(Reason)
      .addSuccess(Watchdog.JobView)
      .addError(NotFound)
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("listInstances", "/instances").addSuccess(Schema.Array(Watchdog.InstanceView)))
  .add(HttpApiEndpoint.get("listLocations", "/locations").addSuccess(Schema.Array(LocationView)).addError(WptUnavailable))
  .add(instanceEndpoint("startInstance", "start"))
  .add(instanceEndpoint("stopInstance", "stop"))
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
      .handle("retryJob", ({ path, payload }) =>
        Watchdog.retry(path.id, payload.reason ?? "retried over HTTP").pipe(
          Effect.catchTags({
            JobNotFound: (e) => Effect.fail(new NotFound({ message: e.message })),
            IllegalTransition: (e) => Effect.fail(new Conflict({ message: e.message })),
            UnknownJobKind: (e) => Effect.fail(new Conflict({ message: e.message }))
          }),
          Effect.catchTag("SqlError", Effect.die)
        ))
      .handle("listInstances", () => Effect.orDie(Watchdog.instances))
      .handle("startInstance", ({ path }) => InstanceActions.operate(path.name, "start"))
      .handle("stopInstance", ({ path }) => InstanceActions.operate(path.name, "stop"))
      .handle("listLocations", () =>
        Effect.gen(function*() {
          const wpt = yield* WptClient
          const locations = yield* wpt.locations.pipe(
            Effect.mapError((e) => new WptUnavailable({ message: `WPT ${e.endpoint}: ${e.message}` }))
          )
          const local = new Map((yield* Effect.orDie(Watchdog.jobsByLocation)).map((l) => [l.location, l.counts]))
          const listed = new Set(locations.map((l) => l.location))
          // orch's jobs at locations WPT does not list at all (not configured there: they will fail)
          const unlisted = [...local].filter(([location, counts]) =>
            !listed.has(location) && (counts.AWAITING ?? 0) + (counts.SUBMITTED ?? 0) > 0
          )
          return [
            ...locations.map((l) => ({ ...l, listed: true, jobs: local.get(l.location) ?? {} })),
            ...unlisted.map(([location, jobs]) => ({
              location,
              status: "NOT AT WPT",
              browsers: [],
              queued: 0,
              testing: 0,
              idle: 0,
              total: 0,
              listed: false,
              jobs
            }))
          ]
        })))

export const routes = (config: WatchdogConfig) => HttpLayerRouter.addHttpApi(WatchdogApi).pipe(Layer.provide(handlers(config)))
