/**
 * Builds core plus the chosen plugins and runs them: the one place where storage,
 * queues, HTTP, logging and every plugin's layer are composed.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Layer } from "effect"
import * as Access from "./Access.js"
import * as Config from "./Config.js"
import * as Database from "./Database.js"
import * as Http from "./Http.js"
import * as Jobs from "./Jobs.js"
import * as Logging from "./Logging.js"
import * as Metrics from "./Metrics.js"
import * as Migrations from "./Migrations.js"
import * as Notifications from "./Notifications.js"
import * as Plugin from "./Plugin.js"
import { DaemonInfo, type Plugin as AnyPlugin } from "./Plugin.js"
import * as PluginRuntime from "./PluginRuntime.js"
import * as Resources from "./Resources.js"
import * as Retention from "./Retention.js"
import * as Schedules from "./Schedules.js"
import * as Fencing from "./sql/fencing.js"
import { coreMigrations } from "./sql/migrations.js"
import * as Supervisor from "./Supervisor.js"

/** Every migration this build knows, core's first. */
export const migrationSets = (plugins: ReadonlyArray<AnyPlugin>): ReadonlyArray<readonly [string, Migrations.Migrations]> => [
  ["core", coreMigrations],
  ...plugins.flatMap((plugin) => (plugin.migrations ? [[plugin.name, plugin.migrations] as const] : []))
]

/** Applies every pending migration, logging each; returns what it applied. */
export const migrate = (plugins: ReadonlyArray<AnyPlugin>) =>
  Effect.forEach(migrationSets(plugins), ([owner, record]) => Migrations.apply(owner, record)).pipe(
    Effect.map((applied) => applied.flat()),
    Effect.tap((applied) =>
      Effect.forEach(applied, (m) => Effect.logInfo(`applied migration ${m.owner}/${m.id}_${m.name}`), { discard: true })
    )
  )

/** Migration status of core and every plugin this build knows. */
export const migrationStatus = (plugins: ReadonlyArray<AnyPlugin>) => Migrations.status(migrationSets(plugins))

/** The configured database, opened but not migrated, with the config beside it. */
export const databaseLayer = (config: Config.OrchConfig) =>
  Database.layerFor(
    config.database.dialect === "pg"
      ? { dialect: "pg", options: { url: config.database.url } }
      : {
        dialect: "sqlite",
        options: {
          filename: config.database.file,
          busyTimeoutMs: config.core.database.busyTimeoutMs,
          synchronous: config.core.database.synchronous
        }
      }
  ).pipe(Layer.provideMerge(Layer.succeed(Config.Config, config)))

/**
 * Core's services over the configured database, migrated: what CLI commands and the
 * daemon share. `plugins` are all the plugins this build knows (their kinds and tables).
 */
export const coreLayer = (config: Config.OrchConfig, plugins: ReadonlyArray<AnyPlugin>) => {
  const migrated = Layer.effectDiscard(migrate(plugins)).pipe(Layer.provideMerge(databaseLayer(config)))
  // the queue and the resources publish their wake-ups through Notifications: across nodes on PostgreSQL
  const services = Layer.mergeAll(
    Jobs.JobQueue.layer(plugins.flatMap((plugin) => plugin.jobKinds ?? [])),
    Resources.Resources.layer(plugins.flatMap((plugin) => plugin.resourceKinds ?? [])),
    Schedules.Schedules.layer({ timeZone: config.core.timeZone })
  ).pipe(Layer.provideMerge(Notifications.layer))
  return services.pipe(
    Layer.provideMerge(migrated),
    Layer.provideMerge(Metrics.collectorsLayer),
    Layer.provideMerge(NodeContext.layer)
  )
}

export const loggingLayer = (config: Config.OrchConfig) =>
  Logging.layer({
    level: config.core.log.level,
    format: config.core.log.format,
    file: config.core.log.file,
    secrets: config.secrets
  })

/** Samples for `orch_jobs{plugin,kind,state}`, including zero for declared states with no job. */
const jobsCollector = (queue: Jobs.JobQueueService, plugins: ReadonlyArray<AnyPlugin>) =>
  Effect.gen(function*() {
    const counts = yield* queue.countByState()
    const samples = new Map<string, Metrics.Sample>()
    const put = (plugin: string, kind: string, state: string, value: number) =>
      samples.set(`${plugin}\u0000${kind}\u0000${state}`, {
        name: "orch_jobs",
        help: "Jobs in the queue by plugin, kind and state",
        type: "gauge",
        labels: { plugin, kind, state },
        value
      })
    for (const plugin of plugins) {
      for (const kind of plugin.jobKinds ?? []) {
        for (const state of kind.states) put(kind.plugin, kind.name, state, 0)
      }
    }
    for (const row of counts) put(row.plugin, row.kind, row.state, row.count)
    return [...samples.values()]
  }).pipe(Effect.orDie)

export interface DaemonOptions {
  readonly config: Config.OrchConfig
  /** Every plugin this build knows (for migrations and kinds). */
  readonly available: ReadonlyArray<AnyPlugin>
  /** The plugins to run. */
  readonly selected: ReadonlyArray<AnyPlugin>
  readonly version: string
}

/**
 * Starts core and the selected plugins in the current scope and returns where the server
 * listens. Plugins' services come up in the background (their routes answer 503 until
 * then). Closing the scope drains: loops finish the iteration in hand within the grace
 * period; then plugins stop, the server closes and the database closes.
 */
export const start = (options: DaemonOptions) =>
  Effect.gen(function*() {
    const { config, selected } = options
    yield* Plugin.check(options.available)
    const running = yield* Effect.forEach(selected, (plugin) => PluginRuntime.make(plugin, config.plugins[plugin.name]))
    const mounted = running.flatMap((plugin): Array<Http.Mounted> => {
      if (plugin.plugin.http === undefined) return []
      const http = plugin.plugin.http(plugin.config)
      return [{
        name: plugin.plugin.name,
        api: PluginRuntime.api(plugin.plugin.name, http),
        routes: PluginRuntime.routes(plugin, http),
        access: Access.prefixRules(Plugin.basePath(plugin.plugin.name), http.access ?? [])
      }]
    })
    const panels = running.flatMap((plugin) =>
      plugin.plugin.tui === undefined ? [] : [{
        name: plugin.plugin.name,
        views: plugin.plugin.tui(plugin.config).map((view) => ({ ...view, read: PluginRuntime.withServices(plugin, view.read) }))
      }]
    )
    const http = Http.serve(config.core.http, mounted, options.version, panels).pipe(
      Layer.provideMerge(Http.listen(config.core.http, {
        startedAt: Date.now(),
        plugins: selected.map((p) => p.name),
        shutdownGraceMs: config.core.shutdownGraceSeconds * 1000,
        access: { tokens: config.core.auth.tokens, rules: mounted.flatMap((m) => m.access ?? []) }
      }))
    )
    const context = yield* Layer.build(http.pipe(
      Layer.provideMerge(Supervisor.layer),
      Layer.provideMerge(coreLayer(config, options.available))
    ))
    return yield* Effect.gen(function*() {
      const supervisor = yield* Supervisor.Supervisor
      const queue = yield* Jobs.JobQueue
      yield* Metrics.addCollector(jobsCollector(queue, options.available))
      yield* supervisor.loop("core:reclaim-expired-jobs", Effect.asVoid(queue.reclaimExpired()), { every: "5 seconds" })
      // fails while the database cannot be written, and so makes /readyz say so
      yield* supervisor.loop("core:database-write", Fencing.probeWrite(yield* SqlClient.SqlClient), {
        every: "5 seconds",
        backoff: { initial: "1 second", max: "5 seconds" }
      })
      // history of every plugin this build knows, whichever run: their rows share the file
      yield* Retention.run(Retention.targetOf(options.available, config.core.retention), options.available, supervisor)
      yield* Effect.forEach(running, (plugin) => plugin.start, { discard: true })
      // registered last so it runs first when the scope closes: drain before anything stops
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(
          Effect.logInfo("shutting down: finishing work in flight"),
          supervisor.drain(Duration.seconds(config.core.shutdownGraceSeconds))
        )
      )
      return { info: yield* DaemonInfo, running }
    }).pipe(Effect.provide(context))
  })

/**
 * Bound beyond loopback with no tokens, anyone who reaches the address may do anything:
 * said at start, on stderr even when the log level would hide a warning.
 */
const warnIfOpen = (config: Config.OrchConfig) => {
  const host = config.core.http.host
  if (Access.isLoopback(host) || config.core.auth.tokens.length > 0) return Effect.void
  const message = `orch listens on ${host}, beyond this machine, with no tokens: anyone who reaches it may run, cancel and stop ` +
    `anything. Configure core.auth.tokens, or bind 127.0.0.1 (core.http.host, --http-host).`
  const hidden = config.core.log.level === "error" || config.core.log.level === "none"
  return hidden ? Effect.sync(() => process.stderr.write(`WARNING: ${message}\n`)) : Effect.logWarning(message)
}

/**
 * Runs the daemon until interrupted (SIGINT/SIGTERM through `NodeRuntime.runMain`).
 * "orch listening on <url>" is logged once every plugin's services have had a first go
 * (up, or failed and retrying), so whoever waits for it finds routes serving, not starting.
 */
export const daemon = (options: DaemonOptions) =>
  Effect.gen(function*() {
    const { info, running } = yield* start(options)
    yield* Effect.forEach(running, (plugin) => plugin.started, { discard: true, concurrency: "unbounded" }).pipe(
      Effect.timeoutOption("30 seconds")
    )
    yield* Effect.logInfo(`orch listening on ${info.url}`).pipe(Effect.annotateLogs({ url: info.url }))
    yield* warnIfOpen(options.config)
    yield* Effect.logInfo(`orch started with plugins: ${options.selected.map((p) => p.name).join(", ") || "(none)"}`).pipe(
      Effect.annotateLogs({ database: options.config.database.location, config: options.config.file ?? "(defaults)" })
    )
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(loggingLayer(options.config)))
