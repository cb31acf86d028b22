import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import * as Migrations from "@orch/core/Migrations"
import { testDatabase, waitFor } from "@orch/testing"
import { Effect, Exit, Layer } from "effect"
import * as Aws from "../src/Aws.js"
import type { Endpoint } from "../src/Endpoint.js"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as Sinks from "../src/Sinks.js"
import { migrations } from "../src/sql.js"
import { type AwsDouble, startAwsDouble } from "./AwsDouble.js"

const servicesLayer = () =>
  JobQueue.layer([Sinks.SendJob]).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
    Layer.provideMerge(testDatabase())
  )

const aws = (...keys: Array<string>) => Effect.acquireRelease(Effect.promise(() => startAwsDouble(keys)), (double) => Effect.promise(() => double.close()))

const defaults = { timeoutMs: 1000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }
const load = (yaml: string, env: Record<string, string> = {}) => EndpointFiles.loadText(yaml, "aws.yml", defaults, env)

const report = (endpoint: Endpoint, n: number): Sinks.Report => ({
  endpoint, at: 1_700_000_000_000 + n * 1000, success: n % 2 === 0, state: "up", change: undefined, status: 200,
  responseTimeMs: 10 + n, reasons: [], values: { status: "ok", n }
})

/** The seed's mixsig endpoint, in valid YAML, sending to EventBridge at the double. */
const eventBridgeFile = (double: AwsDouble) => `
mixsig.fabricsounds.com/health:
  cron_schedule: "* * * * *"
  scheme: http
  response_json_values: [status, n]
  post_service:
    service: aws-eventbridge
    region: eu-west-1
    endpoint: ${double.url}
    aws_key: \${AWS_KEY}
    aws_secret: \${AWS_SECRET}
    event_bus: watcher-bus
    data_detail_type: type1
    data_details_json:
      - status: "{status}"
      - n: "{n}"
    data_source: mixsig.fabricsounds.com/health
    data_resources: [health]
`

describe("AWS sinks", () => {
  it.scopedLive("EventBridge: at most 10 entries a call, signed with SigV4; the entries it refuses are retried alone, a bad entry is dead", () =>
    Effect.gen(function*() {
      const double = yield* aws("AKIDWATCHER")
      const loaded = load(eventBridgeFile(double), { AWS_KEY: "AKIDWATCHER", AWS_SECRET: "s3cret" })
      expect(loaded.problems).toEqual([])
      const endpoint = loaded.endpoints[0]!
      const payloads = Array.from({ length: 25 }, (_, n) => Sinks.sendsFor(report(endpoint, n))[0]!)
      expect(payloads[3]).toMatchObject({ sink: "post_service" })
      expect(payloads[3]!.body).toEqual({
        Source: "mixsig.fabricsounds.com/health",
        DetailType: "type1",
        Detail: JSON.stringify({ endpoint: "mixsig.fabricsounds.com/health", status: "ok", n: "3" }),
        Resources: ["health"],
        Time: 1_700_000_003_000
      })
      // the first call refuses entry 3 (throttled: worth another try) and 7 (malformed: never)
      let firstCall = true
      double.failEntry = (entry) => {
        const n = JSON.parse(entry.Detail).n
        return n === "7" ? "MalformedDetail" : n === "3" && firstCall ? "ThrottlingException" : undefined
      }
      const queue = yield* JobQueue
      yield* queue.enqueueMany(Sinks.SendJob, payloads.map((payload) => ({ payload })))
      const senders = Aws.make()
      const worker = JobWorker.make({
        kind: Sinks.SendJob,
        handler: (job) => Sinks.send(() => endpoint, job.payload, senders).pipe(Effect.ensuring(Effect.sync(() => firstCall = false))),
        concurrency: 25,
        pollInterval: "100 millis",
        gracePeriod: "0 millis"
      })
      yield* Effect.forkScoped(JobWorker.run(worker, { owner: "test" }))
      const sql = yield* SqlClient.SqlClient
      const states = sql<{ state: string; n: number }>`SELECT state, COUNT(*) AS n FROM orch_jobs WHERE kind = 'send' GROUP BY state ORDER BY state`
      yield* waitFor("24 sent, 1 dead", Effect.map(states, (rows) =>
        JSON.stringify(rows.map((r) => [r.state, Number(r.n)])) === JSON.stringify([["dead", 1], ["succeeded", 24]]) || undefined), 20_000)

      expect(double.putEvents.every((entries) => entries.length >= 1 && entries.length <= Aws.maxEventsPerCall)).toBe(true)
      expect(double.putEvents.some((entries) => entries.length > 1)).toBe(true) // sends in flight went together
      const sentNs = double.putEvents.flat().map((entry) => JSON.parse(entry.Detail).n)
      // every entry once, entry 3 twice (refused, then alone in its retry), entry 7 once
      expect(sentNs.filter((n) => n === "3")).toHaveLength(2)
      expect(sentNs.filter((n) => n === "7")).toHaveLength(1)
      expect(new Set(sentNs).size).toBe(25)
      expect(sentNs).toHaveLength(26)
      expect(double.putEvents.at(-1)!.map((entry) => JSON.parse(entry.Detail).n)).toEqual(["3"])
      expect(double.putEvents[0]![0]).toMatchObject({ EventBusName: "watcher-bus", Source: "mixsig.fabricsounds.com/health", DetailType: "type1", Resources: ["health"] })
      expect(double.signed[0]).toMatchObject({ key: "AKIDWATCHER", region: "eu-west-1", service: "events" })
      expect(double.signed[0]!.signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date", "x-amz-target"]))
      const [dead] = yield* sql<{ error: string }>`SELECT last_error AS error FROM orch_jobs WHERE kind = 'send' AND state = 'dead'`
      expect(dead!.error).toContain("MalformedDetail")
    }).pipe(Effect.provide(servicesLayer())), 30_000)

  it.scopedLive("CloudWatch: PutMetricData with the credentials of the standard chain; 5xx retried, an unknown key dead at once", () =>
    Effect.gen(function*() {
      const double = yield* aws("AKIDFROMENV")
      const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
      yield* Effect.addFinalizer(() => Effect.sync(() => {
        if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID
        else process.env.AWS_ACCESS_KEY_ID = saved.id
        if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY
        else process.env.AWS_SECRET_ACCESS_KEY = saved.secret
      }))
      process.env.AWS_ACCESS_KEY_ID = "AKIDFROMENV"
      process.env.AWS_SECRET_ACCESS_KEY = "from-env"
      const [endpoint] = load(`
api:
  interval: 1m
  url: http://127.0.0.1:1/health
  response_json_values: [app]
  post_service:
    service: aws-cloudwatch
    region: us-east-2
    endpoint: ${double.url}
    namespace: Fabric/Health
    dimensions: { App: "{app}" }
`).endpoints
      const senders = Aws.make()
      const payloads = [1, 2, 3].map((n) => Sinks.sendsFor({ ...report(endpoint!, n), values: { app: "mixsig" } })[0]!)
      const sent = yield* Effect.all(payloads.map((payload) => Sinks.send(() => endpoint, payload, senders)), { concurrency: "unbounded" })
      expect(sent.every((outcome) => outcome._tag === "Transition")).toBe(true)
      const data = double.putMetricData.flatMap((call) => call.MetricData)
      expect(double.putMetricData.every((call) => call.Namespace === "Fabric/Health")).toBe(true)
      expect(data).toHaveLength(6)
      expect(data[0]).toMatchObject({
        MetricName: "Success",
        Value: 0,
        Unit: "Count",
        Dimensions: [{ Name: "Endpoint", Value: "api" }, { Name: "App", Value: "mixsig" }],
        Timestamp: 1_700_000_001
      })
      expect(data.find((d) => d.MetricName === "ResponseTime")).toMatchObject({ Unit: "Milliseconds", Value: 11 })
      expect(double.signed.at(-1)).toMatchObject({ key: "AKIDFROMENV", region: "us-east-2", service: "monitoring" })

      double.failNext = 1
      const retried = yield* Effect.exit(Sinks.send(() => endpoint, payloads[0]!, senders))
      expect(Exit.isFailure(retried) && String(retried.cause)).toMatch(/HTTP 500/)
      expect(String(retried)).not.toContain("from-env")
      process.env.AWS_ACCESS_KEY_ID = "AKIDUNKNOWN"
      const dead = yield* Effect.flip(Sinks.send(() => endpoint, payloads[0]!, Aws.make()))
      expect(dead).toMatchObject({ _tag: "NonRetryable" })
      expect(String((dead as JobWorker.NonRetryable).error)).toContain("UnrecognizedClientException")
    }))

  it("the keys of one service under the other, or half a key pair, are problems at their line", () => {
    const problems = load(`
a:
  interval: 1m
  url: http://127.0.0.1:1/
  post_service:
    service: aws-cloudwatch
    data_detail_type: type1
b:
  interval: 1m
  url: http://127.0.0.1:1/
  post_service:
    - { service: aws-eventbridge, aws_key: AKID }
`).problems.map(String)
    expect(problems).toEqual([
      expect.stringMatching(/^aws.yml:7:5 at a.post_service.data_detail_type: data_detail_type describes an event \(CloudWatch Events, now EventBridge\): write service: aws-eventbridge/),
      expect.stringMatching(/^aws.yml:12:\d+ at b.post_service\[0\]\.aws_key: give aws_key and aws_secret together/)
    ])
  })
})
