/**
 * The bench plugin (tablejohn's server): a git repository's commits, refs and tracked refs
 * imported with the `git` binary, new commits on tracked refs queued, runs handed to remote
 * workers over tablejohn's worker protocol (`/bench/api/worker/`), their measurements and
 * output stored once; the queue, runs and imports through `/bench/api/` and `orch bench …`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Plugin from "@orch/core/Plugin"
import { Clock, Duration, Effect, Layer } from "effect"
import * as Analysis from "./Analysis.js"
import * as Api from "./Api.js"
import * as Bench from "./Bench.js"
import { BenchConfig } from "./BenchConfig.js"
import { commands } from "./Commands.js"
import { compareCommand } from "./CompareCommand.js"
import * as Metrics from "./Metrics.js"
import { pageRoutes } from "./Pages.js"
import { migrations, pruneWorkers } from "./sql/index.js"
import { localWorkerLoop, workerCommand } from "./worker/index.js"
import * as TuiViews from "./TuiViews.js"
import * as WorkerApi from "./WorkerApi.js"

export { Bench } from "./Bench.js"
export { BenchConfig } from "./BenchConfig.js"
export * as Measurement from "./Measurement.js"
export * as Protocol from "./Protocol.js"
export * as Repo from "./Repo.js"

export const name = "bench"

const services = (config: BenchConfig) =>
  Layer.scoped(
    Bench.Bench,
    Effect.gen(function*() {
      const context = yield* Plugin.PluginContext
      const sql = yield* SqlClient.SqlClient
      const bench = yield* Bench.make(config)
      yield* context.addCollector(Metrics.collector(sql, config.workerTimeoutSeconds * 1000))
      return bench
    })
  )

const loops = (config: BenchConfig) => ({
  // fetch and import at start, then every fetchSeconds; on one node of a cluster (the import queues runs)
  repo: {
    iteration: Effect.asVoid(Effect.flatMap(Bench.Bench, (bench) => bench.update)),
    every: Duration.seconds(config.fetchSeconds),
    singleton: true as const
  },
  // change detection over each stored run (suspects re-queued, alerts raised, commits bisected);
  // on one node of a cluster: a run is read, analysed, then marked, so two nodes would both act on it
  analysis: { iteration: Effect.asVoid(Analysis.analysePending()), every: Duration.seconds(1), singleton: true as const },
  // runs and measurements are the product and stay; workers long gone are forgotten
  prune: {
    iteration: Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* pruneWorkers(sql, (yield* Clock.currentTimeMillis) - config.workerKeepDays * 86_400_000)
    }),
    every: Duration.hours(1)
  },
  // tablejohn's local runner: this process benchmarks its own queue too
  ...(config.localWorker
    ? { localWorker: { daemon: Effect.flatMap(Bench.Bench, (bench) => localWorkerLoop(bench.token, { section: config.worker })) } }
    : {})
})

export const plugin = Plugin.make({
  name,
  description: "Track a git repository's commits, queue benchmark runs, hand them to workers over tablejohn's protocol, store the measurements",
  config: BenchConfig,
  migrations,
  services,
  loops,
  // pageRoutes holds the pages and their read-only JSON API
  http: () => ({ routes: Layer.mergeAll(WorkerApi.routes, Api.routes, pageRoutes), access: WorkerApi.access }),
  commands: [...commands, compareCommand, workerCommand],
  tui: TuiViews.views
})
