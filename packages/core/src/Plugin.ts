/**
 * The plugin contract. A plugin is a value: its name, its config section as a Schema
 * with defaults, its migrations, the job and resource kinds it declares, its services,
 * its loops, its HTTP routes, its CLI subcommands, and what the TUI shows of it. Adding
 * a plugin touches `apps/cli`'s list and nothing in core.
 *
 * How a running plugin fits together (core does all of it, see `PluginRuntime`):
 *
 * - `services(config)` is a Layer built under the supervisor, in a scope of its own, and
 *   built again with backoff when it fails; its failure is logged, counted, shown in
 *   `/readyz` and never reaches another plugin.
 * - What it provides (`S`), with `PluginContext` and core's services, is what the
 *   plugin's `loops` run with; they start once the services are up and stop with them.
 * - `http(config).routes` are mounted by core under `/<name>/` (paths in the plugin are
 *   relative to that) and get `S` per request; while the services are starting,
 *   restarting or failed, they answer 503 with a Retry-After.
 * - `PluginContext` names the plugin's owner id (`host:pid:<name>`), annotates its logs
 *   with `plugin: <name>` and adds metric collectors that go when their scope closes.
 * - At daemon start core checks that every kind's `plugin` is the plugin's name and that
 *   its migrations create, alter and drop only tables and indexes named `<name>_…` (a
 *   dash in the name is an underscore there), as must the tables its `retention` names.
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
import { Context, type Duration, Effect, Layer, type Schema, type Scope } from "effect"
import * as os from "node:os"
import type { Config } from "./Config.js"
import type { Database } from "./Database.js"
import type { HotRoutes } from "./HotRoutes.js"
import type { JobKind, JobQueue } from "./Jobs.js"
import type * as JobWorker from "./JobWorker.js"
import { type Collector, Collectors } from "./Metrics.js"
import type { Rule as AccessRule } from "./Access.js"
import type { Migrations } from "./Migrations.js"
import type { Notifications } from "./Notifications.js"
import type { ResourceKind, Resources } from "./Resources.js"
import type { ChildTable } from "./Retention.js"
import type { Schedules } from "./Schedules.js"
import type { SingletonLease } from "./Singletons.js"
import { PluginError } from "./Errors.js"
import type { Backoff, Supervisor } from "./Supervisor.js"

/** What every piece of a plugin can use: storage, queues, resources, schedules, config, the platform. */
export type CoreServices =
  | SqlClient.SqlClient
  | Database
  | Config
  | JobQueue
  | Notifications
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

/** What core gives each plugin of its own: its name, its owner id, its log annotations, its collectors. */
export interface PluginContextService {
  readonly name: string
  /** `host:pid:<name>`: who holds the plugin's claims and leases in this process (see `ownerId`). */
  readonly ownerId: string
  /** What core annotates everything the plugin logs with: `{ plugin: <name> }`. */
  readonly logAnnotations: Readonly<Record<string, string>>
  /**
   * Adds a collector to `/metrics` until the current scope closes: in `services`, that is
   * until the services stop, so a restart never leaves the old one behind.
   */
  readonly addCollector: (collector: Collector) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Stops the plugin's services (and its loops) and builds them again after backoff,
   * counted as a failure with `reason`: for a plugin that finds what its services hold
   * broken (a client that lost its server, say).
   */
  readonly restart: (reason: string) => Effect.Effect<void>
}

export class PluginContext extends Context.Tag("@orch/core/PluginContext")<PluginContext, PluginContextService>() {}

/** The owner id of `plugin` in this process, `host:pid:<plugin>`; the one place it is spelled. */
export const ownerId = (plugin: string): string => `${os.hostname()}:${process.pid}:${plugin}`

/** Where core mounts `plugin`'s routes: `/<plugin>` (for links a plugin renders). */
export const basePath = (plugin: string): `/${string}` => `/${plugin}`

/**
 * `PluginContext` for `name`; core builds one for each build of a running plugin's
 * services, tests use it directly (where `restart` only logs, unless given).
 */
export const context = (
  name: string,
  restart: (reason: string) => Effect.Effect<void> = (reason) =>
    Effect.logWarning(`${name}: restart asked (${reason}) outside a daemon`)
): Layer.Layer<PluginContext, never, Collectors> =>
  Layer.effect(
    PluginContext,
    Effect.map(Collectors, (collectors) => ({
      name,
      ownerId: ownerId(name),
      logAnnotations: { plugin: name },
      addCollector: collectors.add,
      restart
    }))
  )

/** What a plugin's loops and routes have: its services, its context and core's. */
export type PluginServices<S> = S | PluginContext | DaemonServices

/**
 * One of a plugin's loops, run by core under the supervisor as `<plugin>:<name>`:
 *
 * - an Effect is an iteration, run again at once each time it ends;
 * - `{ iteration, every }` pauses `every` between successful iterations;
 * - `{ daemon }` is long-running (an own listener, say): restarted if it ends or fails,
 *   interrupted at shutdown after the iterations in hand have finished.
 *
 * A failure is logged, counted and retried with backoff.
 *
 * `singleton: true` runs the loop on one node of a cluster sharing the database: the node
 * holding the loop's lease (`orch_singletons`, see `Singletons`), which its iterations (or
 * its daemon) get as `SingletonLease` for fenced writes (`Singletons.fenced`). The other
 * nodes stand by; when the holder stops renewing, its work is interrupted and another
 * node takes over within the lease's ttl.
 */
export type Loop<R> =
  | Effect.Effect<void, unknown, R>
  | {
    readonly iteration: Effect.Effect<void, unknown, R>
    readonly every?: Duration.DurationInput | undefined
    readonly backoff?: Backoff | undefined
    readonly singleton?: false | undefined
  }
  | {
    readonly iteration: Effect.Effect<void, unknown, R | SingletonLease>
    readonly every?: Duration.DurationInput | undefined
    readonly backoff?: Backoff | undefined
    readonly singleton: true
  }
  | {
    readonly daemon: Effect.Effect<unknown, unknown, R | Scope.Scope>
    readonly backoff?: Backoff | undefined
    readonly singleton?: false | undefined
  }
  | {
    readonly daemon: Effect.Effect<unknown, unknown, R | Scope.Scope | SingletonLease>
    readonly backoff?: Backoff | undefined
    readonly singleton: true
  }

export interface PluginHttp<S = never> {
  /**
   * The plugin's JSON API, for the OpenAPI document, with paths relative to the plugin
   * (`/leases`); core prefixes it with `/<name>` as it does the routes.
   */
  readonly api?: HttpApi.HttpApi.Any | undefined
  /**
   * Route layers (`HttpLayerRouter.add`, `HttpLayerRouter.addHttpApi(api)` with handlers …),
   * paths relative to the plugin: core mounts them under `/<name>/`. Handlers get
   * `PluginServices<S>` per request; the layer itself is built once, before `S` exists,
   * so it may name `S` (as `HttpApiBuilder.group` does) but must not read it.
   */
  readonly routes: Layer.Layer<
    never,
    unknown,
    | HttpLayerRouter.HttpRouter
    | HttpPlatform.HttpPlatform
    | Etag.Generator
    | HotRoutes
    | PluginServices<S>
    | HttpLayerRouter.Request<"Requires", PluginServices<S>>
  >
  /**
   * What its routes need beyond the default (GET and HEAD: the `read` role; other methods:
   * `operate`), paths relative to the plugin: `{ route: "POST /devices/:name/drain", role: "admin" }`,
   * `{ route: "/api/runner", role: "operate" }` (a GET that acts), `accepts` for bodies that
   * are not JSON. Core's gate applies them to the routes and hot routes alike.
   */
  readonly access?: ReadonlyArray<AccessRule> | undefined
}

/**
 * An action a view offers on its selected row: an HTTP call the TUI makes with its own
 * token after a y/n, then reloads. Plain data, it travels as JSON in the view.
 */
export interface TuiAction {
  /** The key that does it: one character the TUI keeps for nothing else (not `:/?qjkgG`). */
  readonly key: string
  /** What it does, as the footer and the question say it: "drain device". */
  readonly label: string
  readonly method: "POST" | "PUT" | "PATCH" | "DELETE"
  /**
   * Relative to the plugin's routes, as its access rules are: `/devices/{name}/drain`.
   * `{x}` is the selected row's `x` (see `TuiPanel.keys`), URL-encoded; a row without
   * every value named does not offer the action.
   */
  readonly path: string
  /** The JSON body, when the route takes one; `{x}` in its strings is the row's `x` too (not encoded). */
  readonly body?: unknown
  /** The least role the route needs: said when the token may not. */
  readonly role: "operate" | "admin"
  /** Asks y/n first (default); false for what is harmless to do twice. */
  readonly confirm?: boolean | undefined
}

/** What one view shows when read: a table, each row's hidden values, the actions on a row. */
export interface TuiPanel {
  readonly title: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  /** Each row's hidden values by name, in the order of `rows`: what actions' paths use (a device's name, its lease's id). */
  readonly keys?: ReadonlyArray<Readonly<Record<string, string>>> | undefined
  readonly actions?: ReadonlyArray<TuiAction> | undefined
}

/**
 * One view of a plugin in the TUI (`:<plugin>/<name>`), and a panel of `GET /overview`.
 * Listed by its name and title without being read; `read` runs only when the view is asked for.
 */
export interface TuiView<S = never> {
  /** Lowercase words joined by dashes; keep it stable. */
  readonly name: string
  readonly title: string
  /**
   * Reads the view: from the shared database with core's services, or from the plugin's
   * own services `S` (what only the running plugin holds: waiters, an upstream's answer),
   * in which case it is unavailable while they are down.
   */
  readonly read: Effect.Effect<TuiPanel, unknown, CoreServices | S | PluginContext>
}

/**
 * A plugin with config `C` whose services provide `S`. `Provided` is `S` as its services
 * layer's output (what `make` gives); it is separate only so that plugins of different
 * services can be held together as `Plugin` (a Layer is contravariant in its output).
 */
export interface Plugin<C = any, S = any, Provided = never> {
  /** Lowercase identifier: config section, `/<name>/` routes, `orch <name> …`, table prefix, owner id. */
  readonly name: string
  readonly description: string
  /** Decodes the plugin's section of orch.yaml; must accept `{}` (every field defaulted). */
  readonly config: Schema.Schema<C, any, never>
  /** Numbered plain-SQL scripts; core checks that they create only tables and indexes named `<name>_…`. */
  readonly migrations?: Migrations | undefined
  /** Core checks that each kind's `plugin` is this plugin's name. */
  readonly jobKinds?: ReadonlyArray<JobKind.Any> | undefined
  readonly resourceKinds?: ReadonlyArray<ResourceKind.Any> | undefined
  /**
   * The plugin's tables whose rows belong to core's jobs or leases (`{ table, column,
   * belongsTo: "job" | "lease" }`): retention removes them with their job or lease.
   * Tables of its own that grow otherwise, the plugin caps itself.
   */
  readonly retention?: ReadonlyArray<ChildTable> | undefined
  /**
   * What the plugin's loops and routes need (its own service, a client …), built under the
   * supervisor after the database is open and rebuilt with backoff when it fails. Log,
   * add collectors and hold resources in it: everything it acquires is released when it stops.
   */
  readonly services?: ((config: C) => Layer.Layer<Provided, unknown, DaemonServices | PluginContext>) | undefined
  /** Supervised loops, keyed by name; started when the services are up, stopped with them. */
  readonly loops?: ((config: C) => Readonly<Record<string, Loop<PluginServices<S>>>>) | undefined
  /**
   * Job workers: a handler per job kind of this plugin, run by core under the supervisor
   * as `<plugin>:worker:<kind>`, claiming as the plugin's owner id; started when the
   * services are up, stopped (gracefully: see `JobWorker.run`) with them.
   */
  readonly workers?: ((config: C) => ReadonlyArray<JobWorker.JobWorker<any, any, any, any, PluginServices<S>>>) | undefined
  readonly http?: ((config: C) => PluginHttp<S>) | undefined
  /** Subcommands under `orch <name>`; build them with core's `Cli.command` (they talk to the daemon over HTTP). */
  readonly commands?: ReadonlyArray<Command.Command<any, CliServices, unknown, any>> | undefined
  /**
   * The plugin's views in the TUI, declared: `GET /tui/views` lists them, `GET
   * /tui/views/<plugin>/<name>` reads one (and `GET /overview` shows each as a panel).
   */
  readonly tui?: ((config: C) => ReadonlyArray<TuiView<S>>) | undefined
}

/** The plugins this build of orch knows: provided by `apps/cli`, read by core's commands. */
export class Plugins extends Context.Tag("@orch/core/Plugins")<Plugins, ReadonlyArray<Plugin>>() {}

/** What a CLI command has before it opens anything: the plugin list and the platform. */
export type CliServices = Plugins | FileSystem.FileSystem | Path.Path | CommandExecutor.CommandExecutor

const validName = /^[a-z][a-z0-9-]*$/

/**
 * Names no plugin may take: core's config section and the paths core serves at the root
 * of the HTTP server (a plugin's routes are mounted at `/<name>/`).
 */
export const reservedNames: ReadonlyArray<string> = [
  "core",
  "healthz",
  "readyz",
  "metrics",
  "openapi.json",
  "docs",
  "jobs",
  "resources",
  "overview",
  "events",
  "tui"
]

/** Checks a plugin's shape once, where it is defined. */
export const make = <C, S = never>(plugin: Plugin<C, NoInfer<S>, S>): Plugin<C, S, S> => {
  if (!validName.test(plugin.name) || reservedNames.includes(plugin.name)) {
    throw new Error(
      `plugin name "${plugin.name}" must be lowercase letters, digits and dashes, and none of ${reservedNames.join(", ")}`
    )
  }
  return plugin
}

const identifier = String.raw`(?:"[^"]+"|\x60[^\x60]+\x60|\[[^\]]+\]|[\w$]+)`
// schema-qualified names keep only the name (captured)
const qualified = String.raw`(?:${identifier}\s*\.\s*)?(${identifier})`
const unquote = (name: string) => name.replace(/^["\x60[]|["\x60\]]$/g, "").toLowerCase()
const objectPatterns: ReadonlyArray<readonly [string, RegExp]> = [
  ["table", new RegExp(String.raw`\bCREATE\s+(?:TEMP(?:ORARY)?\s+)?(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?${qualified}`, "gi")],
  ["index", new RegExp(String.raw`\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?${qualified}\s+ON\s+${qualified}`, "gi")],
  ["view", new RegExp(String.raw`\bCREATE\s+(?:TEMP(?:ORARY)?\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?${qualified}`, "gi")],
  ["trigger", new RegExp(String.raw`\bCREATE\s+(?:TEMP(?:ORARY)?\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?${qualified}`, "gi")],
  ["table", new RegExp(String.raw`\bALTER\s+TABLE\s+${qualified}`, "gi")],
  ["table", new RegExp(String.raw`\bDROP\s+(?:TABLE|INDEX|VIEW|TRIGGER)\s+(?:IF\s+EXISTS\s+)?${qualified}`, "gi")]
]

/**
 * The names of the tables, indexes, views and triggers a SQL script creates, alters or
 * drops (an index also names the table it is on), lowercased, without quotes or schema.
 */
export const objectNames = (script: string): ReadonlyArray<{ readonly kind: string; readonly name: string }> => {
  const text = script.replace(/--[^\n]*/g, " ").replace(/\/\*[\s\S]*?\*\//g, " ")
  const found: Array<{ kind: string; name: string }> = []
  for (const [kind, pattern] of objectPatterns) {
    for (const match of text.matchAll(pattern)) {
      found.push({ kind, name: unquote(match[1]!) })
      if (match[2] !== undefined) found.push({ kind: "table", name: unquote(match[2]) })
    }
  }
  return found
}

/**
 * What is wrong with how a plugin fits core, checked once at daemon start: each kind
 * belongs to it, and its migrations touch only its own tables (`<name>_…`). Empty when
 * nothing is.
 */
export const problems = (plugin: Plugin): ReadonlyArray<string> => {
  const found: Array<string> = []
  for (const [what, kinds] of [["job", plugin.jobKinds ?? []], ["resource", plugin.resourceKinds ?? []]] as const) {
    for (const kind of kinds) {
      if (kind.plugin !== plugin.name) {
        found.push(`its ${what} kind "${kind.name}" says it belongs to plugin "${kind.plugin}"`)
      }
    }
  }
  const prefix = `${plugin.name.replace(/-/g, "_")}_`
  for (const child of plugin.retention ?? []) {
    if (!child.table.startsWith(prefix) || !/^\w+$/.test(child.table) || !/^\w+$/.test(child.column)) {
      found.push(`its retention names the table "${child.table}" (column "${child.column}"), which is not a table ${prefix}… with a plain column name`)
    }
  }
  for (const [key, scripts] of Object.entries(plugin.migrations ?? {})) {
    // both engines' scripts, where a migration is written per dialect
    const text = (typeof scripts === "string" || !("pg" in scripts) ? [scripts] : [scripts.sqlite, scripts.pg])
      .map((script: string | ReadonlyArray<string>) => typeof script === "string" ? script : script.join(";\n"))
      .join(";\n")
    for (const { kind, name } of objectNames(text)) {
      if (!name.startsWith(prefix)) {
        found.push(`its migration ${key} touches the ${kind} "${name}", which is not named ${prefix}…`)
      }
    }
  }
  return found
}

/** Fails naming the plugin and what is wrong when any plugin does not fit core (see `problems`). */
export const check = (plugins: ReadonlyArray<Plugin>): Effect.Effect<void, PluginError> => {
  const messages = plugins.flatMap((plugin) => problems(plugin).map((problem) => `plugin "${plugin.name}": ${problem}`))
  return messages.length === 0 ? Effect.void : Effect.fail(new PluginError({ message: messages.join("; ") }))
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
