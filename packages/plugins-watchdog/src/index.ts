/**
 * The watchdog plugin: a queue of WebPageTest jobs, dispatched to a WPT server when a
 * location's agent is idle, their results collected, and the Compute Engine instances
 * hosting the agents started, stopped and repaired.
 */
import * as Plugin from "@orch/core/Plugin"
import { Context, Effect, Layer } from "effect"
import * as Api from "./Api.js"
import { commands } from "./Commands.js"
import { type WatchdogConfig as Settings, WatchdogConfig } from "./Config.js"
import * as Gce from "./Gce.js"
import * as InstanceController from "./InstanceController.js"
import { InstanceKind, InstanceProvider } from "./Instances.js"
import * as JobFinisher from "./JobFinisher.js"
import * as JobStarter from "./JobStarter.js"
import { migrations } from "./sql.js"
import * as TuiViews from "./TuiViews.js"
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

/**
 * The WPT client and the instance provider the loops and the API use. Without
 * `wpt.server` the client says so on every call and the loops stay idle.
 */
export const services = (config: Settings) =>
  Layer.scopedContext(Effect.gen(function*() {
    if (config.wpt.server === undefined) {
      yield* Effect.logInfo("watchdog: wpt.server is not set; job_starter, job_finisher and instance_controller stay idle")
      return Context.make(Wpt.WptClient, Watchdog.wptClient(config)).pipe(Context.add(InstanceProvider, Gce.staticProvider))
    }
    if (config.finisher.batchSize !== undefined) {
      yield* Effect.logWarning(
        "watchdog: finisher.batchSize is no longer used (job_finisher checks every due job, finisher.concurrency at once); remove it"
      )
    }
    if (config.wpt.requestTimeoutMs * 2 >= config.leaseMs) {
      yield* Effect.logWarning(
        `watchdog: leaseMs (${config.leaseMs}) should be well over twice wpt.requestTimeoutMs (${config.wpt.requestTimeoutMs}), so a lease never ends during a submission`
      )
    }
    if (config.starter.lostAnswerWaitMs <= config.wpt.requestTimeoutMs) {
      yield* Effect.logWarning(
        `watchdog: starter.lostAnswerWaitMs (${config.starter.lostAnswerWaitMs}) should be well over wpt.requestTimeoutMs (${config.wpt.requestTimeoutMs}): WPT may still be working on a submission orch stopped waiting for, and a test it logs after the lookup is submitted twice`
      )
    }
    const wpt = Watchdog.wptClient(config)
    const provider = yield* Effect.acquireRelease(
      Effect.sync(() => config.provider === "gce" ? Gce.make(config) : Gce.staticProvider),
      (provider) => provider.close
    )
    yield* Effect.logInfo(`watchdog: dispatching to ${wpt.server} with the ${provider.name} instance provider`)
    return Context.make(Wpt.WptClient, wpt).pipe(Context.add(InstanceProvider, provider))
  }))

/**
 * job_starter and (with a provider that manages instances) instance_controller. The
 * starter stays a loop: whether a job may be submitted depends on the other jobs of its
 * location in the same round (see JobStarter).
 *
 * Both run on one node of a cluster (`singleton`): two starters would each spend a
 * location's whole room, and two controllers would each start or stop the same instances.
 */
export const loops = (config: Settings) =>
  config.wpt.server === undefined ? {} : {
    job_starter: { iteration: JobStarter.round(config), every: config.starter.intervalMs, singleton: true as const },
    ...(config.provider === "static" ? {} : {
      instance_controller: { iteration: InstanceController.round(config), every: config.controller.intervalMs, singleton: true as const }
    })
  }

/** job_finisher: a job worker over SUBMITTED jobs, run by core as `watchdog:worker:wpt-test`. */
export const workers = (config: Settings) => config.wpt.server === undefined ? [] : [JobFinisher.worker(config)]

export const plugin = Plugin.make({
  name: "watchdog",
  description: "watchdog: WebPageTest job queue, dispatch to idle agents, results, and Compute Engine instances",
  config: WatchdogConfig,
  migrations,
  jobKinds: [WptTest],
  resourceKinds: [InstanceKind],
  // a job's submissions to WPT go with the job when retention removes it
  retention: [{ table: "watchdog_submissions", column: "job_id", belongsTo: "job" }],
  services,
  loops,
  workers,
  http: (config) => ({ api: Api.WatchdogApi, routes: Api.routes(config) }),
  commands: [...commands],
  tui: TuiViews.views
})
