/** `orch tui`: a live view of the queue, resources, loops and plugins, asked of the daemon. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { Effect, Fiber, Schedule } from "effect"

export const tuiCommand = Cli.command(
  "tui",
  {
    once: Options.boolean("once").pipe(Options.withDescription("Print one frame and exit (for scripts and logs)"))
  },
  (args) =>
    Effect.gen(function*() {
      const [{ snapshot }, ink, React, view] = yield* Effect.promise(() =>
        Promise.all([import("../tui/Snapshot.js"), import("ink"), import("react"), import("../tui/View.js")])
      )
      const first = yield* snapshot
      if (args.once || !process.stdout.isTTY || !process.stdin.isTTY) {
        return yield* Cli.print(ink.renderToString(React.createElement(view.View, { snapshot: first }), { columns: 120 }))
      }
      const app = ink.render(React.createElement(view.App, { snapshot: first }))
      const refresh = yield* snapshot.pipe(
        Effect.tap((next) => Effect.sync(() => app.rerender(React.createElement(view.App, { snapshot: next })))),
        Effect.catchAllCause(() => Effect.void),
        Effect.repeat(Schedule.spaced("1 second")),
        Effect.fork
      )
      yield* Effect.promise(() => app.waitUntilExit())
      yield* Fiber.interrupt(refresh)
    })
).pipe(Command.withDescription("Watch the queue, resources, loops and plugins live (q quits)"))
