/**
 * `orch tui`: the daemon's queue, resources, loops and plugins' views, live, over its API.
 * Interactive on a terminal (the alternate screen, left as it was on exit); `--once`, or
 * without a terminal, prints one frame for scripts. `bin/orch.mjs` usually starts the TUI's
 * own light bundle instead (`src/tui/Main.ts`); this command serves what that one hands
 * back (a config file, config flags, --help).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { Effect } from "effect"

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
    Effect.flatMap(
      Effect.promise(() => import("../tui/Run.js")),
      (Run) => Run.run({ once: args.once, view: args.view._tag === "Some" ? args.view.value : undefined })
    )
).pipe(Command.withDescription("Watch and steer the queue, resources, loops and plugins' views live (? lists the keys)"))
