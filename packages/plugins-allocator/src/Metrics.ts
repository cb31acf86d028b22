/** The allocator's counters (Effect metrics, exported by core at /metrics) and its device gauge. */
import * as Metrics from "@orch/core/Metrics"
import type { ResourcesService } from "@orch/core/Resources"
import { Effect, Metric, MetricBoundaries } from "effect"
import { Device, statusOf } from "./Device.js"

export const allocations = Metric.counter("orch_allocator_allocations_total", {
  description: "Allocation requests answered, by result (granted, denied) and reason of a denial",
  incremental: true
})

export const keepalives = Metric.counter("orch_allocator_keepalives_total", {
  description: "Keepalives answered, by result (ok, gone, forbidden, not_found)",
  incremental: true
})

export const releases = Metric.counter("orch_allocator_releases_total", {
  description: "Leases released by their holders",
  incremental: true
})

export const expiries = Metric.counter("orch_allocator_expiries_total", {
  description: "Leases that expired without a release",
  incremental: true
})

export const cleanings = Metric.counter("orch_allocator_cleanings_total", {
  description: "Cleaning runs, by device type and result (succeeded, failed)",
  incremental: true
})

export const healthChecks = Metric.counter("orch_allocator_health_checks_total", {
  description: "Health checks run, by device type and result (healthy, unhealthy)",
  incremental: true
})

export const waiting = Metric.gauge("orch_allocator_waiting_allocations", {
  description: "Allocations waiting for a device in this process"
})

export const waitOverrun = Metric.histogram(
  "orch_allocator_wait_overrun_seconds",
  MetricBoundaries.fromIterable([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
  "How long after its deadline a wait that ran out was answered (the daemon's timer, before the answer is written)"
)

const tagged = new WeakMap<Metric.Metric.Counter<number>, Map<string, Metric.Metric.Counter<number>>>()

/** Increments `counter` with `tags`; each tagged counter is built once (its key is hashed when built). */
export const count = (counter: Metric.Metric.Counter<number>, tags: Readonly<Record<string, string>>) => {
  let byTags = tagged.get(counter)
  if (byTags === undefined) tagged.set(counter, byTags = new Map())
  const key = JSON.stringify(tags)
  let metric = byTags.get(key)
  if (metric === undefined) {
    metric = Object.entries(tags).reduce((m, [name, value]) => Metric.tagged(m, name, value), counter)
    byTags.set(key, metric)
  }
  return Metric.increment(metric)
}

/** `orch_allocator_devices{type,status}`, read from the database at each scrape. */
export const devicesCollector = (resources: ResourcesService): Metrics.Collector =>
  Effect.gen(function*() {
    const devices = yield* resources.list({ kind: Device })
    const counts = new Map<string, { type: string; status: string; value: number }>()
    for (const device of devices) {
      const status = statusOf(device)
      if (status === "removed" && device.lease === undefined) continue
      const type = (device.data as { type?: string } | undefined)?.type ?? "unknown"
      const key = `${type}\u0000${status}`
      const entry = counts.get(key) ?? { type, status, value: 0 }
      entry.value++
      counts.set(key, entry)
    }
    return [...counts.values()].map((entry): Metrics.Sample => ({
      name: "orch_allocator_devices",
      help: "Devices by type and status (free, leased, draining, cleaning, quarantined, unhealthy, drained, removed)",
      type: "gauge",
      labels: { type: entry.type, status: entry.status },
      value: entry.value
    }))
  }).pipe(Effect.orDie)
