import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Metric, MetricBoundaries, Scope } from "effect"
import * as Metrics from "../src/Metrics.js"

describe("Metrics", () => {
  it.effect("renders counters, gauges, histograms and samples in Prometheus text, orch_ series only", () =>
    Effect.gen(function*() {
      const counter = Metric.counter("orch_test_events_total", { description: "Events", incremental: true })
      const gauge = Metric.gauge("orch_test_level")
      const histogram = Metric.histogram("orch_test_seconds", MetricBoundaries.fromIterable([0.1, 1]), "Latency")
      const foreign = Metric.counter("someone_else_total")
      yield* Metric.increment(Metric.tagged(counter, "kind", "a\"b"))
      yield* Metric.set(gauge, 7)
      yield* Metric.update(histogram, 0.05)
      yield* Metric.update(histogram, 0.5)
      yield* Metric.update(histogram, 5)
      yield* Metric.increment(foreign)
      const text = Metrics.renderPrometheus(yield* Metric.snapshot, [
        { name: "orch_test_jobs", help: "Jobs", type: "gauge", labels: { state: "queued" }, value: 3 }
      ])
      expect(text).toContain("# TYPE orch_test_events_total counter\norch_test_events_total{kind=\"a\\\"b\"} 1")
      expect(text).toContain("orch_test_level 7")
      expect(text).toContain("orch_test_seconds_bucket{le=\"0.1\"} 1")
      expect(text).toContain("orch_test_seconds_bucket{le=\"1\"} 2")
      expect(text).toContain("orch_test_seconds_bucket{le=\"+Inf\"} 3")
      expect(text).toContain("orch_test_seconds_count 3")
      expect(text).toContain("# TYPE orch_test_jobs gauge\norch_test_jobs{state=\"queued\"} 3")
      expect(text).not.toContain("someone_else")
      expect(text).not.toContain("effect_fiber")
    }))

  it("samples get the orch_ prefix unless marked unprefixed (another exporter's conventional name)", () => {
    const text = Metrics.renderPrometheus([], [
      { name: "watcher_endpoints", help: "Endpoints", type: "gauge", labels: {}, value: 2 },
      { name: "probe_success", help: "Up", type: "gauge", labels: { endpoint: "a" }, value: 1, unprefixed: true },
      { name: "probe_success", help: "Up", type: "gauge", labels: { endpoint: "b" }, value: 0, unprefixed: true }
    ])
    expect(text).toContain("# TYPE orch_watcher_endpoints gauge\norch_watcher_endpoints 2")
    expect(text).toContain("# TYPE probe_success gauge\nprobe_success{endpoint=\"a\"} 1\nprobe_success{endpoint=\"b\"} 0")
    expect(text).not.toContain("orch_probe_success")
  })

  it.scoped("a failing collector drops only its own samples", () =>
    Effect.gen(function*() {
      yield* Metrics.addCollector(Effect.die("broken"))
      yield* Metrics.addCollector(Effect.succeed([{ name: "orch_ok", help: "ok", type: "gauge" as const, labels: {}, value: 1 }]))
      const text = yield* Metrics.scrape
      expect(text).toContain("orch_ok 1")
    }).pipe(Effect.provide(Metrics.collectorsLayer)))

  it.scoped("a collector is gone once the scope that added it closes", () =>
    Effect.gen(function*() {
      const sample = (name: string) => Effect.succeed([{ name, help: name, type: "gauge" as const, labels: {}, value: 1 }])
      yield* Metrics.addCollector(sample("orch_kept"))
      const scope = yield* Scope.make()
      yield* Metrics.addCollector(sample("orch_scoped")).pipe(Scope.extend(scope))
      expect((yield* Metrics.scrape)).toContain("orch_scoped 1")
      yield* Scope.close(scope, Exit.void)
      const text = yield* Metrics.scrape
      expect(text).not.toContain("orch_scoped")
      expect(text).toContain("orch_kept 1")
    }).pipe(Effect.provide(Metrics.collectorsLayer)))
})
