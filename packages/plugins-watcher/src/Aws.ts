/**
 * The seed's `post_service` sinks through the AWS SDK v3: EventBridge `PutEvents` and
 * CloudWatch `PutMetricData`. The clients are loaded on first use only (like the
 * watchdog's Compute client), so they stay outside orch's bundle and cost nothing to a
 * watcher that never sends to AWS.
 *
 * Each send job carries one check's entry; the sends in flight for the same target are
 * put together, up to 10 entries a `PutEvents` call (AWS's limit) and 20 checks' metrics a
 * `PutMetricData` call. EventBridge answers a call entry by entry: the entries it refused
 * (`FailedEntryCount`, each with its `ErrorCode`) fail their own jobs only, which the
 * queue retries with backoff, so a retry sends just the failed entries.
 */
import * as JobWorker from "@orch/core/JobWorker"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import type { AwsSink } from "./Endpoint.js"

type AwsConfig = typeof AwsSink.Type
type EventBridgeModule = typeof import("@aws-sdk/client-eventbridge")
type CloudWatchModule = typeof import("@aws-sdk/client-cloudwatch")

/** One `PutEvents` entry as a job carries it (the bus is the sink's, read when sent). */
export interface EventEntry {
  readonly Source: string
  readonly DetailType: string
  /** A JSON object, as text. */
  readonly Detail: string
  readonly Resources: ReadonlyArray<string>
  /** Epoch ms. */
  readonly Time: number
}

/** One check's metrics as a job carries them. */
export interface MetricEntry {
  readonly MetricData: ReadonlyArray<{
    readonly MetricName: string
    readonly Value: number
    readonly Unit: "Count" | "Milliseconds" | "None"
    readonly Dimensions: ReadonlyArray<{ readonly Name: string; readonly Value: string }>
    /** Epoch ms. */
    readonly Timestamp: number
  }>
}

export const maxEventsPerCall = 10
export const maxChecksPerMetricCall = 20
/** Calls in flight per target; entries arriving meanwhile wait and go together. */
const callsInFlight = 2
const requestTimeoutMs = 15_000

/** Why an entry or a call failed, and whether trying again can help. */
export class AwsSendError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message)
  }
}

/** EventBridge entry codes worth another try: its own trouble or throttling (the rest are about the entry or the rights). */
const retryableEntryCode = (code: string) => /Internal|Throttl|ServiceUnavailable|Timeout/i.test(code)

/** An SDK error: a network error, throttling or a server fault is retried; a client fault (a wrong key, a refused body) is not. */
const fromSdkError = (service: string, error: unknown): AwsSendError => {
  const e = error as { name?: string; message?: string; $fault?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } }
  const status = e?.$metadata?.httpStatusCode
  const retryable = (!/Region is missing|credential/i.test(e?.message ?? "") && status === undefined) || status === 429 || (status ?? 0) >= 500 || e.$fault === "server" || e.$retryable !== undefined ||
    /Throttl/i.test(e?.name ?? "")
  return new AwsSendError(`${service}: ${e?.name ?? "Error"}${status === undefined ? "" : ` (HTTP ${status})`}: ${e?.message ?? String(error)}`, retryable)
}

/**
 * Entries sent in batches: an entry waits while `callsInFlight` calls to its target are
 * out, then goes with the others that waited (up to `max`). `call` answers per entry.
 */
const batcher = <E>(max: number, call: (entries: ReadonlyArray<E>) => Promise<ReadonlyArray<AwsSendError | undefined>>) => {
  const pending: Array<{ entry: E; done: (error: AwsSendError | undefined) => void }> = []
  let inFlight = 0
  const pump = () => {
    while (pending.length > 0 && inFlight < callsInFlight) {
      const batch = pending.splice(0, max)
      inFlight++
      call(batch.map((item) => item.entry)).then(
        (outcomes) => batch.forEach((item, index) => item.done(outcomes[index])),
        (error) => batch.forEach((item) => item.done(error instanceof AwsSendError ? error : new AwsSendError(String(error), true)))
      ).finally(() => {
        inFlight--
        pump()
      })
    }
  }
  return (entry: E) =>
    new Promise<AwsSendError | undefined>((done) => {
      pending.push({ entry, done })
      // entries handed over in the same turn go in one call
      queueMicrotask(pump)
    })
}

const clientConfig = (config: AwsConfig) => ({
  ...(config.region === undefined ? {} : { region: config.region }),
  ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
  ...(config.aws_key === undefined || config.aws_secret === undefined
    ? {}
    : { credentials: { accessKeyId: config.aws_key, secretAccessKey: config.aws_secret } }),
  // the durable queue retries, with its backoff; the SDK's own retries would hold a job slot meanwhile
  maxAttempts: 1,
  requestHandler: { requestTimeout: requestTimeoutMs, connectionTimeout: 5_000 }
})

/**
 * The target of a sink: the sends to one target share a client and go together. A changed
 * key or address makes a new target (the old client is left to idle: a handful at most).
 */
const targetKey = (config: AwsConfig) =>
  crypto.createHash("sha256")
    .update(JSON.stringify([config.service, config.region, config.endpoint, config.aws_key, config.aws_secret, config.event_bus, config.namespace]))
    .digest("hex")

export interface AwsSenders {
  readonly putEvent: (config: AwsConfig, entry: EventEntry) => Effect.Effect<void, AwsSendError>
  readonly putMetrics: (config: AwsConfig, entry: MetricEntry) => Effect.Effect<void, AwsSendError>
}

/** Senders with their clients and batches, made on first use and kept (one per send worker). */
export const make = (): AwsSenders => {
  let eventBridge: Promise<EventBridgeModule> | undefined
  let cloudWatch: Promise<CloudWatchModule> | undefined
  const eventBatches = new Map<string, (entry: EventEntry) => Promise<AwsSendError | undefined>>()
  const metricBatches = new Map<string, (entry: MetricEntry) => Promise<AwsSendError | undefined>>()

  const eventsTo = (config: AwsConfig) => {
    const key = targetKey(config)
    let send = eventBatches.get(key)
    if (send === undefined) {
      const client = (eventBridge ??= import("@aws-sdk/client-eventbridge")).then((sdk) => ({ sdk, client: new sdk.EventBridgeClient(clientConfig(config)) }))
      send = batcher<EventEntry>(maxEventsPerCall, async (entries) => {
        const { client: eb, sdk } = await client
        const output = await eb.send(new sdk.PutEventsCommand({
          Entries: entries.map((entry) => ({
            Source: entry.Source,
            DetailType: entry.DetailType,
            Detail: entry.Detail,
            Resources: [...entry.Resources],
            Time: new Date(entry.Time),
            ...(config.event_bus === undefined ? {} : { EventBusName: config.event_bus })
          }))
        })).catch((error) => Promise.reject(fromSdkError("EventBridge PutEvents", error)))
        // the result entries are in the order of the request's
        return entries.map((_, index) => {
          const result = output.Entries?.[index]
          if (result?.ErrorCode === undefined && result?.EventId !== undefined) return undefined
          const code = result?.ErrorCode ?? "NoResult"
          return new AwsSendError(`EventBridge PutEvents refused the entry: ${code}${result?.ErrorMessage ? `: ${result.ErrorMessage}` : ""}`, retryableEntryCode(code))
        })
      })
      eventBatches.set(key, send)
    }
    return send
  }

  const metricsTo = (config: AwsConfig) => {
    const key = targetKey(config)
    let send = metricBatches.get(key)
    if (send === undefined) {
      const client = (cloudWatch ??= import("@aws-sdk/client-cloudwatch")).then((sdk) => ({ sdk, client: new sdk.CloudWatchClient(clientConfig(config)) }))
      send = batcher<MetricEntry>(maxChecksPerMetricCall, async (entries) => {
        const { client: cw, sdk } = await client
        await cw.send(new sdk.PutMetricDataCommand({
          Namespace: config.namespace ?? "Orch/Watcher",
          MetricData: entries.flatMap((entry) =>
            entry.MetricData.map((datum) => ({ ...datum, Dimensions: [...datum.Dimensions], Timestamp: new Date(datum.Timestamp) }))
          )
        })).catch((error) => Promise.reject(fromSdkError("CloudWatch PutMetricData", error)))
        // PutMetricData takes a call whole or not at all
        return entries.map(() => undefined)
      })
      metricBatches.set(key, send)
    }
    return send
  }

  const run = (promise: () => Promise<AwsSendError | undefined>) =>
    Effect.flatMap(
      Effect.promise(promise),
      (error) => error === undefined ? Effect.void : Effect.fail(error)
    )

  return {
    putEvent: (config, entry) => run(() => eventsTo(config)(entry)),
    putMetrics: (config, entry) => run(() => metricsTo(config)(entry))
  }
}

/** A failed send as the job worker takes it: retried with backoff, or dead at once. */
export const toJobFailure = (error: AwsSendError): Effect.Effect<never, AwsSendError | JobWorker.NonRetryable> =>
  error.retryable ? Effect.fail(error) : JobWorker.failNonRetryable(error)
