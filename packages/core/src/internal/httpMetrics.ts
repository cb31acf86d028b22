/** The request metrics of every HTTP route, Effect's and hot ones: the same series, the same labels. */
import { Metric, MetricLabel } from "effect"
import * as Metrics from "../Metrics.js"

/** The `/<plugin>` part of a path, a bounded label for metrics. */
export const pathPrefix = (url: string, known: ReadonlySet<string>): string => {
  const segment = "/" + (url.split("?")[0]!.split("/")[1] ?? "")
  return known.has(segment) ? segment : "other"
}

/**
 * Records one answered request. Tagged metrics are built once per label set (building one
 * hashes its key, which costs more than the update) and updated in place.
 */
export const recorder = () => {
  const counters = new Map<string, Metric.Metric.Counter<number>>()
  const histograms = new Map<string, typeof Metrics.httpDuration>()
  return (method: string, prefix: string, status: number, seconds: number): void => {
    const key = `${method} ${prefix}`
    let histogram = histograms.get(key)
    if (histogram === undefined) {
      histogram = Metric.taggedWithLabels(Metrics.httpDuration, [MetricLabel.make("method", method), MetricLabel.make("path", prefix)])
      histograms.set(key, histogram)
    }
    const counterKey = `${key} ${status}`
    let counter = counters.get(counterKey)
    if (counter === undefined) {
      counter = Metric.taggedWithLabels(Metrics.httpRequests, [
        MetricLabel.make("method", method),
        MetricLabel.make("path", prefix),
        MetricLabel.make("status", String(status))
      ])
      counters.set(counterKey, counter)
    }
    counter.unsafeUpdate(1, [])
    histogram.unsafeUpdate(seconds, [])
  }
}
