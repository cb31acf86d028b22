/**
 * The scheduler plugin: Neubot-style periodic measurement tests. Test descriptors in a
 * folder say how to run each test and when; tests run one at a time as an unprivileged
 * user; results, failures included, and log lines go to size-capped stores; Neubot's
 * local API is served under `/scheduler/` and, when configured, at the root of port 9774.
 */
import * as Http from "@orch/core/Http"
import * as JobWorker from "@orch/core/JobWorker"
import * as Plugin from "@orch/core/Plugin"
import { Duration, Effect, Layer } from "effect"
import * as Api from "./Api.js"
import { NeubotApi } from "./ApiDescription.js"
import { commands } from "./Commands.js"
import * as Scheduler from "./Scheduler.js"
import { SchedulerConfig } from "./Settings.js"
import * as Stores from "./Stores.js"
import * as TuiViews from "./TuiViews.js"

export * as Api from "./Api.js"
export * as Descriptor from "./Descriptor.js"
export * as Runner from "./Runner.js"
export * as Scheduler from "./Scheduler.js"
export * as Settings from "./Settings.js"
export * as SpeedTest from "./SpeedTest.js"
export * as State from "./State.js"
export * as StatusPage from "./StatusPage.js"
export * as Stores from "./Stores.js"

/** The scheduler, started for as long as its scope lasts; fails (and says why) when it may not start. */
const services = (config: SchedulerConfig) =>
  Layer.scoped(
    Scheduler.Scheduler,
    Effect.gen(function*() {
      const info = yield* Plugin.DaemonInfo
      const context = yield* Plugin.PluginContext
      const dataDir = yield* Scheduler.dataDir
      const started = yield* Scheduler.make(config, { dataDir, speedTestUrl: Scheduler.ownSpeedTestUrl(info.host, info.port) }).pipe(
        Effect.mapError((error) =>
          error instanceof Scheduler.SchedulerError
            ? error
            : new Scheduler.SchedulerError({ message: `the scheduler cannot start: ${String(error)}` })
        )
      )
      const stores = started.service.engine.stores
      yield* context.addCollector(Effect.map(stores.sizes, (sizes) =>
        Stores.storeNames.map((store) => ({
          name: "orch_scheduler_store_bytes",
          help: "Bytes on disk of each scheduler store (file and WAL)",
          type: "gauge" as const,
          labels: { store },
          value: sizes[store]
        }))))
      return started
    })
  )

/** How often the descriptor folder is read again for new or changed schedules. */
const refreshEvery = Duration.seconds(60)

const loops = (config: SchedulerConfig) => ({
  descriptors: { iteration: Effect.flatMap(Scheduler.Scheduler, (scheduler) => Effect.asVoid(scheduler.refresh)), every: refreshEvery },
  // Neubot's own listener, one per address, serving the same routes at the root of its port.
  // Each is launched on its own: a layer build shares one router between listeners, which
  // would register every route twice.
  ...Object.fromEntries(
    config.apiPort === undefined ? [] : config.apiHosts.map((host) => [
      `neubot-api@${host}`,
      { daemon: Layer.launch(Http.serveOn({ host, port: config.apiPort!, access: Api.access }, Api.routes(config, ""))) }
    ])
  )
})

/** Runs one at a time, oldest first, as Neubot's did; a stop kills the running test at once. */
const workers = () => [
  JobWorker.make({
    kind: Scheduler.RunJob,
    handler: (job: Scheduler.RunJobOf) => Effect.flatMap(Scheduler.Scheduler, (scheduler) => scheduler.run(job)),
    concurrency: 1,
    leaseMs: 60_000,
    gracePeriod: Duration.zero
  })
]

export const plugin = Plugin.make({
  name: Scheduler.pluginName,
  description: "Neubot-style periodic measurement tests with size-capped stores and Neubot's local API",
  config: SchedulerConfig,
  jobKinds: [Scheduler.RunJob],
  services,
  loops,
  workers,
  http: (config) => ({ api: NeubotApi, routes: Api.routes(config, Plugin.basePath(Scheduler.pluginName)), access: Api.access }),
  commands,
  tui: TuiViews.views
})
