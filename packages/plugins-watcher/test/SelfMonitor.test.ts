import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { tempDir, testDatabase } from "@orch/testing"
import { Effect, Layer, Metric, Schedule, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as SelfMonitor from "../src/SelfMonitor.js"
import * as Sinks from "../src/Sinks.js"
import { migrations } from "../src/sql.js"
import * as Watcher from "../src/Watcher.js"

const servicesLayer = () =>
  JobQueue.layer([Sinks.SendJob]).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
    Layer.provideMerge(testDatabase())
  )

const defaults = { timeoutMs: 1000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }

const selfFile = `
self:
  interval: 1m
  max_lag_p99: 1s
  max_missed: 0
  post_endpoint:
    url: http://127.0.0.1:1/api/v1/events
    api_key: k
    on: state_change
    post_json_info: { tags: ["lag_p99_ms:{lag_p99_ms}"] }
  webhooks:
    - { url: "http://127.0.0.1:1/hook", on: every_check }
  post_service: { service: aws-cloudwatch, region: eu-west-1, endpoint: "http://127.0.0.1:1" }
`

const lags = (seconds: number, times: number) => Effect.forEach(Array.from({ length: times }), () => Metric.update(Watcher.lagSeconds, seconds), { discard: true })

describe("self-monitoring", () => {
  it.scoped("reports its health each interval; raises 'scaling limit hit' once per episode and 'scaling limit cleared' when back", () =>
    Effect.gen(function*() {
      const load = EndpointFiles.loadText(selfFile, "self.yml", defaults, {})
      expect(load.problems).toEqual([])
      const self = load.self!
      expect(self).toMatchObject({ key: "self", everyMs: 60_000, maxLagP99Ms: 1000, maxMissed: 0 })
      const monitor = SelfMonitor.make()
      const reports: Array<Sinks.Report> = []
      // the plugin's loop: a tick each second
      yield* Effect.forkScoped(Effect.repeat(
        Effect.tap(monitor.tick(self, 5), (report) => Effect.sync(() => report && reports.push(report))),
        Schedule.spaced("1 second")
      ))
      const minute = Effect.zipRight(TestClock.adjust("60 seconds"), Effect.yieldNow())

      yield* lags(0.01, 100) // before the first tick: not in any window
      yield* TestClock.adjust("1 second")
      yield* lags(0.01, 100)
      yield* minute
      yield* lags(0.01, 95)
      yield* lags(3, 5) // p99 4.4 s: behind
      yield* minute
      yield* lags(0.01, 100)
      yield* Metric.incrementBy(Metric.tagged(Watcher.missedRuns, "reason", "behind"), 2) // still behind
      yield* minute
      yield* lags(0.02, 100) // back
      yield* minute
      yield* minute

      expect(reports.map((r) => [r.headline, r.state, r.values.checks, r.values.missed])).toEqual([
        ["orch watcher: watcher health ok", "up", 100, 0],
        ["orch watcher: scaling limit hit", "down", 100, 0],
        ["orch watcher: watcher behind", "down", 100, 2],
        ["orch watcher: scaling limit cleared", "up", 100, 0],
        ["orch watcher: watcher health ok", "up", 0, 0]
      ])
      expect(reports[1]!.reasons).toEqual(["check lag p99 4400 ms is over 1000 ms"])
      expect(reports[2]!.reasons).toEqual(["2 scheduled run(s) missed (at most 0)"])
      expect(yield* Metric.value(SelfMonitor.behindGauge)).toMatchObject({ value: 0 })

      // sends: every report to the webhook and CloudWatch; Datadog (state_change) the hit and the clearing only
      const sql = yield* SqlClient.SqlClient
      const jobs = (yield* sql<{ payload: string }>`SELECT payload FROM orch_jobs WHERE kind = 'send' ORDER BY id`).map((row) => JSON.parse(row.payload))
      expect(jobs.every((job) => job.endpoint === "self")).toBe(true)
      const datadog = jobs.filter((job) => job.sink === "post_endpoint").map((job) => job.body)
      expect(datadog.map((event) => [event.title, event.alert_type])).toEqual([
        ["orch watcher: scaling limit hit", "error"],
        ["orch watcher: scaling limit cleared", "success"]
      ])
      expect(datadog[0].tags).toEqual(["lag_p99_ms:4400", "endpoint:self"])
      expect(datadog[0].text).toBe("check lag p99 4400 ms is over 1000 ms")
      expect(jobs.filter((job) => job.sink === "webhooks[0]").map((job) => job.body.event)).toEqual([
        "orch watcher: watcher health ok",
        "orch watcher: scaling limit hit",
        "orch watcher: watcher behind",
        "orch watcher: scaling limit cleared",
        "orch watcher: watcher health ok"
      ])
      const metrics = jobs.filter((job) => job.sink === "post_service").map((job) => job.body.MetricData)
      expect(metrics).toHaveLength(5)
      expect(metrics[1].map((d: any) => [d.MetricName, d.Value])).toEqual([["Checks", 100], ["LagP50", 6], ["LagP99", 4400], ["MissedRuns", 0], ["Behind", 1]])
      expect(metrics[1][0].Dimensions).toEqual([{ Name: "Endpoint", Value: "self" }])
    }).pipe(Effect.provide(servicesLayer())))

  it("quantiles from cumulative buckets, as histogram_quantile", () => {
    const buckets = [[0.1, 0], [1, 50], [2, 100], [Infinity, 100]] as const
    expect(SelfMonitor.quantile(0.5, buckets)).toBeCloseTo(1)
    expect(SelfMonitor.quantile(0.99, buckets)).toBeCloseTo(1.98)
    expect(SelfMonitor.quantile(0.99, [[1, 0], [Infinity, 10]])).toBe(1)
    expect(SelfMonitor.quantile(0.99, [[1, 0], [Infinity, 0]])).toBe(0)
  })

  it.effect("one self: block per directory; its keys checked like an endpoint's", () => Effect.gen(function*() {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "a.yml"), "self:\n  interval: 30s\n")
    fs.writeFileSync(path.join(dir, "b.yml"), "self: {}\n")
    const directory = yield* EndpointFiles.loadDirectory(dir, defaults, {})
    expect(EndpointFiles.selfOf(directory)).toMatchObject({ file: "a.yml", everyMs: 30_000 })
    expect(EndpointFiles.problemsOf(directory).map(String)).toEqual(["b.yml at self: a self: block is already defined in a.yml; the watcher has one"])
    const bad = EndpointFiles.loadText(`self:\n  interval: soon\n  post_service: { service: aws-cloudwatch, data_source: x }\n`, "s.yml", defaults, {})
    expect(bad.problems.map(String)).toEqual([expect.stringMatching(/^s.yml:2:3 at self.interval: /)])
    const sinkProblem = EndpointFiles.loadText(`self:\n  post_service: { service: aws-cloudwatch, data_source: x }\n`, "s.yml", defaults, {})
    expect(sinkProblem.problems.map(String)).toEqual([expect.stringMatching(/^s.yml:2:\d+ at self.post_service.data_source: data_source describes an event/)])
  }))
})
