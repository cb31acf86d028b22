/**
 * The watchdog plugin: a queue of WebPageTest jobs, dispatched to a WPT server when a
 * location's agent is idle, their results collected, and the Compute Engine instances
 * hosting the agents started, stopped and repaired.
 */
import * as Plugin from "@orch/core/Plugin"
import { Supervisor } from "@orch/core/Supervisor"
import { Effect, Layer } from "effect"
import * as Api from "./Api.js"
import { commands } from "./Commands.js"
import { type WatchdogConfig as Settings, WatchdogConfig } from "./Config.js"
import * as Gce from "./Gce.js"
import * as InstanceController from "./InstanceController.js"
import { InstanceKind, InstanceProvider } from "./Instances.js"
import * as JobFinisher from "./JobFinisher.js"
import * as JobStarter from "./JobStarter.js"
import { migrations } from "./sql.js"
import * as Watchdog from "./Watchdog.js"
import * as Wpt from "./Wpt.js"
import { WptTest } from "./WptJob.js"

export { WatchdogApi } from "./Api.js"
export * as Config from "./Config.js"
export * as Instances from "./Instances.js"
export * as Location from "./Location.js"
export * as Wpt from "./Wpt.js"
export * as WptJob from "./WptJob.js"
export { InstanceController, JobFinisher, JobStarter, Watchdog }

/** The three loops over the configured WPT server and instance provider. */
export const loops = (config: Settings) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    if (config.wpt.server === undefined) {
      return yield* Effect.logInfo("watchdog: wpt.server is not set; job_starter, job_finisher and instance_controller stay idle")
    }
    if (config.wpt.requestTimeoutMs * 2 >= config.leaseMs) {
      yield* Effect.logWarning(
        `watchdog: leaseMs (${config.leaseMs}) should be well over twice wpt.requestTimeoutMs (${config.wpt.requestTimeoutMs}), so a lease never ends during a submission`
      )
    }
    const supervisor = yield* Supervisor
    const wpt = Wpt.make({ server: config.wpt.server, key: config.wpt.key, timeout: config.wpt.requestTimeoutMs })
    const provider = config.provider === "gce" ? Gce.make(config) : Gce.staticProvider
    yield* Effect.addFinalizer(() => provider.close)
    const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(Effect.provideService(Wpt.WptClient, wpt), Effect.provideService(InstanceProvider, provider))
    yield* supervisor.loop("watchdog:job_starter", provide(JobStarter.round(config)), { every: config.starter.intervalMs })
    yield* supervisor.loop("watchdog:job_finisher", provide(JobFinisher.round(config)), { every: config.finisher.intervalMs })
    if (provider.name !== "static") {
      yield* supervisor.loop("watchdog:instance_controller", provide(InstanceController.round(config)), {
        every: config.controller.intervalMs
      })
    }
    yield* Effect.logInfo(`watchdog: dispatching to ${wpt.server} with the ${provider.name} instance provider`)
  }))

/** What the TUI shows: jobs by location and state, and instances with their last decision. */
export const panels = Effect.gen(function*() {
  const locations = yield* Watchdog.jobsByLocation
  const instances = yield* Watchdog.instances
  const columns = ["AWAITING", "SUBMITTED", "FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED"]
  return [
    {
      title: "WPT jobs by location",
      columns: ["LOCATION", ...columns],
      rows: locations.map((l) => [l.location, ...columns.map((state) => String(l.counts[state] ?? 0))])
    },
    {
      title: "Instances",
      columns: ["NAME", "STATE", "LAST DECISION"],
      rows: instances.map((i) => [i.name, i.state, i.lastDecision ?? "-"])
    }
  ]
})

export const plugin = Plugin.make<Settings>({
  name: "watchdog",
  description: "watchdog: WebPageTest job queue, dispatch to idle agents, results, and Compute Engine instances",
  config: WatchdogConfig,
  migrations,
  jobKinds: [WptTest],
  resourceKinds: [InstanceKind],
  layer: loops,
  http: (config) => ({ api: Api.WatchdogApi, routes: Api.routes(config) }),
  commands: [...commands],
  tui: () => panels
})
