/**
 * Plugins' views for the TUI, over the API: `GET /tui/views` lists every running plugin's
 * views, `GET /tui/views/{plugin}/{view}` serves one as a table (title, columns, rows).
 * A view is one `TuiPanel` of the plugin's `tui`, evaluated in the daemon when asked; it is
 * named by its `name`, else by its title made into a slug. Read role, as every GET.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect, Layer, Schema } from "effect"
import { NotFound, type PluginPanels } from "./CoreApi.js"
import type { TuiPanel } from "./Plugin.js"

export const ViewSummary = Schema.Struct({
  plugin: Schema.String,
  name: Schema.String,
  title: Schema.String
}).annotations({ identifier: "TuiViewSummary" })

export const View = Schema.Struct({
  plugin: Schema.String,
  name: Schema.String,
  title: Schema.String,
  columns: Schema.Array(Schema.String),
  rows: Schema.Array(Schema.Array(Schema.String))
}).annotations({ identifier: "TuiView" })

export class TuiGroup extends HttpApiGroup.make("tui")
  .add(HttpApiEndpoint.get("list", "/tui/views").addSuccess(Schema.Array(ViewSummary)))
  .add(
    HttpApiEndpoint.get("get", "/tui/views/:plugin/:name")
      .setPath(Schema.Struct({ plugin: Schema.String, name: Schema.String }))
      .addSuccess(View)
      .addError(NotFound)
  )
{}

export class TuiApi extends HttpApi.make("tui").add(TuiGroup) {}

/** A panel's view name: its own, else its title in lowercase words joined by dashes. */
export const viewName = (panel: TuiPanel): string =>
  panel.name ?? (panel.title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "view")

/** A plugin's views; one whose `tui` fails shows as one view that says so. */
const viewsOf = (plugin: PluginPanels) =>
  plugin.panels.pipe(
    Effect.map((panels) => panels.map((panel) => ({ ...panel, plugin: plugin.name, name: viewName(panel) }))),
    Effect.catchAllCause(() =>
      Effect.succeed([{ plugin: plugin.name, name: "unavailable", title: `${plugin.name}: unavailable`, columns: [], rows: [] }])
    )
  )

const handlers = (plugins: ReadonlyArray<PluginPanels>) =>
  HttpApiBuilder.group(TuiApi, "tui", (handlers) =>
    handlers
      .handle("list", () =>
        Effect.map(
          Effect.forEach(plugins, viewsOf, { concurrency: "unbounded" }),
          (all) => all.flat().map(({ plugin, name, title }) => ({ plugin, name, title }))
        ))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          const plugin = plugins.find((p) => p.name === path.plugin)
          if (plugin === undefined) return yield* Effect.fail(new NotFound({ message: `no running plugin ${path.plugin}` }))
          const view = (yield* viewsOf(plugin)).find((v) => v.name === path.name)
          if (view === undefined) return yield* Effect.fail(new NotFound({ message: `plugin ${path.plugin} has no view ${path.name}` }))
          return { plugin: view.plugin, name: view.name, title: view.title, columns: view.columns, rows: view.rows }
        })))

/** The routes, over the running plugins' panels. */
export const routes = (plugins: ReadonlyArray<PluginPanels>) =>
  HttpLayerRouter.addHttpApi(TuiApi).pipe(Layer.provide(handlers(plugins)))
