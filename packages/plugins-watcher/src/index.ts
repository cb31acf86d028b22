/**
 * The watcher plugin: endpoints checked on cron schedules from YAML files, the responses
 * judged (extracted values, the seed's success test, Gatus conditions), states with
 * thresholds, results and uptime stored, Datadog events and webhooks sent through a
 * durable queue, blackbox_exporter-style series, a status page and a JSON API under
 * /watcher/, and `orch watcher validate`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as JobWorker from "@orch/core/JobWorker"
import * as Plugin from "@orch/core/Plugin"
import { Clock, Duration, Effect, Layer } from "effect"
import * as Aws from "./Aws.js"
import { commands } from "./Commands.js"
import * as EndpointFiles from "./EndpointFiles.js"
import * as Metrics from "./Metrics.js"
import { routes } from "./Routes.js"
import * as Self from "./Self.js"
import * as SelfMonitor from "./SelfMonitor.js"
import * as Sinks from "./Sinks.js"
import { migrations, pruneUptime } from "./sql.js"
import * as TuiViews from "./TuiViews.js"
import * as Watcher from "./Watcher.js"
import { WatcherConfig } from "./WatcherConfig.js"

export * as Conditions from "./Conditions.js"
export * as Endpoint from "./Endpoint.js"
export * as EndpointFiles from "./EndpointFiles.js"
export * as Probe from "./Probe.js"
export * as Self from "./Self.js"
export * as SelfMonitor from "./SelfMonitor.js"
export * as Sinks from "./Sinks.js"
export * as Timetable from "./Timetable.js"
export * as Verdict from "./Verdict.js"
export { Watcher } from "./Watcher.js"
export { WatcherConfig } from "./WatcherConfig.js"

const services = (config: WatcherConfig) =>
  Layer.scoped(
    Watcher.Watcher,
    Effect.gen(function*() {
      const context = yield* Plugin.PluginContext
      const watcher = yield* Watcher.make(config, { owner: context.ownerId })
      yield* context.addCollector(Metrics.collector(watcher))
      return watcher
    })
  )

const loops = (config: WatcherConfig) => {
  // a worker silent for a lease is gone (as for its jobsets): its episode is anyone's to end
  const monitor = SelfMonitor.make({
    liveMs: config.leaseSeconds > config.heartbeatSeconds ? config.leaseSeconds * 1000 : 3 * config.heartbeatSeconds * 1000
  })
  return {
    self: {
      iteration: Effect.gen(function*() {
        const watcher = yield* Watcher.Watcher
        const load = yield* watcher.load
        yield* monitor.tick(EndpointFiles.selfOf(load), EndpointFiles.endpointsOf(load).length)
      }),
      every: Duration.seconds(1)
    },
    files: { iteration: Effect.flatMap(Watcher.Watcher, (watcher) => Effect.asVoid(watcher.refresh)), every: Duration.seconds(config.pollSeconds) },
    prune: {
      iteration: Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* pruneUptime(sql, yield* Clock.currentTimeMillis)
      }),
      every: Duration.hours(1)
    }
  }
}

const workers = (config: WatcherConfig) => {
  // the AWS clients and batches of this worker, made on first use
  const aws = Aws.make()
  return [
    JobWorker.make({
      kind: Sinks.SendJob,
      handler: (job) =>
        Effect.flatMap(Watcher.Watcher, (watcher) =>
          Effect.flatMap(watcher.load, (load) =>
            Sinks.send((key) => key === Self.key ? EndpointFiles.selfOf(load) : watcher.endpoint(key), job.payload, aws))),
      concurrency: config.sendConcurrency,
      leaseMs: 60_000
    })
  ]
}

export const plugin = Plugin.make({
  name: Sinks.pluginName,
  description: "Check endpoints from YAML files on cron schedules; judge the responses; Datadog events, EventBridge events, CloudWatch metrics, webhooks, a status page",
  config: WatcherConfig,
  migrations,
  jobKinds: [Sinks.SendJob],
  services,
  loops,
  workers,
  http: () => ({ routes }),
  commands,
  tui: TuiViews.views
})
