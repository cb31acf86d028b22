/**
 * Metrics: Effect `Metric`s are the source; this module renders them in the
 * Prometheus text format (Effect 3 has no exporter) together with samples that are
 * computed at scrape time (jobs by kind and state, devices by state), which plugins
 * add as collectors.
 */
import { Context, Effect, Layer, Metric, MetricBoundaries, MetricState, Option, Ref, type Scope } from "effect"
import type * as MetricPair from "effect/MetricPair"
import { monitorEventLoopDelay } from "node:perf_hooks"

/** A sample computed at scrape time. */
export interface Sample {
  readonly name: string
  readonly help: string
  readonly type: "gauge" | "counter"
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  /**
   * Export the name as it is, without `orch_`: for a series whose conventional name
   * another exporter defines, so its dashboards and alerts work unchanged (the watcher's
   * `probe_success`, as blackbox_exporter names it).
   */
  readonly unprefixed?: boolean | undefined
}

export type Collector = Effect.Effect<ReadonlyArray<Sample>>

/** Every series orch exports is prefixed so it never clashes with another exporter's. */
export const prefix = "orch_"

/**
 * The collectors run at each scrape. A collector is added in a scope and removed when
 * that scope closes, so a plugin whose services restart leaves no stale collector behind.
 */
export class Collectors extends Context.Tag("@orch/core/Metrics/Collectors")<Collectors, {
  readonly add: (collector: Collector) => Effect.Effect<void, never, Scope.Scope>
  readonly collect: Effect.Effect<ReadonlyArray<Sample>>
}>() {}

export const collectorsLayer: Layer.Layer<Collectors> = Layer.effect(
  Collectors,
  Effect.map(Ref.make<ReadonlySet<Collector>>(new Set()), (collectors) => ({
    add: (collector) =>
      Effect.acquireRelease(
        // a wrapper of its own, so the same effect added twice is removed once per scope
        Effect.sync(() => Effect.suspend(() => collector)).pipe(
          Effect.tap((entry) => Ref.update(collectors, (all) => new Set(all).add(entry)))
        ),
        (entry) =>
          Ref.update(collectors, (all) => {
            const next = new Set(all)
            next.delete(entry)
            return next
          })
      ),
    collect: Effect.flatMap(Ref.get(collectors), (all) =>
      Effect.map(
        // a failing collector drops its own samples, never the whole scrape
        Effect.forEach(all, (collector) => Effect.catchAllCause(collector, () => Effect.succeed([])), {
          concurrency: "unbounded"
        }),
        (lists) => lists.flat()
      ))
  }))
)

/** Adds a collector to the running daemon's scrape until the current scope closes. */
export const addCollector = (collector: Collector): Effect.Effect<void, never, Collectors | Scope.Scope> =>
  Effect.flatMap(Collectors, (collectors) => collectors.add(collector))

// -- core's own metrics -------------------------------------------------------

export const loopRestarts = Metric.counter("orch_loop_restarts_total", {
  description: "Supervised loops restarted after a failure, by loop",
  incremental: true
})

export const loopFailures = Metric.counter("orch_loop_failures_total", {
  description: "Failures of a supervised loop's iteration, by loop",
  incremental: true
})

export const httpRequests = Metric.counter("orch_http_requests_total", {
  description: "HTTP requests served, by method, path prefix and status",
  incremental: true
})

export const httpDuration = Metric.histogram(
  "orch_http_request_duration_seconds",
  MetricBoundaries.fromIterable([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  "HTTP request latency in seconds, by method and path prefix"
)

// -- Prometheus text format ----------------------------------------------------

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
const sanitizeName = (name: string) => name.replace(/[^a-zA-Z0-9_:]/g, "_")

const formatLabels = (labels: ReadonlyArray<readonly [string, string]>): string =>
  labels.length === 0 ? "" : `{${labels.map(([k, v]) => `${sanitizeName(k)}="${escapeLabel(v)}"`).join(",")}}`

const formatValue = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Infinity) return "+Inf"
  if (value === -Infinity) return "-Inf"
  return String(value)
}

interface Family {
  type: string
  help: string
  lines: Array<string>
}

/**
 * Renders a metric snapshot plus scrape-time samples; only `orch_` series are kept, and
 * samples get the prefix, except `standard` ones, whose names (`process_*`, `nodejs_*`)
 * are the conventional ones every Prometheus client library exports, and samples marked
 * `unprefixed`.
 */
export const renderPrometheus = (
  pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>,
  samples: ReadonlyArray<Sample> = [],
  standard: ReadonlyArray<Sample> = []
): string => {
  const families = new Map<string, Family>()
  const family = (name: string, type: string, help: string) => {
    let found = families.get(name)
    if (!found) {
      found = { type, help, lines: [] }
      families.set(name, found)
    }
    return found
  }
  for (const pair of pairs) {
    const key = pair.metricKey
    if (!key.name.startsWith(prefix)) continue // Effect's own effect_fiber_* and the like
    const name = sanitizeName(key.name)
    const help = Option.getOrElse(key.description, () => name)
    const labels = key.tags.map((tag) => [tag.key, tag.value] as const)
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      family(name, "counter", help).lines.push(`${name}${formatLabels(labels)} ${formatValue(state.count)}`)
    } else if (MetricState.isGaugeState(state)) {
      family(name, "gauge", help).lines.push(`${name}${formatLabels(labels)} ${formatValue(state.value)}`)
    } else if (MetricState.isHistogramState(state)) {
      const lines = family(name, "histogram", help).lines
      let sawInfinity = false
      for (const [bound, cumulative] of state.buckets) {
        sawInfinity ||= bound === Infinity
        lines.push(`${name}_bucket${formatLabels([...labels, ["le", formatValue(bound)]])} ${cumulative}`)
      }
      if (!sawInfinity) lines.push(`${name}_bucket${formatLabels([...labels, ["le", "+Inf"]])} ${state.count}`)
      lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      lines.push(`${name}_count${formatLabels(labels)} ${state.count}`)
    } else if (MetricState.isFrequencyState(state)) {
      const lines = family(name, "counter", help).lines
      for (const [value, count] of state.occurrences) {
        lines.push(`${name}${formatLabels([...labels, ["value", value]])} ${count}`)
      }
    } else if (MetricState.isSummaryState(state)) {
      const lines = family(name, "summary", help).lines
      for (const [quantile, value] of state.quantiles) {
        if (Option.isSome(value)) {
          lines.push(`${name}${formatLabels([...labels, ["quantile", String(quantile)]])} ${formatValue(value.value)}`)
        }
      }
      lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(state.sum)}`)
      lines.push(`${name}_count${formatLabels(labels)} ${state.count}`)
    }
  }
  for (const sample of samples) {
    const name = sanitizeName(sample.unprefixed || sample.name.startsWith(prefix) ? sample.name : prefix + sample.name)
    family(name, sample.type, sample.help).lines.push(
      `${name}${formatLabels(Object.entries(sample.labels))} ${formatValue(sample.value)}`
    )
  }
  for (const sample of standard) {
    const name = sanitizeName(sample.name)
    family(name, sample.type, sample.help).lines.push(
      `${name}${formatLabels(Object.entries(sample.labels))} ${formatValue(sample.value)}`
    )
  }
  let out = ""
  for (const [name, { help, lines, type }] of [...families].sort(([a], [b]) => a.localeCompare(b))) {
    out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n${lines.join("\n")}\n`
  }
  return out
}

// -- the process's own series ---------------------------------------------------

const resolutionMs = 10

/**
 * The process's standard series and `orch_build_info`, read at scrape time. The event loop
 * lag is the mean delay since the previous scrape, from a `monitorEventLoopDelay`
 * histogram that lives as long as the scope (it samples on a timer of its own).
 */
export const processSamples = (version: string): Effect.Effect<Effect.Effect<ReadonlyArray<Sample>>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        const histogram = monitorEventLoopDelay({ resolution: resolutionMs })
        histogram.enable()
        return histogram
      }),
      (histogram) => Effect.sync(() => histogram.disable())
    ),
    (histogram) =>
      Effect.sync((): ReadonlyArray<Sample> => {
        const cpu = process.cpuUsage()
        // each sample is the time between two ticks of the monitor's timer: the delay is what
        // exceeds the timer's period. No sample yet (a scrape right after the previous one,
        // whose first tick after the reset is not recorded) reads as no lag, not NaN.
        const lag = histogram.count > 0 && Number.isFinite(histogram.mean)
          ? Math.max(0, histogram.mean / 1e6 - resolutionMs) / 1e3
          : 0
        histogram.reset()
        return [
          {
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes",
            type: "gauge",
            labels: {},
            value: process.memoryUsage.rss()
          },
          {
            name: "process_cpu_seconds_total",
            help: "Total user and system CPU time spent in seconds",
            type: "counter",
            labels: {},
            value: (cpu.user + cpu.system) / 1e6
          },
          {
            name: "process_start_time_seconds",
            help: "Start time of the process since unix epoch in seconds",
            type: "gauge",
            labels: {},
            value: Math.round(Date.now() / 1000 - process.uptime())
          },
          {
            name: "nodejs_eventloop_lag_seconds",
            help: "Mean event loop delay in seconds since the previous scrape",
            type: "gauge",
            labels: {},
            value: lag
          },
          {
            name: "orch_build_info",
            help: "orch's version, as a label; the value is always 1",
            type: "gauge",
            labels: { version },
            value: 1
          }
        ]
      })
  )

/** The whole `/metrics` body: Effect metrics, every collector's samples and the process's series. */
export const scrapeWith = (standard: Effect.Effect<ReadonlyArray<Sample>>): Effect.Effect<string, never, Collectors> =>
  Effect.gen(function*() {
    const collectors = yield* Collectors
    const samples = yield* collectors.collect
    const pairs = yield* Metric.snapshot
    return renderPrometheus(pairs, samples, yield* standard)
  })

/** Effect metrics and every collector's samples, without the process's series. */
export const scrape: Effect.Effect<string, never, Collectors> = scrapeWith(Effect.succeed([]))
