/**
 * Core's own JSON API: the job queue and the resources of every plugin, read and
 * steered over HTTP, and an overview of both with each plugin's panels. The CLI, the
 * TUI and remote tools all use it (see `DaemonClient`).
 * Declared with `HttpApi`, so bodies are validated and it appears in `/openapi.json`.
 * Roles (core's gate): GETs need `read`, cancel and retry `operate`.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Clock, Effect, Layer, Schema } from "effect"
import * as Auth from "./Auth.js"
import * as JobRates from "./JobRates.js"
import { type Job, JobQueue } from "./Jobs.js"
import type { TuiView } from "./Plugin.js"
import { Resources } from "./Resources.js"

export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/**
 * A payload's schema as the API takes it: fields it does not declare are refused (400
 * naming the field), as `additionalProperties: false` in `/openapi.json` says, rather
 * than dropped while the request is acted on.
 */
export const strict = <S extends Schema.Schema.Any>(schema: S): S =>
  schema.annotations({ parseOptions: { onExcessProperty: "error" } }) as S

/** A numeric id in a path: strictly decimal (`1e3`, `0x10`, `01` and ` 1` are not ids), positive, safe. */
export const DecimalId = Schema.compose(
  Schema.String.pipe(Schema.pattern(/^[1-9][0-9]{0,14}$/, { message: () => "must be a positive decimal integer" })),
  Schema.NumberFromString
).annotations({ identifier: "DecimalId" })

/** `/…/:id` with a `DecimalId`. */
export const IdPath = Schema.Struct({ id: DecimalId })

const Reason = strict(Schema.Struct({
  reason: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
    description: "Why; kept in the job's history"
  })
}))

export const JobView = Schema.Struct({
  id: Schema.Int,
  plugin: Schema.String,
  kind: Schema.String,
  state: Schema.String,
  payload: Schema.Unknown,
  result: Schema.optional(Schema.Unknown),
  lastError: Schema.optional(Schema.String),
  priority: Schema.Number,
  runAt: Schema.Number,
  attempts: Schema.Int,
  maxAttempts: Schema.Int,
  idempotencyKey: Schema.optional(Schema.String),
  leaseOwner: Schema.optional(Schema.String),
  token: Schema.optional(Schema.Number),
  leaseExpiresAt: Schema.optional(Schema.Number),
  createdAt: Schema.Number,
  updatedAt: Schema.Number
}).annotations({ identifier: "Job" })

export const JobHistoryView = Schema.Struct({
  at: Schema.Number,
  from: Schema.optional(Schema.String),
  to: Schema.String,
  reason: Schema.String,
  owner: Schema.optional(Schema.String),
  token: Schema.optional(Schema.Number)
}).annotations({ identifier: "JobHistoryEntry" })

export class JobsGroup extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.get("list", "/jobs")
      .setUrlParams(Schema.Struct({
        plugin: Schema.optional(Schema.String),
        kind: Schema.optional(Schema.String),
        state: Schema.optional(Schema.String),
        limit: Schema.optional(Schema.NumberFromString.pipe(Schema.int(), Schema.between(1, 1000))),
        beforeId: Schema.optional(Schema.NumberFromString.pipe(Schema.int()))
      }))
      .addSuccess(Schema.Array(JobView))
  )
  .add(
    HttpApiEndpoint.get("get", "/jobs/:id")
      .setPath(IdPath)
      .addSuccess(Schema.Struct({ job: JobView, history: Schema.Array(JobHistoryView) }))
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("cancel", "/jobs/:id/cancel")
      .setPath(IdPath)
      .setPayload(Reason)
      .addSuccess(JobView)
      .addError(NotFound)
      .addError(Conflict)
  )
  .add(
    HttpApiEndpoint.post("retry", "/jobs/:id/retry")
      .setPath(IdPath)
      .setPayload(Reason)
      .addSuccess(JobView)
      .addError(NotFound)
      .addError(Conflict)
  )
{}

export const ResourceView = Schema.Struct({
  plugin: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  state: Schema.String,
  labels: Schema.Record({ key: Schema.String, value: Schema.String }),
  data: Schema.optional(Schema.Unknown),
  lastSeenAt: Schema.optional(Schema.Number),
  lease: Schema.optional(Schema.Struct({
    id: Schema.String,
    holder: Schema.String,
    token: Schema.Number,
    expiresAt: Schema.Number
  }))
}).annotations({ identifier: "Resource" })

export class ResourcesGroup extends HttpApiGroup.make("resources")
  .add(
    HttpApiEndpoint.get("list", "/resources")
      .setUrlParams(Schema.Struct({
        plugin: Schema.optional(Schema.String),
        kind: Schema.optional(Schema.String),
        state: Schema.optional(Schema.String)
      }))
      .addSuccess(Schema.Array(ResourceView))
  )
{}

const Panel = Schema.Struct({
  title: Schema.String,
  columns: Schema.Array(Schema.String),
  rows: Schema.Array(Schema.Array(Schema.String))
}).annotations({ identifier: "Panel" })

export const OverviewView = Schema.Struct({
  jobs: Schema.Array(Schema.Struct({ plugin: Schema.String, kind: Schema.String, state: Schema.String, count: Schema.Int })),
  resources: Schema.Array(Schema.Struct({
    plugin: Schema.String,
    kind: Schema.String,
    state: Schema.String,
    count: Schema.Int,
    leased: Schema.Int
  })),
  rates: Schema.Array(Schema.Struct({
    plugin: Schema.String,
    kind: Schema.String,
    perMinute: Schema.Number.annotations({ description: "Jobs that entered a final state per minute, over about the last 5 minutes" }),
    minutes: Schema.Array(Schema.Int).annotations({
      description: "Jobs that entered a final state in each of the last 30 minutes, oldest first; the last is the current minute so far"
    })
  })),
  plugins: Schema.Array(Schema.Struct({ name: Schema.String, panels: Schema.Array(Panel) }))
}).annotations({ identifier: "Overview" })

export class OverviewGroup extends HttpApiGroup.make("overview")
  .add(
    HttpApiEndpoint.get("get", "/overview").addSuccess(OverviewView)
  )
{}

export class CoreApi extends HttpApi.make("core").add(JobsGroup).add(ResourcesGroup).add(OverviewGroup) {}

/** A running plugin's declared views (`Plugin.tui` over its config): the TUI's, and panels of `/overview`. */
export interface PluginViews {
  readonly name: string
  readonly views: ReadonlyArray<TuiView>
}

/** One view read as an overview panel; one that fails or takes over 10 s says so in its panel. */
const panelOf = (view: TuiView) =>
  view.read.pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "slow" }),
    Effect.map(({ title, columns, rows }) => ({ title, columns, rows })),
    Effect.catchAllCause(() => Effect.succeed({ title: `${view.title}: unavailable`, columns: [], rows: [] }))
  )

const notFound = (error: { readonly message: string }) => new NotFound({ message: error.message })
const conflict = (error: { readonly message: string }) => new Conflict({ message: error.message })

/** A person's cancel or retry: a missing job is a 404, a job in the wrong state a 409. */
const steer = <E extends { readonly _tag: string; readonly message: string }>(
  effect: Effect.Effect<Job, E, JobQueue>
) =>
  effect.pipe(
    Effect.catchIf(
      (error): error is E => ["JobNotFound", "IllegalTransition", "UnknownJobKind"].includes(error._tag),
      (error) => Effect.fail(error._tag === "JobNotFound" ? notFound(error) : conflict(error))
    ),
    Effect.orDie
  )

const JobsHandlers = HttpApiBuilder.group(CoreApi, "jobs", (handlers) =>
  handlers
    .handle("list", ({ urlParams }) => Effect.flatMap(JobQueue, (queue) => queue.list(urlParams)).pipe(Effect.orDie))
    .handle("get", ({ path }) =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const job = yield* queue.get(path.id)
        const history = yield* queue.history(path.id)
        return { job, history }
      }).pipe(Effect.catchTag("JobNotFound", (e) => Effect.fail(notFound(e))), Effect.orDie))
    .handle("cancel", ({ path, payload }) => steer(Effect.flatMap(JobQueue, (queue) => queue.cancel(path.id, payload.reason))))
    .handle("retry", ({ path, payload }) => steer(Effect.flatMap(JobQueue, (queue) => queue.retry(path.id, payload.reason))))
)

// A resource's `data` is its plugin's (a device's connection details, say): shown only to `operate` and above.
const ResourcesHandlers = HttpApiBuilder.group(CoreApi, "resources", (handlers) =>
  handlers.handle("list", ({ urlParams }) =>
    Effect.gen(function*() {
      const caller = yield* Auth.caller
      const list = yield* (yield* Resources).list(urlParams)
      return Auth.allows(caller.role, "operate") ? list : list.map(({ data: _data, ...resource }) => resource)
    }).pipe(Effect.orDie))
)

/**
 * Counts by state of jobs and resources, the rates jobs finish at, and each running
 * plugin's views as panels (one that fails says so in its panel).
 */
const OverviewHandlers = (plugins: ReadonlyArray<PluginViews>) =>
  HttpApiBuilder.group(CoreApi, "overview", (handlers) =>
    Effect.map(JobRates.make, (rates) =>
    handlers.handle("get", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const resources = yield* Resources
        const now = yield* Clock.currentTimeMillis
        const [jobs, resourceCounts, rateList, panels] = yield* Effect.all([
          queue.countByState(),
          resources.countByState(),
          rates(now),
          Effect.forEach(plugins, (plugin) =>
            Effect.map(
              Effect.forEach(plugin.views, panelOf, { concurrency: "unbounded" }),
              (panels) => ({ name: plugin.name, panels })
            ), { concurrency: "unbounded" })
        ], { concurrency: "unbounded" })
        return { jobs, resources: resourceCounts, rates: rateList, plugins: panels.filter((p) => p.panels.length > 0) }
      }).pipe(Effect.orDie))))

/** Core's API routes, for the one server; `plugins` are the running plugins' panels. */
export const routes = (plugins: ReadonlyArray<PluginViews> = []) =>
  HttpLayerRouter.addHttpApi(CoreApi).pipe(
    Layer.provide(Layer.mergeAll(JobsHandlers, ResourcesHandlers, OverviewHandlers(plugins)))
  )
