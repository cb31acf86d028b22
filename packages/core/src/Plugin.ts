/**
 * The plugin contract. A plugin is a value: its name, its config section as a Schema
 * with defaults, its migrations, the job and resource kinds it declares, a Layer that
 * starts its long-running loops, its HTTP routes, its CLI subcommands, and what the TUI
 * shows of it. Adding a plugin touches `apps/cli`'s list and nothing in core.
 */
import type * as Command from "@effect/cli/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as Etag from "@effect/platform/Etag"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import type * as HttpPlatform from "@effect/platform/HttpPlatform"
import type * as Path from "@effect/platform/Path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Context, type Effect, type Layer, type Schema } from "effect"
import type { Config } from "./Config.js"
import type { Database } from "./Database.js"
import type { HotRoutes } from "./HotRoutes.js"
import type { JobKind, JobQueue } from "./Jobs.js"
import type { Collectors } from "./Metrics.js"
import type { Migrations } from "./Migrations.js"
import type { ResourceKind, Resources } from "./Resources.js"
import type { Schedules } from "./Schedules.js"
import type { Supervisor } from "./Supervisor.js"

/** What every piece of a plugin can use: storage, queues, resources, schedules, config, the platform. */
export type CoreServices =
  | SqlClient.SqlClient
  | Database
  | Config
  | JobQueue
  | Resources
  | Schedules
  | Collectors
  | FileSystem.FileSystem
  | Path.Path
  | CommandExecutor.CommandExecutor

/** What a plugin's running layer can use on top: the supervisor for its loops, the daemon's address. */
export type DaemonServices = CoreServices | Supervisor | DaemonInfo

/** Where the running daemon listens; plugins put it in the URLs they hand out. */
export class DaemonInfo extends Context.Tag("@orch/core/DaemonInfo")<DaemonInfo, {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly pid: number
  readonly startedAt: number
  readonly plugins: ReadonlyArray<string>
}>() {}

export interface PluginHttp {
  /**
   * The plugin's JSON API, for the OpenAPI document. Its groups must be prefixed
   * `/<plugin name>` (`HttpApi.make(name).add(group).prefix("/allocator")`).
   */
  readonly api?: HttpApi.HttpApi.Any | undefined
  /** Route layers (`HttpLayerRouter.addHttpApi(api)` with handlers, `HttpLayerRouter.add`, `HotRoutes.add` …). */
  readonly routes: Layer.Layer<
    never,
    unknown,
    HttpLayerRouter.HttpRouter | HttpPlatform.HttpPlatform | Etag.Generator | HotRoutes | DaemonServices
  >
}

/** One line of the TUI's overview and the rows under it. */
export interface TuiPanel {
  readonly title: string
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly columns: ReadonlyArray<string>
}

export interface Plugin<C = any> {
  /** Lowercase identifier: config section, `/<name>/` routes, `orch <name> …`, table prefix. */
  readonly name: string
  readonly description: string
  /** Decodes the plugin's section of orch.yaml; must accept `{}` (every field defaulted). */
  readonly config: Schema.Schema<C, any, never>
  /** Numbered plain-SQL scripts; tables are prefixed with the plugin's name. */
  readonly migrations?: Migrations | undefined
  readonly jobKinds?: ReadonlyArray<JobKind.Any> | undefined
  readonly resourceKinds?: ReadonlyArray<ResourceKind.Any> | undefined
  /** Starts the plugin's loops; runs supervised, so its failure never stops another plugin. */
  readonly layer?: ((config: C) => Layer.Layer<never, unknown, DaemonServices>) | undefined
  readonly http?: ((config: C) => PluginHttp) | undefined
  /** Subcommands under `orch <name>`; build them with core's `Cli.command`. */
  readonly commands?: ReadonlyArray<Command.Command<any, CliServices, unknown, any>> | undefined
  /** What the TUI shows for this plugin, read from the shared database. */
  readonly tui?: ((config: C) => Effect.Effect<ReadonlyArray<TuiPanel>, unknown, CoreServices>) | undefined
}

/** The plugins this build of orch knows: provided by `apps/cli`, read by core's commands. */
export class Plugins extends Context.Tag("@orch/core/Plugins")<Plugins, ReadonlyArray<Plugin>>() {}

/** What a CLI command has before it opens anything: the plugin list and the platform. */
export type CliServices = Plugins | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor

const validName = /^[a-z][a-z0-9-]*$/
// core's config section and the paths core serves at the root of the HTTP server
const reservedNames = ["core", "healthz", "readyz", "metrics", "jobs", "resources", "openapi", "docs"]

/** Checks a plugin's shape once, where it is defined. */
export const make = <C>(plugin: Plugin<C>): Plugin<C> => {
  if (!validName.test(plugin.name) || reservedNames.includes(plugin.name)) {
    throw new Error(
      `plugin name "${plugin.name}" must be lowercase letters, digits and dashes, and none of ${reservedNames.join(", ")}`
    )
  }
  return plugin
}

/**
 * Resolves `--plugins`: "all" or comma-separated names. An unknown name is an error
 * that lists the valid ones.
 */
export const select = (
  available: ReadonlyArray<Plugin>,
  list: string | ReadonlyArray<string>
): { readonly _tag: "Right"; readonly plugins: ReadonlyArray<Plugin> } | { readonly _tag: "Left"; readonly message: string } => {
  const names = (typeof list === "string" ? list.split(",") : list).map((name) => name.trim()).filter((name) => name !== "")
  if (names.length === 0 || names.includes("all")) return { _tag: "Right", plugins: available }
  const unknown = names.filter((name) => !available.some((plugin) => plugin.name === name))
  if (unknown.length > 0) {
    return {
      _tag: "Left",
      message: `unknown plugin${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")}; valid: ${
        ["all", ...available.map((plugin) => plugin.name)].join(", ")
      }`
    }
  }
  return { _tag: "Right", plugins: available.filter((plugin) => names.includes(plugin.name)) }
}
