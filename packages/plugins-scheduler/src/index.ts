/**
 * The scheduler plugin: Neubot-style periodic measurement tests. Test descriptors in a
 * folder say how to run each test and when; tests run one at a time as an unprivileged
 * user; results, failures included, and log lines go to size-capped stores; Neubot's
 * local API is served under `/scheduler/` and, when configured, at the root of port 9774.
 */
import * as Http from "@orch/core/Http"
import * as Metrics from "@orch/core/Metrics"
import * as Plugin from "@orch/core/Plugin"
import { Supervisor } from "@orch/core/Supervisor"
import { Effect, Either, Layer } from "effect"
import * as Api from "./Api.js"
import { commands } from "./Commands.js"
import * as Scheduler from "./Scheduler.js"
import { SchedulerConfig } from "./Settings.js"
import * as StatusPage from "./StatusPage.js"
import * as Stores from "./Stores.js"

export * as Api from "./Api.js"
export * as Descriptor from "./Descriptor.js"
export * as Runner from "./Runner.js"
export * as Scheduler from "./Scheduler.js"
export * as Settings from "./Settings.js"
export * as SpeedTest from "./SpeedTest.js"
export * as State from "./State.js"
export * as StatusPage from "./StatusPage.js"
export * as Stores from "./Stores.js"

const collectorAdded = new WeakSet<object>()

/** Starts the scheduler and publishes it to the routes; fails (and says why) when it may not start. */
const start = (config: SchedulerConfig) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const handle = Scheduler.handleFor(config)
    const info = yield* Plugin.DaemonInfo
    const dataDir = yield* Scheduler.dataDir
    const started = yield* Effect.either(
      Scheduler.make(config, { dataDir, speedTestUrl: Scheduler.ownSpeedTestUrl(info.host, info.port) })
    )
    if (Either.isLeft(started)) {
      const error = started.left
      handle.failure = error instanceof Scheduler.SchedulerError ? error.message : `the scheduler cannot start: ${String(error)}`
      return yield* Effect.fail(new Scheduler.SchedulerError({ message: handle.failure }))
    }
    const { refresh, refreshEvery, service, work } = started.right
    handle.current = service
    handle.failure = undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      if (handle.current === service) handle.current = undefined
    }))
    if (!collectorAdded.has(handle)) {
      collectorAdded.add(handle)
      yield* Metrics.addCollector(Effect.gen(function*() {
        const current = handle.current
        if (current === undefined) return []
        const sizes = yield* current.engine.stores.sizes
        return Stores.storeNames.map((store) => ({
          name: "orch_scheduler_store_bytes",
          help: "Bytes on disk of each scheduler store (file and WAL)",
          type: "gauge" as const,
          labels: { store },
          value: sizes[store]
        }))
      }))
    }
    const supervisor = yield* Supervisor
    yield* supervisor.loop("scheduler:runner", work)
    yield* supervisor.loop("scheduler:descriptors", Effect.asVoid(refresh), { every: refreshEvery })
    // Neubot's own listener, one per address. Each is launched on its own: a layer build
    // shares one router between listeners, which would register every route twice.
    if (config.apiPort !== undefined) {
      for (const host of config.apiHosts) {
        yield* supervisor.daemon(
          `scheduler:neubot-api@${host}`,
          Layer.launch(Http.serveOn({ host, port: config.apiPort }, Api.routes(handle, config, "")))
        )
      }
    }
  }))

export const plugin = Plugin.make({
  name: Scheduler.pluginName,
  description: "Neubot-style periodic measurement tests with size-capped stores and Neubot's local API",
  config: SchedulerConfig,
  jobKinds: [Scheduler.RunJob],
  layer: start,
  http: (config) => ({ routes: Api.routes(Scheduler.handleFor(config), config, Api.mainPrefix) }),
  commands,
  tui: (config) =>
    Effect.gen(function*() {
      const rows = yield* Stores.latestResults(Scheduler.storesDir(yield* Scheduler.dataDir))
      return [{
        title: `scheduler: newest result of each test (descriptors in ${config.descriptors})`,
        columns: StatusPage.tableColumns,
        rows: StatusPage.tableRows(rows.map((row) => ({ test: row.test_name, startedAt: row.timestamp_msec, result: JSON.parse(row.json) })))
      }]
    })
})
