/**
 * `orch tui`: the daemon's queue, resources, loops and plugins' views, live, over its API.
 * Interactive on a terminal (the alternate screen, left as it was on exit); `--once`, or
 * without a terminal, prints one frame for scripts.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { Effect } from "effect"

// the terminal's alternate screen: entered on start, left on exit, so the scrollback stays as it was
const enterAlternateScreen = "\x1b[?1049h\x1b[H"
const leaveAlternateScreen = "\x1b[?1049l"

const once = Effect.gen(function*() {
  const [{ snapshot }, ink, React, view] = yield* Effect.promise(() =>
    Promise.all([import("../tui/Snapshot.js"), import("ink"), import("react"), import("../tui/View.js")])
  )
  const first = yield* snapshot
  return yield* Cli.print(ink.renderToString(React.createElement(view.View, { snapshot: first }), { columns: 120 }))
})

const interactive = (initialView: string | undefined) =>
  Effect.gen(function*() {
    const [Api, ink, React, { App }] = yield* Effect.promise(() =>
      Promise.all([import("../tui/Api.js"), import("ink"), import("react"), import("../tui/App.js")])
    )
    const api = yield* Api.make
    yield* Effect.acquireUseRelease(
      Effect.sync(() => {
        process.stdout.write(enterAlternateScreen)
        return ink.render(React.createElement(App, { api, view: initialView }), { exitOnCtrlC: false })
      }),
      (app) => Effect.promise(() => app.waitUntilExit()),
      (app) =>
        Effect.sync(() => {
          app.unmount()
          process.stdout.write(leaveAlternateScreen)
        })
    )
  }).pipe(Effect.scoped)

export const tuiCommand = Cli.command(
  "tui",
  {
    once: Options.boolean("once").pipe(Options.withDescription("Print one frame and exit (for scripts and logs)")),
    view: Options.text("view").pipe(
      Options.withDescription("The view to open: overview, jobs, resources or <plugin>/<view>"),
      Options.optional
    )
  },
  (args) =>
    args.once || !process.stdout.isTTY || !process.stdin.isTTY
      ? once
      : interactive(args.view._tag === "Some" ? args.view.value : undefined)
).pipe(Command.withDescription("Watch and steer the queue, resources, loops and plugins' views live (? lists the keys)"))
