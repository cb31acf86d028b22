/**
 * One endpoint as an endpoint file writes it (the seed's keys, in snake_case, in valid
 * YAML) and as the watcher uses it. An endpoint file maps keys to these:
 *
 * ```yaml
 * www.fabricsounds.com/health:
 *   cron_schedule: "* * * * *"      # or interval: 30s
 *   scheme: http                    # or url: http://www.fabricsounds.com/health
 *   response_json_values: [status]
 *   success_test: { key: status, value: ok }
 *   conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 500"]
 *   post_endpoint:
 *     url: https://app.datadoghq.com/api/v1/events
 *     post_api_key: { param_name: api_key, param_value: "${DD_API_KEY}" }
 *     post_json_info: { title: fabricsounds health, text: "health {status}", tags: ["status:{status}"] }
 * ```
 */
import { Cron, DateTime, Either, Schema } from "effect"
import * as Conditions from "./Conditions.js"

const NonEmpty = Schema.String.pipe(Schema.minLength(1))
const PositiveInt = Schema.Int.pipe(Schema.positive())

/** `30s`, `5m`, `500ms` or a number of seconds. */
export const Duration = Schema.Union(
  Schema.Number.pipe(Schema.positive()),
  Schema.String.pipe(Schema.filter((text) => Conditions.durationMs(text) !== undefined || "write a duration such as 500ms, 30s, 5m or 1h"))
)
export const durationOf = (value: number | string) => typeof value === "number" ? value * 1000 : Conditions.durationMs(value)!

const SendOn = Schema.Literal("every_check", "state_change")

/** A value of `post_json_info.tags`: `"status:{status}"`, or the seed's `status: "{status}"`. */
const Tag = Schema.Union(
  NonEmpty,
  Schema.Record({
    key: Schema.String,
    value: Schema.Unknown.pipe(Schema.filter((value) =>
      ["string", "number", "boolean"].includes(typeof value) ||
      "must be a string: an unquoted {name} is a YAML map, so quote the template (\"{name}\")"
    ))
  })
)

export const DatadogSink = Schema.Struct({
  url: NonEmpty.annotations({ description: "The Events API: https://api.datadoghq.com/api/v1/events (or your site's)" }),
  post_api_key: Schema.optional(Schema.Struct({ param_name: NonEmpty, param_value: NonEmpty })),
  api_key: Schema.optional(NonEmpty),
  post_json_info: Schema.optionalWith(
    Schema.Struct({
      title: Schema.optional(Schema.String),
      text: Schema.optional(Schema.String),
      tags: Schema.optionalWith(Schema.Array(Tag), { default: () => [] }),
      alert_type: Schema.optional(Schema.Literal("error", "warning", "info", "success")),
      priority: Schema.optional(Schema.Literal("normal", "low")),
      source_type_name: Schema.optional(Schema.String)
    }),
    { default: () => ({ tags: [] }) }
  ),
  on: Schema.optionalWith(SendOn, { default: () => "every_check" as const })
})

export const WebhookSink = Schema.Struct({
  url: NonEmpty,
  method: Schema.optionalWith(Schema.Literal("POST", "PUT"), { default: () => "POST" as const }),
  headers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  on: Schema.optionalWith(SendOn, { default: () => "state_change" as const })
})

/**
 * The seed's `post_service`: AWS, through the SDK v3 clients. `aws-eventbridge` puts an
 * event (`PutEvents`) from the seed's `data_*` keys; `aws-cloudwatch` puts metrics
 * (`PutMetricData`). Credentials are `aws_key` + `aws_secret` or else the SDK's standard
 * chain (AWS_ACCESS_KEY_ID, ~/.aws, ...); `endpoint` points the client elsewhere (tests).
 * Which keys go with which service is checked in `fromInput`, to say it plainly.
 */
export const AwsSink = Schema.Struct({
  service: Schema.Literal("aws-eventbridge", "aws-cloudwatch"),
  region: Schema.optional(NonEmpty),
  endpoint: Schema.optional(NonEmpty),
  aws_key: Schema.optional(NonEmpty),
  aws_secret: Schema.optional(NonEmpty),
  event_bus: Schema.optional(NonEmpty),
  data_detail_type: Schema.optional(NonEmpty),
  data_details_json: Schema.optional(Schema.Union(Schema.Record({ key: Schema.String, value: Schema.Unknown }), Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown })))),
  data_source: Schema.optional(NonEmpty),
  data_resources: Schema.optionalWith(Schema.Array(NonEmpty), { default: () => [] }),
  namespace: Schema.optional(NonEmpty),
  dimensions: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  on: Schema.optionalWith(SendOn, { default: () => "every_check" as const })
})

/** The sink keys of an endpoint, or of the `self:` block. */
export const sinkKeys = {
  post_endpoint: Schema.optional(DatadogSink),
  webhooks: Schema.optionalWith(Schema.Array(WebhookSink), { default: () => [] }),
  post_service: Schema.optional(Schema.Union(AwsSink, Schema.Array(AwsSink)))
}

/** UTC as a fixed offset: a named zone costs an `Intl` lookup on every `Cron.next`. */
const utc = DateTime.zoneMakeOffset(0)
const zoneOf = (timeZone: string): DateTime.TimeZone | string => timeZone === "UTC" ? utc : timeZone

/**
 * Parsed cron expressions by zone and text: 20,000 endpoints share a handful of schedules,
 * and parsing one each (twice: to validate, then to use) was a tenth of reading them.
 * A `Cron` is immutable, so endpoints can share one. Bounded: emptied when full.
 */
const crons = new Map<string, Either.Either<Cron.Cron, Cron.ParseError>>()
const cronOf = (expression: string, timeZone: string) => {
  const key = `${timeZone} ${expression}`
  let cron = crons.get(key)
  if (cron === undefined) {
    if (crons.size >= 1000) crons.clear()
    crons.set(key, cron = Cron.parse(expression, zoneOf(timeZone)))
  }
  return cron
}

export const EndpointInput = Schema.Struct({
  cron_schedule: Schema.optional(Schema.String.pipe(Schema.filter((expression) =>
    Either.isRight(cronOf(expression, "UTC")) || `${JSON.stringify(expression)} is not a cron expression (5 fields, or 6 with seconds first)`
  ))),
  interval: Schema.optional(Duration),
  url: Schema.optional(NonEmpty),
  scheme: Schema.optional(Schema.Literal("http", "https", "tcp", "tls")),
  method: Schema.optionalWith(Schema.Literal("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"), { default: () => "GET" as const }),
  headers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  body: Schema.optional(Schema.Union(Schema.String, Schema.Record({ key: Schema.String, value: Schema.Unknown }), Schema.Array(Schema.Unknown))),
  timeout: Schema.optional(Duration),
  insecure: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Accept any TLS certificate (a self-signed one); its expiry is still read"
  }),
  response_json_values: Schema.optionalWith(Schema.Array(NonEmpty), { default: () => [] }),
  success_test: Schema.optional(Schema.Struct({ key: NonEmpty, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) })),
  conditions: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.filter((text) => Either.getLeft(Conditions.parse(text)).pipe((o) => o._tag === "Some" ? o.value : true)))), { default: () => [] }),
  failure_threshold: Schema.optional(PositiveInt),
  success_threshold: Schema.optional(PositiveInt),
  ...sinkKeys
})
export type EndpointInput = typeof EndpointInput.Type

export type Target =
  | { readonly _tag: "Http"; readonly url: string; readonly method: string; readonly headers: Readonly<Record<string, string>>; readonly body: string | undefined }
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }
  | { readonly _tag: "Tls"; readonly host: string; readonly port: number }

export type Cadence =
  | { readonly _tag: "Cron"; readonly expression: string; readonly cron: Cron.Cron }
  | { readonly _tag: "Interval"; readonly everyMs: number }

export type Sink =
  | { readonly _tag: "Datadog"; readonly name: string; readonly on: "every_check" | "state_change"; readonly config: typeof DatadogSink.Type }
  | { readonly _tag: "Webhook"; readonly name: string; readonly on: "every_check" | "state_change"; readonly config: typeof WebhookSink.Type }
  | { readonly _tag: "EventBridge"; readonly name: string; readonly on: "every_check" | "state_change"; readonly config: typeof AwsSink.Type }
  | { readonly _tag: "CloudWatch"; readonly name: string; readonly on: "every_check" | "state_change"; readonly config: typeof AwsSink.Type }

export interface Endpoint {
  readonly key: string
  /** The file it came from, relative to the endpoints directory. */
  readonly file: string
  readonly cadence: Cadence
  readonly target: Target
  readonly timeoutMs: number
  readonly insecure: boolean
  readonly jsonValues: ReadonlyArray<string>
  readonly successTest: { readonly key: string; readonly value: string | number | boolean } | undefined
  readonly conditions: ReadonlyArray<Conditions.Condition>
  readonly failureThreshold: number
  readonly successThreshold: number
  readonly sinks: ReadonlyArray<Sink>
  /** Changes when anything that decides when or how it is checked changes. */
  readonly fingerprint: string
}


export interface Defaults {
  readonly timeoutMs: number
  readonly failureThreshold: number
  readonly successThreshold: number
  /** The zone of cron expressions (core's `schedules` zone). */
  readonly timeZone: string
}

const hostPort = (address: string, key: string): Either.Either<{ host: string; port: number }, string> => {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address)
  return match && Number(match[2]) > 0 && Number(match[2]) < 65536
    ? Either.right({ host: match[1]!, port: Number(match[2]) })
    : Either.left(`${JSON.stringify(address)} must be host:port for ${key}`)
}

const targetOf = (key: string, input: EndpointInput): Either.Either<Target, string> => {
  const address = input.url ?? (input.scheme === undefined ? undefined : `${input.scheme}://${key}`)
  if (address === undefined) return Either.left("give url, or scheme (http, https, tcp, tls) to check the key itself as the address")
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return Either.left(`${JSON.stringify(address)} is not a URL`)
  }
  if (url.protocol === "tcp:" || url.protocol === "tls:") {
    return Either.map(hostPort(url.host, `a ${url.protocol.slice(0, -1)} check`), ({ host, port }) => ({
      _tag: url.protocol === "tcp:" ? "Tcp" as const : "Tls" as const,
      host,
      port
    }))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return Either.left(`unsupported scheme ${url.protocol} (http, https, tcp, tls)`)
  const body = input.body === undefined ? undefined : typeof input.body === "string" ? input.body : JSON.stringify(input.body)
  const headers = typeof input.body === "object" && !Object.keys(input.headers).some((h) => h.toLowerCase() === "content-type")
    ? { ...input.headers, "content-type": "application/json" }
    : input.headers
  return Either.right({ _tag: "Http", url: url.href, method: input.method, headers, body })
}

const eventKeys = ["event_bus", "data_detail_type", "data_details_json", "data_source"] as const
const metricKeys = ["namespace"] as const

/** What is wrong with a `post_service`: keys of the other service, half a key pair. */
export const awsProblem = (sink: typeof AwsSink.Type): { readonly key: string; readonly message: string } | undefined => {
  if ((sink.aws_key === undefined) !== (sink.aws_secret === undefined)) {
    return { key: sink.aws_key === undefined ? "aws_secret" : "aws_key", message: "give aws_key and aws_secret together, or neither (then the standard AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws, ...)" }
  }
  if (sink.service === "aws-cloudwatch") {
    const key = eventKeys.find((k) => sink[k] !== undefined) ?? (sink.data_resources.length > 0 ? "data_resources" : undefined)
    if (key !== undefined) {
      return {
        key,
        message: `${key} describes an event (CloudWatch Events, now EventBridge): write service: aws-eventbridge to send it with PutEvents; ` +
          "aws-cloudwatch sends metrics (PutMetricData) and takes namespace and dimensions"
      }
    }
  } else {
    const key = metricKeys.find((k) => sink[k] !== undefined) ?? (Object.keys(sink.dimensions).length > 0 ? "dimensions" : undefined)
    if (key !== undefined) return { key, message: `${key} is for metrics: write service: aws-cloudwatch for PutMetricData` }
  }
  return undefined
}

type SinkInput = Schema.Struct.Type<typeof sinkKeys>

/** The sinks of `input` (an endpoint's or the `self:` block's), or the problem and its key. */
export const sinksOf = (input: SinkInput): Either.Either<ReadonlyArray<Sink>, { readonly path: ReadonlyArray<string | number>; readonly message: string }> => {
  const at = (path: ReadonlyArray<string | number>) => (message: string) => Either.left({ path, message })
  const sinks: Array<Sink> = []
  if (input.post_endpoint !== undefined) {
    const post = input.post_endpoint
    if (post.post_api_key !== undefined && post.api_key !== undefined) {
      return at(["post_endpoint", "api_key"])("give the key once: api_key (sent as the DD-API-KEY header) or post_api_key (a URL parameter)")
    }
    sinks.push({ _tag: "Datadog", name: "post_endpoint", on: post.on, config: post })
  }
  input.webhooks.forEach((webhook, index) => sinks.push({ _tag: "Webhook", name: `webhooks[${index}]`, on: webhook.on, config: webhook }))
  const services = input.post_service === undefined ? [] : Array.isArray(input.post_service) ? input.post_service : [input.post_service]
  for (const [index, service] of services.entries()) {
    const name = Array.isArray(input.post_service) ? `post_service[${index}]` : "post_service"
    const path = Array.isArray(input.post_service) ? ["post_service", index] : ["post_service"]
    const problem = awsProblem(service)
    if (problem !== undefined) return at([...path, problem.key])(problem.message)
    sinks.push({ _tag: service.service === "aws-eventbridge" ? "EventBridge" : "CloudWatch", name, on: service.on, config: service })
  }
  return Either.right(sinks)
}

/**
 * The endpoint `key` of `input`, or the problem and the key it is at (relative to the
 * endpoint). Checks what the schema cannot: one schedule, one address, sinks that can send.
 */
export const fromInput = (
  key: string,
  file: string,
  input: EndpointInput,
  defaults: Defaults
): Either.Either<Endpoint, { readonly path: ReadonlyArray<string | number>; readonly message: string }> =>
  Either.gen(function*() {
    const at = (path: ReadonlyArray<string | number>) => (message: string) => ({ path, message })
    if ((input.cron_schedule === undefined) === (input.interval === undefined)) {
      return yield* Either.left(at([])("give exactly one of cron_schedule (e.g. \"* * * * *\", quoted) and interval (e.g. 30s)"))
    }
    const cadence: Cadence = input.cron_schedule !== undefined
      ? { _tag: "Cron", expression: input.cron_schedule, cron: Either.getOrThrow(cronOf(input.cron_schedule, defaults.timeZone)) }
      : { _tag: "Interval", everyMs: durationOf(input.interval!) }
    const target = yield* Either.mapLeft(targetOf(key, input), at([input.url === undefined ? "scheme" : "url"]))
    if (target._tag !== "Http" && (input.response_json_values.length > 0 || input.success_test !== undefined)) {
      return yield* Either.left(at(["response_json_values"])("a tcp or tls check has no body to read values from"))
    }
    const conditions = input.conditions.map((text) => Either.getOrThrow(Conditions.parse(text)))
    const sinks = yield* sinksOf(input)
    const endpoint = {
      key,
      file,
      cadence,
      target,
      timeoutMs: input.timeout === undefined ? defaults.timeoutMs : durationOf(input.timeout),
      insecure: input.insecure,
      jsonValues: input.response_json_values,
      successTest: input.success_test,
      conditions,
      failureThreshold: input.failure_threshold ?? defaults.failureThreshold,
      successThreshold: input.success_threshold ?? defaults.successThreshold,
      sinks
    }
    return { ...endpoint, fingerprint: JSON.stringify([file, input, defaults]) }
  })

/** Where a check of `endpoint` goes, for people: the URL, or `tcp://host:port`. */
export const address = (endpoint: Endpoint): string =>
  endpoint.target._tag === "Http" ? endpoint.target.url : `${endpoint.target._tag.toLowerCase()}://${endpoint.target.host}:${endpoint.target.port}`
