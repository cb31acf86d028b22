import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { advanceClock, tempDir } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Clock, Effect, Layer, Metric, Schedule, TestClock } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as SelfMonitor from "../src/SelfMonitor.js"
import * as Sinks from "../src/Sinks.js"
import * as Sql from "../src/sql.js"
import { migrations } from "../src/sql.js"
import * as Watcher from "../src/Watcher.js"

const servicesLayerOn = (backend: Backend) =>
  JobQueue.layer([Sinks.SendJob]).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
    Layer.provideMerge(backend.database())
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

describeBackends("self-monitoring", (backend) => {
  const servicesLayer = () => servicesLayerOn(backend)
  it.scoped("reports its health each interval; raises 'scaling limit hit' once per episode and 'scaling limit cleared' when back", () =>
    Effect.gen(function*() {
      const load = EndpointFiles.loadText(selfFile, "self.yml", defaults, {})
      expect(load.problems).toEqual([])
      const self = load.self!
      expect(self).toMatchObject({ key: "self", everyMs: 60_000, maxLagP99Ms: 1000, maxMissed: 0 })
      const monitor = SelfMonitor.make()
      const reports: Array<Sinks.Report> = []
      // the plugin's loop: a tick each second
      const loop = yield* Effect.forkScoped(Effect.repeat(
        Effect.tap(monitor.tick(self, 5), (report) => Effect.sync(() => report && reports.push(report))),
        Schedule.spaced("1 second")
      ))
      // each tick's SQL may wait on real I/O (PostgreSQL): the clock moves a tick at a time
      const minute = advanceClock(60_000, [loop])

      yield* lags(0.01, 100) // before the first tick: not in any window
      yield* advanceClock(1_000, [loop])
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

  it.effect("the episode outlives a restart: the new process does not raise it again and does end it; a live worker's episode is not another's to end", () =>
    Effect.gen(function*() {
      const self = EndpointFiles.loadText(selfFile, "self.yml", defaults, {}).self!
      const sql = yield* SqlClient.SqlClient
      const headlines = (monitor: SelfMonitor.SelfMonitor) => Effect.gen(function*() {
        yield* TestClock.adjust("60 seconds")
        return (yield* monitor.tick(self, 5))?.headline?.replace("orch watcher: ", "")
      })
      const behind = lags(3, 10)
      const fine = lags(0.01, 10)

      const first = SelfMonitor.make({ owner: "h:1:watcher", liveMs: 10_000 })
      yield* first.tick(self, 5)
      yield* behind
      expect(yield* headlines(first)).toBe("scaling limit hit")
      // restarted (a new pid; the old one's heartbeat row is gone or stale) while still behind, then back
      const second = SelfMonitor.make({ owner: "h:2:watcher", liveMs: 10_000 })
      yield* second.tick(self, 5)
      yield* behind
      expect(yield* headlines(second)).toBe("watcher behind")
      yield* fine
      expect(yield* headlines(second)).toBe("scaling limit cleared")
      yield* fine
      expect(yield* headlines(second)).toBe("watcher health ok")

      // two live workers: the one behind starts the episode; the other, fine, does not end it
      const now = yield* Clock.currentTimeMillis
      const a = SelfMonitor.make({ owner: "h:3:watcher", liveMs: 10_000 })
      // (the lag series are the process's: b, fine, is given its own, empty ones)
      const b = SelfMonitor.make({ owner: "h:4:watcher", liveMs: 10_000, sample: Effect.succeed({ lagBuckets: [[Infinity, 0]], missed: 0 }) })
      yield* Effect.all([a.tick(self, 5), b.tick(self, 5)])
      yield* TestClock.adjust("60 seconds")
      yield* Sql.heartbeat(sql, "h:3:watcher", now + 60_000, 8)
      yield* behind
      expect((yield* a.tick(self, 5))?.headline).toBe("orch watcher: scaling limit hit")
      expect((yield* b.tick(self, 5))?.headline).toBe("orch watcher: watcher health ok")
      expect(yield* Sql.getEpisode(sql)).toBe("down")
      // a falls silent: its episode is b's to end
      yield* TestClock.adjust("60 seconds")
      expect((yield* b.tick(self, 5))?.headline).toBe("orch watcher: scaling limit cleared")
      expect(yield* Sql.getEpisode(sql)).toBe("up")
      // Datadog (state_change) got one hit and one clearing per episode
      const titles = (yield* sql<{ payload: string }>`SELECT payload FROM orch_jobs WHERE kind = 'send' ORDER BY id`)
        .map((row) => JSON.parse(row.payload)).filter((job) => job.sink === "post_endpoint").map((job) => job.body.title)
      expect(titles).toEqual([
        "orch watcher: scaling limit hit", "orch watcher: scaling limit cleared",
        "orch watcher: scaling limit hit", "orch watcher: scaling limit cleared"
      ])
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
