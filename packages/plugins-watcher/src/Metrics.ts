/**
 * The watcher's series at `/metrics`, read at each scrape from the newest outcome of
 * each endpoint, in blackbox_exporter's names (`probe_success`,
 * `probe_duration_seconds`, `probe_http_duration_seconds{phase}`,
 * `probe_http_status_code`, `probe_ssl_earliest_cert_expiry`) with `endpoint` and `file`
 * labels, exported without orch's prefix so blackbox_exporter's dashboards and alerts
 * work as they are; the watcher's own series are `orch_watcher_*`.
 */
import type { Collector, Sample } from "@orch/core/Metrics"
import { Effect } from "effect"
import * as EndpointFiles from "./EndpointFiles.js"
import type { WatcherService } from "./Watcher.js"

const gauge = (name: string, help: string, labels: Record<string, string>, value: number): Sample => ({
  name: `orch_watcher_${name}`,
  help,
  type: "gauge",
  labels,
  value
})

/** A blackbox_exporter series, by its name as blackbox_exporter exports it. */
const probe = (name: string, help: string, labels: Record<string, string>, value: number): Sample => ({
  name: `probe_${name}`,
  help,
  type: "gauge",
  labels,
  value,
  unprefixed: true
})

export const collector = (watcher: WatcherService): Collector =>
  Effect.gen(function*() {
    const load = yield* watcher.load
    const latest = yield* watcher.latest
    const samples: Array<Sample> = [
      gauge("endpoints", "Endpoints being checked", {}, EndpointFiles.endpointsOf(load).length),
      gauge("endpoint_files", "Endpoint files by status (ok, or skipped for a problem)", { status: "ok" }, load.files.filter((f) => f.problems.length === 0).length),
      gauge("endpoint_files", "Endpoint files by status (ok, or skipped for a problem)", { status: "skipped" }, load.files.filter((f) => f.problems.length > 0).length),
      gauge("checks_in_flight", "Checks running or waiting for a slot", {}, yield* watcher.timetable.inFlight)
    ]
    for (const [key, { endpoint, result, verdict }] of latest) {
      const labels = { endpoint: key, file: endpoint.file }
      samples.push(probe("success", "Whether the newest check of the endpoint succeeded", labels, verdict.success ? 1 : 0))
      samples.push(probe("duration_seconds", "How long the newest check took, in seconds", labels, result.totalMs / 1000))
      if (result.status !== undefined) samples.push(probe("http_status_code", "HTTP status of the newest check", labels, result.status))
      for (const [phase, ms] of Object.entries(result.phases)) {
        if (ms !== undefined) samples.push(probe("http_duration_seconds", "Duration of each phase of the newest check, in seconds", { ...labels, phase }, ms / 1000))
      }
      if (result.certificateExpiresAt !== undefined) {
        samples.push(probe("ssl_earliest_cert_expiry", "When the peer certificate expires, epoch seconds", labels, Math.floor(result.certificateExpiresAt / 1000)))
      }
    }
    return samples
  })
