/**
 * Plugins' views for the TUI, over the API: `GET /tui/views` lists every running plugin's
 * declared views (names and titles, nothing read), `GET /tui/views/{plugin}/{view}` reads
 * one: a table, each row's hidden values, and the actions on a row with their paths made
 * absolute. Read role, as every GET; an action is the route's own, under its own role.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Cause, Effect, Layer, Schema } from "effect"
import { NotFound, type PluginViews } from "./CoreApi.js"
import type { TuiPanel, TuiView } from "./Plugin.js"

/** The view could not be read: it failed, took too long, or broke the contract (its message says which). */
export class ViewUnavailable extends Schema.TaggedError<ViewUnavailable>()(
  "ViewUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

export const ViewSummary = Schema.Struct({
  plugin: Schema.String,
  name: Schema.String,
  title: Schema.String
}).annotations({ identifier: "TuiViewSummary" })

export const Action = Schema.Struct({
  key: Schema.String,
  label: Schema.String,
  method: Schema.Literal("POST", "PUT", "PATCH", "DELETE"),
  path: Schema.String.annotations({ description: "From the daemon's root; `{x}` is the selected row's value x, URL-encoded" }),
  body: Schema.optional(Schema.Unknown),
  role: Schema.Literal("operate", "admin"),
  confirm: Schema.Boolean
}).annotations({ identifier: "TuiAction" })

export const View = Schema.Struct({
  plugin: Schema.String,
  name: Schema.String,
  title: Schema.String,
  columns: Schema.Array(Schema.String),
  rows: Schema.Array(Schema.Array(Schema.String)),
  keys: Schema.Array(Schema.Record({ key: Schema.String, value: Schema.String })).annotations({
    description: "Each row's hidden values by name, in the order of rows"
  }),
  actions: Schema.Array(Action)
}).annotations({ identifier: "TuiView" })

export class TuiGroup extends HttpApiGroup.make("tui")
  .add(HttpApiEndpoint.get("list", "/tui/views").addSuccess(Schema.Array(ViewSummary)))
  .add(
    HttpApiEndpoint.get("get", "/tui/views/:plugin/:name")
      .setPath(Schema.Struct({ plugin: Schema.String, name: Schema.String }))
      .addSuccess(View)
      .addError(NotFound)
      .addError(ViewUnavailable)
  )
{}

export class TuiApi extends HttpApi.make("tui").add(TuiGroup) {}

/** Keys the TUI keeps for itself: an action may not take them. */
export const reservedKeys = [":", "/", "?", "q", "j", "k", "g", "G"] as const

/** How long a view may take to read before it is answered as unavailable. */
export const readTimeout = "10 seconds"

/** What breaks the contract in a panel, or undefined. */
export const problemOf = (panel: TuiPanel): string | undefined => {
  if (panel.keys !== undefined && panel.keys.length !== panel.rows.length) {
    return `${panel.keys.length} row key(s) for ${panel.rows.length} row(s)`
  }
  const seen = new Set<string>()
  for (const action of panel.actions ?? []) {
    if ([...action.key].length !== 1) return `action "${action.label}": its key must be one character, not ${JSON.stringify(action.key)}`
    if ((reservedKeys as ReadonlyArray<string>).includes(action.key)) return `action "${action.label}": the key ${action.key} is the TUI's own`
    if (seen.has(action.key)) return `two actions on the key ${action.key}`
    if (!action.path.startsWith("/")) return `action "${action.label}": its path must start with /, not ${JSON.stringify(action.path)}`
    seen.add(action.key)
  }
  return undefined
}

/** Reads one view as served: the actions' paths under the plugin's mount. */
export const read = (plugin: string, view: TuiView) =>
  view.read.pipe(
    Effect.timeoutFail({ duration: readTimeout, onTimeout: () => `took longer than ${readTimeout}` }),
    Effect.catchAllCause((cause) => Effect.fail(Cause.pretty(cause).split("\n")[0]!.slice(0, 300))),
    Effect.flatMap((panel) => {
      const problem = problemOf(panel)
      return problem === undefined ? Effect.succeed(panel) : Effect.fail(problem)
    }),
    Effect.mapError((reason) => new ViewUnavailable({ message: `view ${plugin}/${view.name} is unavailable: ${reason}` })),
    Effect.map((panel) => ({
      plugin,
      name: view.name,
      title: panel.title,
      columns: panel.columns,
      rows: panel.rows,
      keys: panel.keys ?? [],
      actions: (panel.actions ?? []).map((action) => ({
        key: action.key,
        label: action.label,
        method: action.method,
        path: `/${plugin}${action.path}`,
        ...(action.body === undefined ? {} : { body: action.body }),
        role: action.role,
        confirm: action.confirm ?? true
      }))
    }))
  )

const handlers = (plugins: ReadonlyArray<PluginViews>) =>
  HttpApiBuilder.group(TuiApi, "tui", (handlers) =>
    handlers
      .handle("list", () =>
        Effect.succeed(plugins.flatMap((plugin) => plugin.views.map((view) => ({ plugin: plugin.name, name: view.name, title: view.title })))))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const plugin = plugins.find((p) => p.name === path.plugin)
          if (plugin === undefined) return yield* Effect.fail(new NotFound({ message: `no running plugin ${path.plugin}` }))
          const view = plugin.views.find((v) => v.name === path.name)
          if (view === undefined) return yield* Effect.fail(new NotFound({ message: `plugin ${path.plugin} has no view ${path.name}` }))
          return yield* read(plugin.name, view)
        })))

/** The routes, over the running plugins' declared views. */
export const routes = (plugins: ReadonlyArray<PluginViews>) =>
  HttpLayerRouter.addHttpApi(TuiApi).pipe(Layer.provide(handlers(plugins)))
