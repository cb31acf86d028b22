import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import * as Migrations from "@orch/core/Migrations"
import { Schedules } from "@orch/core/Schedules"
import { tempDir, waitFor } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Effect, Exit, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as Metrics from "../src/Metrics.js"
import * as Sinks from "../src/Sinks.js"
import { migrations } from "../src/sql.js"
import * as Status from "../src/Status.js"
import * as StatusPage from "../src/StatusPage.js"
import * as Watcher from "../src/Watcher.js"
import { WatcherConfig } from "../src/WatcherConfig.js"
import { type DatadogDouble, startDatadogDouble } from "./DatadogDouble.js"

const servicesLayerOn = (backend: Backend) =>
  Layer.mergeAll(JobQueue.layer([Sinks.SendJob]), Schedules.layer()).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
    Layer.provideMerge(backend.database())
  )

/** A target whose /health says `{"status": <status>}` with HTTP 200 or 503. */
const target = Effect.acquireRelease(
  Effect.async<{ url: string; healthy: { value: boolean }; server: http.Server }>((resume) => {
    const healthy = { value: true }
    const server = http.createServer((_, response) => {
      response.statusCode = healthy.value ? 200 : 503
      response.setHeader("content-type", "application/json")
      response.end(JSON.stringify({ status: healthy.value ? "ok" : "down", version: "1.2.3" }))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, healthy, server })))
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })
)

const datadog = (key: string) => Effect.acquireRelease(Effect.promise(() => startDatadogDouble(key)), (double) => Effect.promise(() => double.close()))

const config = (endpoints: string, extra: Partial<typeof WatcherConfig.Encoded> = {}) =>
  Schema.decodeUnknownSync(WatcherConfig)({ endpoints, maxJitterSeconds: 0, keepResults: 5, ...extra })

const sendWorker = JobWorker.make({
  kind: Sinks.SendJob,
  handler: (job) => Effect.flatMap(Watcher.Watcher, (watcher) => Sinks.send(watcher.endpoint, job.payload)),
  concurrency: 4,
  pollInterval: "100 millis",
  gracePeriod: "0 millis"
})

const endpointFile = (targetUrl: string, double: DatadogDouble) => `
api:
  interval: 200ms
  url: ${targetUrl}/health
  response_json_values: [status, version]
  success_test: { key: status, value: ok }
  conditions: ["[STATUS] == 200"]
  post_endpoint:
    url: ${double.url}/api/v1/events
    api_key: \${DD_KEY}
    on: state_change
    post_json_info:
      title: "api {state}: {status} (version {version})"
      tags: ["status:{status}", { service: api }]
  webhooks:
    - url: ${double.url}/hook
`

describeBackends("the watcher", (backend) => {
  const servicesLayer = () => servicesLayerOn(backend)
  it.scopedLive("checks on schedule, goes down after 3 failures and up after 2 successes, sends Datadog events and webhooks on each change", () =>
    Effect.gen(function*() {
      const { healthy, url } = yield* target
      const double = yield* datadog("dd-secret")
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "api.yml"), endpointFile(url, double))
      const watcher = yield* Watcher.make(config(dir), { env: { DD_KEY: "dd-secret" } })
      yield* Effect.forkScoped(JobWorker.run(sendWorker, { owner: "test" }).pipe(Effect.provideService(Watcher.Watcher, watcher)))
      const sql = yield* SqlClient.SqlClient
      const stateOf = Effect.map(sql<{ state: string }>`SELECT state FROM watcher_states WHERE endpoint = 'api'`, (rows) => rows[0]?.state)

      yield* waitFor("api up", Effect.map(stateOf, (state) => state === "up" || undefined))
      healthy.value = false
      yield* waitFor("api down", Effect.map(stateOf, (state) => state === "down" || undefined))
      yield* waitFor("the down event sent", Effect.sync(() => double.events.length >= 1 || undefined))
      healthy.value = true
      yield* waitFor("api up again", Effect.map(stateOf, (state) => state === "up" || undefined))
      yield* waitFor("the up event sent", Effect.sync(() => double.events.length >= 2 || undefined))

      const events = yield* sql<{ from_state: string; to_state: string; reason: string }>`SELECT from_state, to_state, reason FROM watcher_events WHERE endpoint = 'api' ORDER BY id`
      expect(events.map((e) => [e.from_state, e.to_state])).toEqual([["unknown", "up"], ["up", "down"], ["down", "up"]])
      expect(events[1]!.reason).toMatch(/^3 failures in a row: success_test: status is "down", not "ok"; \[STATUS\] \(503\) == 200/)
      // unknown → up is not an alert: two events, down then up, each with the stable aggregation key
      expect(double.events).toHaveLength(2)
      expect(double.events[0]).toMatchObject({
        title: "api down: down (version 1.2.3)",
        alert_type: "error",
        tags: ["status:down", "service:api", "endpoint:api"],
        aggregation_key: Sinks.aggregationKey("api")
      })
      expect(double.events[0]!.text).toContain("[STATUS] (503) == 200")
      expect(double.events[1]).toMatchObject({ title: "api up: ok (version 1.2.3)", alert_type: "success", aggregation_key: Sinks.aggregationKey("api") })
      expect(double.auth).toEqual(["header", "header"])
      expect(double.hooks.map((h) => [h.previous, h.state, h.values.status])).toEqual([["up", "down", "down"], ["down", "up", "ok"]])

      // results are bounded per endpoint, uptime counted, lag recorded
      const [{ n }] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM watcher_results WHERE endpoint = 'api'`
      expect(Number(n)).toBeLessThanOrEqual(5)
      const [uptime] = yield* sql<{ checks: number; successes: number }>`SELECT SUM(checks) AS checks, SUM(successes) AS successes FROM watcher_uptime`
      expect(Number(uptime!.checks)).toBeGreaterThanOrEqual(7)
      expect(Number(uptime!.checks) - Number(uptime!.successes)).toBeGreaterThanOrEqual(3)

      // the status overview, the page and the series
      const overview = yield* Status.overview(watcher)
      expect(overview.endpoints[0]).toMatchObject({ key: "api", file: "api.yml", state: "up", schedule: "every 0.2s" })
      expect(overview.endpoints[0]!.uptime["24h"]).toBeGreaterThan(0)
      expect(overview.endpoints[0]!.recentFailures[0]!.reasons[0]).toContain("success_test")
      const page = StatusPage.render(overview, Date.now())
      expect(page).toContain(`<a href="?file=api.yml">api.yml</a>: 1`)
      expect(page).toContain(`<meta http-equiv="refresh" content="30">`)
      expect(page).toContain(`<polyline points=`)
      expect(overview.endpoints[0]!.history.length).toBeGreaterThanOrEqual(5)
      expect(overview.endpoints[0]!.history.length).toBeLessThanOrEqual(5) // keepResults
      expect(overview.endpoints[0]!.history.at(-1)!.success).toBe(true)
      const samples = yield* Metrics.collector(watcher)
      expect(samples.find((s) => s.name === "probe_success")).toMatchObject({ labels: { endpoint: "api", file: "api.yml" } })
      expect(samples.filter((s) => s.name === "probe_http_duration_seconds").map((s) => s.labels.phase)).toEqual(
        expect.arrayContaining(["connect", "processing", "transfer"])
      )
    }).pipe(Effect.scoped, Effect.provide(servicesLayer())), 30_000)

  it.scopedLive("endpoint files are read again when they change: a bad file is skipped and shown, the good ones keep being checked", () =>
    Effect.gen(function*() {
      const { url } = yield* target
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "a.yml"), `a:\n  interval: 1h\n  url: ${url}/health\n`)
      const watcher = yield* Watcher.make(config(dir))
      expect([...(yield* watcher.timetable.nextRuns).keys()]).toEqual(["a"])
      expect(yield* watcher.refresh).toBe(false) // nothing changed
      fs.writeFileSync(path.join(dir, "b.yaml"), `b:\n  cron_schedule: * * * * *\n  url: ${url}/health\n`)
      fs.writeFileSync(path.join(dir, "c.yml"), `c:\n  cron_schedule: "0 * * * *"\n  url: ${url}/health\n`)
      expect(yield* watcher.refresh).toBe(true)
      expect([...(yield* watcher.timetable.nextRuns).keys()].sort()).toEqual(["a", "c"])
      const overview = yield* Status.overview(watcher)
      expect(overview.files.map((f) => [f.file, f.endpoints, f.problems.length])).toEqual([["a.yml", 1, 0], ["b.yaml", 0, 1], ["c.yml", 1, 0]])
      expect(StatusPage.render(overview, 0)).toContain("b.yaml:2:18 at b.cron_schedule: an unquoted * * * * * is read by YAML as an alias")
      fs.rmSync(path.join(dir, "a.yml"))
      expect(yield* watcher.refresh).toBe(true)
      expect([...(yield* watcher.timetable.nextRuns).keys()]).toEqual(["c"])
    }).pipe(Effect.scoped, Effect.provide(servicesLayer())))

  it.scopedLive("a sink that never answers does not hold up checks: its sends wait in the queue", () =>
    Effect.gen(function*() {
      const { url } = yield* target
      const hung: Array<http.ServerResponse> = []
      const sink = http.createServer((_, response) => void hung.push(response))
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void sink.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => sink.closeAllConnections())
      )
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "a.yml"), [
        "a:",
        "  interval: 100ms",
        `  url: ${url}/health`,
        "  webhooks:",
        `    - { url: "http://127.0.0.1:${(sink.address() as AddressInfo).port}/hook", on: every_check }`
      ].join("\n") + "\n")
      const watcher = yield* Watcher.make(config(dir, { keepResults: 100 }))
      yield* Effect.forkScoped(JobWorker.run(sendWorker, { owner: "test" }).pipe(Effect.provideService(Watcher.Watcher, watcher)))
      const sql = yield* SqlClient.SqlClient
      // the worker's 4 slots hang on the sink; checks go on, their sends queue up behind
      yield* waitFor("20 checks while the sink hangs", Effect.map(
        sql<{ n: number }>`SELECT COUNT(*) AS n FROM watcher_results`,
        ([row]) => Number(row!.n) >= 20 || undefined
      ), 20_000)
      expect(hung.length).toBe(4)
      const [queued] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM orch_jobs WHERE kind = 'send' AND state = 'queued'`
      expect(Number(queued!.n)).toBeGreaterThanOrEqual(16)
    }).pipe(Effect.scoped, Effect.provide(servicesLayer())), 30_000)

  it.scopedLive("no endpoints directory: no endpoints and no error", () =>
    Effect.gen(function*() {
      const watcher = yield* Watcher.make(config(path.join(tempDir(), "none")))
      expect((yield* watcher.load).missing).toBe(true)
      expect(EndpointFiles.endpointsOf(yield* watcher.load)).toEqual([])
      expect((yield* Status.overview(watcher)).endpoints).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(servicesLayer())))
})

describe("sends", () => {
  const loadWith = (yaml: string) => EndpointFiles.loadText(yaml, "s.yml", { timeoutMs: 1000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }, {}).endpoints
  const report = (endpoint: any, extra: Partial<Sinks.Report> = {}): Sinks.Report => ({
    endpoint, at: 1_700_000_000_000, success: false, state: "down", change: { from: "up", to: "down" }, status: 503,
    responseTimeMs: 12.3, reasons: ["x".repeat(5000)], values: { status: "down" }, ...extra
  })

  it.scopedLive("Datadog: the key as the seed's URL parameter; limits kept; 5xx retried, a wrong key dead at once", () =>
    Effect.gen(function*() {
      const double = yield* datadog("right")
      const [endpoint] = loadWith(`e:\n  interval: 1m\n  url: http://127.0.0.1:1/\n  post_endpoint:\n    url: ${double.url}/api/v1/events\n    post_api_key: { param_name: api_key, param_value: right }\n    post_json_info: { title: "${"t".repeat(150)}" }\n`)
      const [payload] = Sinks.sendsFor(report(endpoint))
      expect(payload!.sink).toBe("post_endpoint")
      const body = payload!.body as { title: string; text: string; date_happened: number }
      expect(body.title).toHaveLength(Sinks.titleMax)
      expect(body.text).toHaveLength(Sinks.textMax)
      expect(body.date_happened).toBe(1_700_000_000)
      const lookup = () => endpoint
      expect(yield* Sinks.send(lookup, payload!)).toMatchObject({ _tag: "Transition", to: "succeeded", result: { status: 202 } })
      expect(double.auth).toEqual(["param"])
      double.failNext = 1
      const retried = yield* Effect.exit(Sinks.send(lookup, payload!))
      expect(Exit.isFailure(retried) && String(retried.cause)).toMatch(/answered 500/)
      expect(String(retried)).not.toContain("right") // the key is never in an error
      const [wrong] = loadWith(`e:\n  interval: 1m\n  url: http://127.0.0.1:1/\n  post_endpoint:\n    url: ${double.url}/api/v1/events\n    api_key: wrong\n`)
      const dead = yield* Effect.flip(Sinks.send(() => wrong, payload!))
      expect(dead).toMatchObject({ _tag: "NonRetryable" })
      expect(String((dead as JobWorker.NonRetryable).error)).toContain("answered 403")
      expect(yield* Effect.flip(Sinks.send(() => undefined, payload!))).toMatchObject({ _tag: "NonRetryable" })
    }))
})
