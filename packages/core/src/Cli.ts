/**
 * What every `orch` command shares: the options accepted after any command's own name,
 * the two kinds of command, and printing tables. A `command` talks to the running daemon
 * over its HTTP API (`DaemonClient`) and never opens a database; a `databaseCommand`
 * (`orch db …`) opens the configured file. Plugins build their `orch <plugin> …`
 * subcommands with `command`.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Config as EffectConfig, ConfigError as EffectConfigError, Effect, Either, type Layer, Option } from "effect"
import * as fs from "node:fs"
import * as Config from "./Config.js"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Database } from "./Database.js"
import { type ConfigError, DatabaseError, type MigrationError } from "./Errors.js"
import * as DaemonClient from "./DaemonClient.js"
import * as Logging from "./Logging.js"
import type { CliServices, CoreServices, Plugin } from "./Plugin.js"
import { Plugins } from "./Plugin.js"

export const configOption = Options.text("config").pipe(
  Options.withPseudoName("file"),
  Options.withDescription("Config file (default: ./orch.yaml when present; env ORCH_CONFIG)"),
  Options.withFallbackConfig(EffectConfig.string("ORCH_CONFIG")),
  Options.optional
)

export const dataDirOption = Options.text("data-dir").pipe(
  Options.withPseudoName("folder"),
  Options.withDescription("Folder for orch's database and state (default ./.orch; env ORCH_DATA_DIR)"),
  Options.withFallbackConfig(EffectConfig.string("ORCH_DATA_DIR")),
  Options.optional
)

export const logLevels = ["trace", "debug", "info", "warning", "error", "none"] as const

/**
 * `--log-level`. @effect/cli has a built-in option of the same name that would swallow
 * it, so `orch`'s entry takes the flag out of the arguments and hands it over as
 * ORCH_LOG_LEVEL, which is also the environment variable.
 */
export const logLevelOption = Options.choice("log-level", logLevels).pipe(
  Options.withDescription("Least severe level logged (default info; env ORCH_LOG_LEVEL)"),
  Options.withFallbackConfig(EffectConfig.literal(...logLevels)("ORCH_LOG_LEVEL")),
  Options.optional
)

export const logFormatOption = Options.choice("log-format", ["auto", "pretty", "json"]).pipe(
  Options.withDescription("pretty on a terminal, JSON lines otherwise (auto, the default)"),
  Options.optional
)

export const logFileOption = Options.text("log-file").pipe(
  Options.withPseudoName("file"),
  Options.withDescription("Also append JSON log lines to this file"),
  Options.optional
)

export const setOption = Options.text("set").pipe(
  Options.withPseudoName("key=value"),
  Options.withDescription("Override one config key, e.g. --set core.http.port=0 (repeatable)"),
  Options.repeated
)

/** The options every command accepts after its own name. */
export const commonOptions = {
  config: configOption,
  dataDir: dataDirOption,
  logLevel: logLevelOption,
  logFormat: logFormatOption,
  logFile: logFileOption,
  set: setOption
}

export type CommonOptions = Command.Command.ParseConfig<typeof commonOptions>

/** Turns parsed common options (plus any extra flags) into config overrides. */
export const overrides = (common: CommonOptions, extra: Partial<Config.Overrides> = {}): Config.Overrides => ({
  configFile: Option.getOrUndefined(common.config),
  dataDir: Option.getOrUndefined(common.dataDir),
  logLevel: Option.getOrUndefined(common.logLevel),
  logFormat: Option.getOrUndefined(common.logFormat),
  logFile: Option.getOrUndefined(common.logFile),
  set: common.set,
  ...extra
})

/** Loads the configuration for the plugins this build knows. */
export const loadConfig = (common: CommonOptions, extra: Partial<Config.Overrides> = {}) =>
  Effect.flatMap(Plugins, (plugins) => Config.load(plugins, overrides(common, extra)))

/**
 * Provides `effect` with a layer of the runtime over the loaded config. The runtime is
 * imported only here, so `--help` and `config` commands never load it.
 */
const withRuntime = <A, E, R>(
  common: CommonOptions,
  layerOf: (runtime: typeof import("./Runtime.js"), config: Config.OrchConfig, plugins: ReadonlyArray<Plugin>) => Layer.Layer<any, any, any>,
  effect: Effect.Effect<A, E, R>,
  options: DatabaseOptions = {}
) =>
  Effect.gen(function*() {
    const plugins = yield* Plugins
    const config = yield* Config.load(plugins, overrides(common))
    // a PostgreSQL database exists before orch (whoever runs the server creates it)
    if (options.existing === true && config.database.dialect === "sqlite" && !fs.existsSync(config.database.file)) {
      return yield* new DatabaseError({
        message: `no database at ${config.database.file}: \`orch run\` or \`orch db migrate\` creates it (or give --data-dir / core.database.file)`
      })
    }
    const Runtime = yield* Effect.promise(() => import("./Runtime.js"))
    return yield* effect.pipe(
      Effect.provide(layerOf(Runtime, config, plugins)),
      Effect.provide(Runtime.loggingLayer(config))
    ) as Effect.Effect<A, E, never>
  })

export interface DatabaseOptions {
  /** Refuse, rather than create, a database file that is not there (a command that only reads or trims it). */
  readonly existing?: boolean | undefined
}

/** Runs `effect` with core's services over the configured database, opened and migrated. */
export const withCore = <A, E, R>(common: CommonOptions, effect: Effect.Effect<A, E, R>, options: DatabaseOptions = {}) =>
  withRuntime(common, (Runtime, config, plugins) => Runtime.coreLayer(config, plugins), effect, options) as Effect.Effect<
    A,
    E | ConfigError | DatabaseError | MigrationError,
    Exclude<R, CoreServices> | Plugins
  >

/** Runs `effect` over the configured database, which must exist, opened but not migrated (for `orch db status`). */
export const withDatabase = <A, E, R>(common: CommonOptions, effect: Effect.Effect<A, E, R>) =>
  withRuntime(common, (Runtime, config) => Runtime.databaseLayer(config), effect, { existing: true }) as Effect.Effect<
    A,
    E | ConfigError | DatabaseError,
    Exclude<R, SqlClient.SqlClient | Database | Config.Config> | Plugins
  >

/**
 * A subcommand that opens the configured database: its handler runs with core's
 * services, the database opened and migrated. Only `orch db …` is one; anything that
 * reads or changes the daemon's state is a `command` and asks the daemon.
 */
export const databaseCommand = <Name extends string, const C extends Command.Command.Config, E>(
  name: Name,
  config: C,
  handler: (args: Command.Command.ParseConfig<C>) => Effect.Effect<void, E, CoreServices | Plugins>,
  options: DatabaseOptions = {}
) =>
  Command.make(name, { ...config, common: commonOptions }, (args) => {
    const { common, ...own } = args as unknown as { common: CommonOptions } & Command.Command.ParseConfig<C>
    return withCore(common, handler(own as unknown as Command.Command.ParseConfig<C>), options)
  })

/** Formats rows as an aligned text table with a header. */
export const table = (columns: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<unknown>>): string => {
  const cells = rows.map((row) => row.map((cell) => (cell === undefined || cell === null ? "-" : String(cell))))
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((row) => row[i]?.length ?? 0)))
  const line = (row: ReadonlyArray<string>) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(columns), ...cells.map(line)].join("\n")
}

/** Prints to stdout (command output, as opposed to logs on stderr). */
export const print = (text: string) => Effect.sync(() => process.stdout.write(text.endsWith("\n") ? text : text + "\n"))

/** Epoch ms as an ISO time for tables; "-" when absent. */
export const time = (ms: number | null | undefined): string => (ms === null || ms === undefined ? "-" : new Date(ms).toISOString())

/** `--url` for commands that talk to a running daemon over HTTP. */
export const urlOption = Options.text("url").pipe(
  Options.withPseudoName("url"),
  Options.withDescription("The running daemon (default: $ORCH_URL, else core.http of the config, http://127.0.0.1:7600)"),
  Options.optional
)

// an empty variable is no token (and lets the next one speak)
const nonEmpty = (name: string) =>
  EffectConfig.string(name).pipe(EffectConfig.mapOrFail((value) =>
    value === "" ? Either.left(EffectConfigError.MissingData([name], `${name} is empty`)) : Either.right(value)
  ))

/** `--token`, else $ORCH_TOKEN, else each of `fallbackEnv` in turn: the bearer token sent to the daemon. */
export const tokenOption = (fallbackEnv: ReadonlyArray<string> = []) =>
  Options.text("token").pipe(
    Options.withDescription(`Bearer token for the daemon's API (default: $${["ORCH_TOKEN", ...fallbackEnv].join(", else $")})`),
    Options.withFallbackConfig(
      fallbackEnv.reduce((config, name) => EffectConfig.orElse(config, () => nonEmpty(name)), nonEmpty("ORCH_TOKEN"))
    ),
    Options.optional
  )

/** The options of a command that talks to the daemon: where it is, the token, and the common ones but `--data-dir`. */
export const daemonOptions = (options: { readonly tokenEnv?: ReadonlyArray<string> | undefined } = {}) => ({
  config: configOption,
  logLevel: logLevelOption,
  logFormat: logFormatOption,
  logFile: logFileOption,
  set: setOption,
  url: urlOption,
  token: tokenOption(options.tokenEnv)
})

export type DaemonOptions = Command.Command.ParseConfig<ReturnType<typeof daemonOptions>>

/** What a `command`'s handler has: the daemon's client, the local config (for defaults), the platform. */
export type CommandServices = DaemonClient.DaemonClient | Config.Config | CliServices

/**
 * Runs `effect` with a client of the daemon at --url / $ORCH_URL / core.http and the
 * loaded config. Opens no database and creates no file (but a --log-file).
 */
export const withDaemon = <A, E, R>(options: DaemonOptions, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const plugins = yield* Plugins
    const config = yield* Config.load(plugins, {
      configFile: Option.getOrUndefined(options.config),
      logLevel: Option.getOrUndefined(options.logLevel),
      logFormat: Option.getOrUndefined(options.logFormat),
      logFile: Option.getOrUndefined(options.logFile),
      set: options.set
    })
    const url = yield* Effect.provideService(daemonUrl(options.url), Config.Config, config)
    const token = Option.getOrUndefined(options.token) || undefined
    return yield* effect.pipe(
      Effect.provide(DaemonClient.layer({ url, token })),
      Effect.provideService(Config.Config, config),
      Effect.provide(Logging.layer({
        level: config.core.log.level,
        format: config.core.log.format,
        file: config.core.log.file,
        // the token is a secret too: never in a log line
        secrets: token === undefined ? config.secrets : [...config.secrets, token]
      }))
    )
  }) as Effect.Effect<A, E | ConfigError, Exclude<R, DaemonClient.DaemonClient | Config.Config> | Plugins>

/**
 * A subcommand that talks to the running daemon over its HTTP API: the handler gets a
 * `DaemonClient` (and the local config) and no database. `--url`, `--token` and the
 * common options are added to its own; `tokenEnv` names older variables for the token.
 */
export const command = <Name extends string, const C extends Command.Command.Config, E>(
  name: Name,
  config: C,
  handler: (args: Command.Command.ParseConfig<C>) => Effect.Effect<void, E, CommandServices>,
  options: { readonly tokenEnv?: ReadonlyArray<string> } = {}
) =>
  Command.make(name, { ...config, daemon: daemonOptions(options) }, (args) => {
    const { daemon, ...own } = args as unknown as { daemon: DaemonOptions } & Command.Command.ParseConfig<C>
    return withDaemon(daemon, handler(own as unknown as Command.Command.ParseConfig<C>))
  })

/**
 * The running daemon's base URL, without a trailing slash: `url` when given, else
 * $ORCH_URL, else core.http's address, a wildcard host (0.0.0.0, ::) read as loopback.
 */
export const daemonUrl = (url: Option.Option<string>): Effect.Effect<string, never, Config.Config> =>
  Effect.map(Config.Config, (config) => {
    const { host, port } = config.core.http
    const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host
    const configured = `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`
    return Option.getOrElse(url, () => process.env.ORCH_URL || configured).replace(/\/+$/, "")
  })
