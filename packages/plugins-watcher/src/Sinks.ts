/**
 * Where results go: the Datadog Events API (the seed's `post_endpoint`), generic
 * webhooks, and AWS EventBridge and CloudWatch (the seed's `post_service`, in Aws.ts). A send is a durable job (`watcher/send`), enqueued in the transaction that
 * records the check and sent by a job worker: retried with backoff, never in the way of
 * a check, its failures counted. The body is made when the check is recorded (with the
 * values of that check); the address and key are read from the endpoint's current
 * definition when sent, so no secret is stored in the queue.
 */
import { JobKind } from "@orch/core/JobKind"
import * as JobWorker from "@orch/core/JobWorker"
import { Effect, Metric, Schema } from "effect"
import * as crypto from "node:crypto"
import * as Aws from "./Aws.js"
import type { Endpoint, Sink } from "./Endpoint.js"
import type { State } from "./State.js"

export const pluginName = "watcher"

export const SendJob = JobKind.simple({
  plugin: pluginName,
  name: "send",
  payload: Schema.Struct({
    endpoint: Schema.String,
    /** The sink's name in the endpoint: `post_endpoint`, `webhooks[0]`. */
    sink: Schema.String,
    body: Schema.Unknown
  }),
  result: Schema.Struct({ status: Schema.Number }),
  retry: { maxAttempts: 8, initialDelay: "2 seconds", maxDelay: "10 minutes", jitter: 0.2 }
})
export type SendPayload = typeof SendJob.payload.Type

export const sends = Metric.counter("orch_watcher_sends_total", {
  description: "Sink sends attempted, by sink type (datadog, webhook, eventbridge, cloudwatch) and result (ok, retry, failed)",
  incremental: true
})

/** What a check says to its sinks. */
export interface Report {
  /** The endpoint, or the `self:` block as one (key `self`). */
  readonly endpoint: Pick<Endpoint, "key" | "file" | "sinks">
  readonly at: number
  readonly success: boolean
  readonly state: State
  /** Set when this check changed the state. */
  readonly change: { readonly from: State; readonly to: State } | undefined
  readonly status: number | undefined
  readonly responseTimeMs: number
  readonly reasons: ReadonlyArray<string>
  readonly values: Readonly<Record<string, unknown>>
  /** What happened, when it is not an endpoint's check (the self-monitor's "scaling limit hit"): the default title and detail type. */
  readonly headline?: string | undefined
  /** CloudWatch metrics in place of an endpoint's Success and ResponseTime. */
  readonly metrics?: ReadonlyArray<{ readonly name: string; readonly value: number; readonly unit: "Count" | "Milliseconds" | "None" }> | undefined
}

/** Datadog's limits on an event. */
export const titleMax = 100
export const textMax = 4000

const truncate = (text: string, max: number) => text.length <= max ? text : text.slice(0, max - 3) + "..."

/** The same for an endpoint across restarts and processes, so Datadog rolls its events up. */
export const aggregationKey = (endpointKey: string): string =>
  "orch-watcher-" + crypto.createHash("sha256").update(endpointKey).digest("hex").slice(0, 32)

/** Fills `{name}` from the extracted values and the check (`{endpoint}`, `{state}`, `{status_code}`, `{reasons}`, `{response_time_ms}`); unknown names stay. */
export const template = (text: string, report: Report): string => {
  const builtins: Record<string, unknown> = {
    endpoint: report.endpoint.key,
    state: report.state,
    result: report.success ? "success" : "failure",
    status_code: report.status ?? "",
    reasons: report.reasons.join("; "),
    response_time_ms: Math.round(report.responseTimeMs)
  }
  return text.replace(/\{([A-Za-z0-9_.\-[\]]+)\}/g, (match, name: string) => {
    const value = name in report.values ? report.values[name] : builtins[name]
    return value === undefined ? match : typeof value === "object" ? JSON.stringify(value) : String(value)
  })
}

/** The body of a Datadog `POST /api/v1/events` for `report`. */
export const datadogEvent = (sink: Extract<Sink, { _tag: "Datadog" }>, report: Report) => {
  const info = sink.config.post_json_info
  const defaultTitle = report.headline !== undefined ? report.headline : report.change ? `${report.endpoint.key} is ${report.change.to}` : `${report.endpoint.key}: ${report.success ? "ok" : "failed"}`
  const defaultText = report.success ? `${report.endpoint.key} answered in ${Math.round(report.responseTimeMs)} ms` : report.reasons.join("\n")
  const tags = info.tags.flatMap((tag) => typeof tag === "string" ? [tag] : Object.entries(tag).map(([k, v]) => `${k}:${String(v)}`))
  return {
    title: truncate(template(info.title ?? defaultTitle, report), titleMax),
    text: truncate(template(info.text ?? defaultText, report), textMax),
    date_happened: Math.floor(report.at / 1000),
    alert_type: info.alert_type ?? (report.success ? "success" : "error"),
    ...(info.priority === undefined ? {} : { priority: info.priority }),
    ...(info.source_type_name === undefined ? {} : { source_type_name: info.source_type_name }),
    aggregation_key: aggregationKey(report.endpoint.key),
    tags: [...tags.map((tag) => template(tag, report)), `endpoint:${report.endpoint.key}`]
  }
}

/** The body of a webhook for `report`. */
export const webhookBody = (report: Report) => ({
  endpoint: report.endpoint.key,
  file: report.endpoint.file,
  at: new Date(report.at).toISOString(),
  success: report.success,
  state: report.state,
  ...(report.change === undefined ? {} : { previous: report.change.from }),
  ...(report.headline === undefined ? {} : { event: report.headline }),
  status: report.status ?? null,
  response_time_ms: Math.round(report.responseTimeMs),
  reasons: report.reasons,
  values: report.values
})

/** Fills the templates in the strings of `value` (a map or list from `data_details_json`). */
const templateDeep = (value: unknown, report: Report): unknown =>
  typeof value === "string" ? template(value, report)
    : Array.isArray(value) ? value.map((item) => templateDeep(item, report))
    : value !== null && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, templateDeep(v, report)]))
    : value

/**
 * The EventBridge entry for `report`: the seed's `data_source`, `data_detail_type`,
 * `data_resources`, and `data_details_json` (its list of one-key maps merged into one
 * object) as the detail; by default the webhook's body.
 */
export const eventEntry = (sink: Extract<Sink, { _tag: "EventBridge" }>, report: Report): Aws.EventEntry => {
  const details = sink.config.data_details_json
  const detail = details === undefined ? webhookBody(report)
    : { endpoint: report.endpoint.key, ...Object.assign({}, ...(Array.isArray(details) ? details : [details]).map((d) => templateDeep(d, report) as object)) }
  return {
    Source: template(sink.config.data_source ?? "orch.watcher", report),
    DetailType: template(sink.config.data_detail_type ?? report.headline ?? (report.change ? "Endpoint State Change" : "Endpoint Check"), report),
    Detail: JSON.stringify(detail),
    Resources: sink.config.data_resources.map((resource) => template(resource, report)),
    Time: report.at
  }
}

/** The CloudWatch metrics of `report`: `Success` (1 or 0) and `ResponseTime` (ms), by `Endpoint` and the sink's dimensions. */
export const metricEntry = (sink: Extract<Sink, { _tag: "CloudWatch" }>, report: Report): Aws.MetricEntry => {
  const Dimensions = [
    { Name: "Endpoint", Value: report.endpoint.key },
    ...Object.entries(sink.config.dimensions).map(([Name, value]) => ({ Name, Value: template(value, report) }))
  ]
  const metrics = report.metrics ?? [
    { name: "Success", value: report.success ? 1 : 0, unit: "Count" as const },
    { name: "ResponseTime", value: Math.round(report.responseTimeMs * 1000) / 1000, unit: "Milliseconds" as const }
  ]
  return { MetricData: metrics.map((m) => ({ MetricName: m.name, Value: m.value, Unit: m.unit, Dimensions, Timestamp: report.at })) }
}

const bodyOf = (sink: Sink, report: Report): unknown => {
  switch (sink._tag) {
    case "Datadog":
      return datadogEvent(sink, report)
    case "Webhook":
      return webhookBody(report)
    case "EventBridge":
      return eventEntry(sink, report)
    case "CloudWatch":
      return metricEntry(sink, report)
  }
}

/** The sends a check makes: each sink's, when its `on` says so. */
export const sendsFor = (report: Report): ReadonlyArray<SendPayload> =>
  report.endpoint.sinks.flatMap((sink) => {
    const wanted = sink.on === "every_check" || (report.change !== undefined && (report.change.to === "down" || report.change.from === "down"))
    if (!wanted) return []
    return [{ endpoint: report.endpoint.key, sink: sink.name, body: bodyOf(sink, report) }]
  })

/** The request a send makes with the sink's current address and key. */
export const requestOf = (sink: Extract<Sink, { _tag: "Datadog" | "Webhook" }>, body: unknown): { url: string; init: RequestInit } => {
  if (sink._tag === "Webhook") {
    return {
      url: sink.config.url,
      init: { method: sink.config.method, headers: { "content-type": "application/json", ...sink.config.headers }, body: JSON.stringify(body) }
    }
  }
  const url = new URL(sink.config.url)
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
  if (sink.config.post_api_key) url.searchParams.set(sink.config.post_api_key.param_name, sink.config.post_api_key.param_value)
  if (sink.config.api_key) headers["DD-API-KEY"] = sink.config.api_key
  return { url: url.href, init: { method: "POST", headers, body: JSON.stringify(body) } }
}

const sendTimeoutMs = 15_000

/**
 * Sends one job: a 2xx succeeds; a 429, a 5xx or no answer is retried with backoff; any
 * other 4xx (a bad key, a refused body) will not get better and the job rests dead.
 */
export const send = (lookup: (endpoint: string) => { readonly sinks: ReadonlyArray<Sink> } | undefined, payload: SendPayload, aws: Aws.AwsSenders = Aws.make()) =>
  Effect.gen(function*() {
    const sink = lookup(payload.endpoint)?.sinks.find((s) => s.name === payload.sink)
    if (sink === undefined) {
      return yield* JobWorker.failNonRetryable(new Error(`endpoint ${payload.endpoint} has no sink ${payload.sink} any more`))
    }
    if (sink._tag === "EventBridge" || sink._tag === "CloudWatch") return yield* sendToAws(sink, payload.body, aws)
    const type = sink._tag === "Datadog" ? "datadog" : "webhook"
    const { url, init } = requestOf(sink, payload.body)
    const outcome = yield* Effect.tryPromise({
      try: async () => {
        const response = await fetch(url, { ...init, signal: AbortSignal.timeout(sendTimeoutMs) })
        const text = await response.text().catch(() => "")
        return { status: response.status, text: text.slice(0, 300) }
      },
      catch: (error) => new Error(`${type} ${new URL(url).origin}: ${String((error as Error)?.message ?? error)}`)
    }).pipe(Effect.tapError(() => Metric.increment(Metric.tagged(Metric.tagged(sends, "sink", type), "result", "retry"))))
    const result = outcome.status >= 200 && outcome.status < 300 ? "ok" : outcome.status === 429 || outcome.status >= 500 ? "retry" : "failed"
    yield* Metric.increment(Metric.tagged(Metric.tagged(sends, "sink", type), "result", result))
    if (result === "ok") return JobWorker.succeed({ status: outcome.status })
    const problem = new Error(`${type} ${new URL(url).origin}${new URL(url).pathname} answered ${outcome.status}: ${outcome.text}`)
    return yield* (result === "retry" ? Effect.fail(problem) : JobWorker.failNonRetryable(problem))
  })

const count = (type: string, result: "ok" | "retry" | "failed") => Metric.increment(Metric.tagged(Metric.tagged(sends, "sink", type), "result", result))

/** Sends one AWS entry (batched with the others in flight to the same target). */
const sendToAws = (
  sink: Extract<Sink, { _tag: "EventBridge" | "CloudWatch" }>,
  body: unknown,
  aws: Aws.AwsSenders
): Effect.Effect<JobWorker.Transition<{ status: number }, "succeeded">, Aws.AwsSendError | JobWorker.NonRetryable> => {
  const type = sink._tag === "EventBridge" ? "eventbridge" : "cloudwatch"
  const sent = sink._tag === "EventBridge" ? aws.putEvent(sink.config, body as Aws.EventEntry) : aws.putMetrics(sink.config, body as Aws.MetricEntry)
  return sent.pipe(
    Effect.tap(() => count(type, "ok")),
    Effect.as(JobWorker.succeed({ status: 200 })),
    Effect.catchAll((error) => count(type, error.retryable ? "retry" : "failed").pipe(Effect.zipRight(Aws.toJobFailure(error))))
  )
}
