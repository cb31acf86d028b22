/**
 * Neubot's local API as the OpenAPI document shows it. The routes themselves stay plain
 * router routes (`Api.ts`): Neubot's web UI depends on their exact wire behaviour (any
 * method, 500 with the message as reason phrase, `?debug=1` as text), which an HttpApi
 * handler would change. This HttpApi is never served; it only describes the JSON
 * endpoints, with paths relative to the plugin (core prefixes `/scheduler`).
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import { Schema } from "effect"

/** Every refused request: a 500 whose reason phrase is the message too. */
export class NeubotError extends Schema.Class<NeubotError>("NeubotError")({ error: Schema.String }, {
  description: "Neubot's error: status 500, the message also as the reason phrase"
}) {}

const Flag = Schema.optional(Schema.String).annotations({ description: "set to 1 (any value but empty and 0)" })
const Debug = Schema.optional(Schema.String).annotations({ description: "1: the same body as pretty-printed text/plain" })
const UnixSeconds = Schema.optional(Schema.String).annotations({ description: "unix seconds; -1 or absent is unset" })

export const Setting = Schema.Union(Schema.String, Schema.Number)

export const Settings = Schema.Record({ key: Schema.String, value: Setting }).annotations({
  description: "The settings' values by name (with labels=1: their labels)"
})

export const Result = Schema.Struct(
  { test_name: Schema.String, timestamp: Schema.Number, timestamp_msec: Schema.Number },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ description: "A test's result as its program printed it, with the test and time" })

export const LogLine = Schema.Struct({
  timestamp: Schema.Number,
  timestamp_msec: Schema.Number,
  severity: Schema.String,
  message: Schema.String
})

export const State = Schema.Struct({
  current: Schema.String.annotations({ description: "idle, or what runs" }),
  events: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  t: Schema.Number.annotations({ description: "the state's generation: pass it back as t to wait for the next" })
})

export const DescribedDescriptor = Schema.Struct({
  name: Schema.String,
  file: Schema.NullOr(Schema.String),
  bundled: Schema.Boolean,
  description: Schema.NullOr(Schema.String),
  parameters: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  command: Schema.Array(Schema.String),
  directory: Schema.Unknown,
  max_runtime_seconds: Schema.Number,
  schedule: Schema.Unknown,
  schedule_spec: Schema.Unknown,
  next_run: Schema.NullOr(Schema.Number),
  next_run_at: Schema.NullOr(Schema.String)
})

export const Descriptors = Schema.Struct({
  descriptors: Schema.Array(DescribedDescriptor),
  invalid: Schema.Array(Schema.Struct({ name: Schema.String, file: Schema.String, reason: Schema.String }))
})

export const RunnerAnswer = Schema.Struct({}).annotations({
  description: "{}, as Neubot answered (the run's job id is in the X-Orch-Run header); an empty query does nothing"
})

export const ResultsAnswer = Schema.Struct(
  {
    title: Schema.String,
    plots: Schema.Array(Schema.Unknown),
    table: Schema.Array(Schema.Struct({ recipe: Schema.Unknown, label: Schema.String })),
    available_tests: Schema.Array(Schema.String),
    selected_test: Schema.String,
    description: Schema.String
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
).annotations({ description: "How results.html draws the test's plots and table (results.js' recipes), the tests to choose from, and its www_no_* settings" })

const get = <const Name extends string>(name: Name, path: HttpApiEndpoint.PathSegment, description: string) =>
  HttpApiEndpoint.get(name, path).annotate(OpenApi.Description, `${description} (any method is accepted, as in Neubot)`)

export class NeubotApi extends HttpApi.make("scheduler").add(
  HttpApiGroup.make("neubot")
    .add(get("endpoints", "/api", "The API's paths").addSuccess(Schema.Array(Schema.String)))
    .add(get("version", "/api/version", "The Neubot version this API speaks").addSuccess(HttpApiSchema.Text()))
    .add(
      get("getConfig", "/api/config", "The settings")
        .setUrlParams(Schema.Struct({ labels: Flag, debug: Debug }))
        .addSuccess(Settings)
    )
    .add(
      HttpApiEndpoint.post("setConfig", "/api/config")
        .annotate(OpenApi.Description, "Changes settings, all or none (a form: name=value&…)")
        .setPayload(HttpApiSchema.withEncoding(Schema.Record({ key: Schema.String, value: Schema.String }), { kind: "UrlParams" }))
        .addSuccess(Schema.Literal("{}").annotations({ description: "the JSON string \"{}\", as Neubot answered" }))
    )
    .add(
      get("data", "/api/data", "Stored results, newest first, at most 10,000")
        .setUrlParams(Schema.Struct({ test: Schema.optional(Schema.String), since: UnixSeconds, until: UnixSeconds, debug: Debug }))
        .addSuccess(Schema.Array(Result))
    )
    .add(
      get("results", "/api/results", "How Neubot's results.html shows a test (default: www_default_test_to_show); an unknown test is a 500 \"Test not implemented\"")
        .setUrlParams(Schema.Struct({ test: Schema.optional(Schema.String), debug: Debug }))
        .addSuccess(ResultsAnswer)
    )
    .add(get("debug", "/api/debug", "The daemon's internals, as text for a person (no stable format)").addSuccess(HttpApiSchema.Text()))
    .add(
      get("index", "/api/index", "Neubot's web UI entry: 302 to /privacy.html until privacy.* are all 1, then to /index.html")
        .addSuccess(HttpApiSchema.Empty(302))
    )
    .add(
      get("descriptors", "/api/descriptors", "The tests that can run, with their schedules and next runs, and the broken files")
        .setUrlParams(Schema.Struct({ debug: Debug }))
        .addSuccess(Descriptors)
    )
    .add(
      get("log", "/api/log", "The log, at most 5,000 lines (text/plain lines with debug=1)")
        .setUrlParams(Schema.Struct({
          verbosity: Schema.optional(Schema.Literal("0", "1", "2")).annotations({ description: "0: errors and warnings, 1: and INFO (default), 2: and DEBUG" }),
          reversed: Flag,
          debug: Debug
        }))
        .addSuccess(Schema.Array(LogLine))
    )
    .add(
      get("runner", "/api/runner", "Runs a test; other query parameters are the test's parameters. With streaming=1 the answer is the run's log as text/plain lines until it ends")
        .setUrlParams(Schema.Struct({ test: Schema.optional(Schema.String), streaming: Flag }))
        .addSuccess(RunnerAnswer)
    )
    .add(
      get("state", "/api/state", "The state; with t, waits (up to stateTimeoutSeconds) for a newer one")
        .setUrlParams(Schema.Struct({ t: Schema.optional(Schema.String), debug: Debug }))
        .addSuccess(State)
    )
    .add(
      HttpApiEndpoint.post("exit", "/api/exit")
        .annotate(OpenApi.Description, "Stops orch, after answering (any method, as in Neubot; a cross-site browser request is refused with 403)")
        .addSuccess(Schema.Struct({}))
    )
    .addError(NeubotError, { status: 500 })
    .annotate(OpenApi.Description, "Neubot 0.4's local API (its web UI's)")
) {}
