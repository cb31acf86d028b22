/** `orch run`: the daemon. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import * as Plugin from "@orch/core/Plugin"
import { Effect, Option } from "effect"
import packageJson from "../../package.json" with { type: "json" }

const pluginsOption = Options.text("plugins").pipe(
  Options.withDescription("Plugins to run: all, or comma-separated names (default: core.plugins in the config, else all)"),
  Options.optional
)
const httpHostOption = Options.text("http-host").pipe(
  Options.withDescription("Address to listen on (default 127.0.0.1)"),
  Options.optional
)
const httpPortOption = Options.integer("http-port").pipe(
  Options.withDescription("Port to listen on (default 7600; 0 picks a free one, logged at start)"),
  Options.optional
)

export const runCommand = Command.make(
  "run",
  { plugins: pluginsOption, httpHost: httpHostOption, httpPort: httpPortOption, common: Cli.commonOptions },
  (args) =>
    Effect.gen(function*() {
      const available = yield* Plugin.Plugins
      const config = yield* Cli.loadConfig(args.common, {
        httpHost: Option.getOrUndefined(args.httpHost),
        httpPort: Option.getOrUndefined(args.httpPort),
        checkPaths: true
      })
      const selection = Plugin.select(available, Option.getOrElse(args.plugins, () => config.core.plugins))
      if (selection._tag === "Left") return yield* Effect.fail(new Error(selection.message))
      const Runtime = yield* Effect.promise(() => import("@orch/core/Runtime"))
      return yield* Runtime.daemon({ config, available, selected: selection.plugins, version: packageJson.version })
    })
).pipe(Command.withDescription("Run the daemon: core and the chosen plugins, until SIGINT/SIGTERM"))
