/**
 * The command tree of `orch` and how it runs: parse, run the chosen command with the
 * plugin list in context, print errors as one readable line, exit with a useful code.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Plugin } from "@orch/core/Plugin"
import { Plugins } from "@orch/core/Plugin"
import { Cause, ConfigProvider, Effect, Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { configCommand } from "./commands/config.js"
import { dbCommand } from "./commands/db.js"
import { jobsCommand } from "./commands/jobs.js"
import { healthCommand } from "./commands/health.js"
import { resourcesCommand } from "./commands/resources.js"
import { runCommand } from "./commands/run.js"
import { tuiCommand } from "./commands/tui.js"
import { describeFailure } from "./Failure.js"
import * as CommandInfo from "./help/CommandInfo.js"
import { preflight } from "./help/Preflight.js"
import * as Help from "./help/Render.js"

export { describeFailure }

export const version: string = packageJson.version

/** The help of the command at `path` (names below `orch`), for this terminal. */
const helpText = (root: CommandInfo.CommandInfo, path: ReadonlyArray<string>) =>
  Help.render(CommandInfo.find(root, path).command, path, Help.terminal(), version)

/** `orch help [command…]`. The entry answers it before parsing; this is its place in the tree. */
const helpCommand = (root: () => CommandInfo.CommandInfo) =>
  Command.make(
    "help",
    { command: Args.text({ name: "command" }).pipe(Args.withDescription("A command, e.g. jobs list"), Args.repeated) },
    ({ command }) => Effect.sync(() => process.stdout.write(helpText(root(), command)))
  ).pipe(Command.withDescription("Show how to use orch or one of its commands: orch help jobs list"))

/** `orch` with core's commands and one `orch <plugin>` group per plugin that has commands. */
export const rootCommand = (plugins: ReadonlyArray<Plugin>) => {
  const pluginGroups = plugins.flatMap((plugin) =>
    plugin.commands && plugin.commands.length > 0
      ? [Command.make(plugin.name).pipe(
        Command.withDescription(plugin.description),
        Command.withSubcommands(plugin.commands as [Command.Command<string, any, any, any>, ...Array<Command.Command<string, any, any, any>>])
      )]
      : []
  )
  let described: CommandInfo.CommandInfo | undefined
  const root: Command.Command<"orch", any, any, any> = Command.make("orch").pipe(
    Command.withDescription("orch: one orchestrator for test and measurement infrastructure"),
    Command.withSubcommands([
      runCommand,
      configCommand(plugins),
      dbCommand,
      jobsCommand,
      resourcesCommand,
      healthCommand,
      tuiCommand,
      ...pluginGroups,
      helpCommand((): CommandInfo.CommandInfo => (described ??= CommandInfo.describe(root)))
    ] as unknown as [Command.Command<string, any, any, any>])
  )
  return root
}

/** @effect/cli's parse errors: printed by orch as one plain line, not by @effect/cli in colour. */
const usageErrors = /^(CommandMismatch|CorrectedFlag|HelpRequested|InvalidArgument|InvalidValue|MissingValue|MissingFlag|MultipleValuesDetected|MissingSubcommand|NoBuiltInMatch|UnclusteredFlag)$/

export const main = (plugins: ReadonlyArray<Plugin>, argv: ReadonlyArray<string>) => {
  const root = rootCommand(plugins)
  const described = CommandInfo.describe(root)
  const checked = preflight(described, argv.slice(2))
  if (checked._tag === "Help") {
    process.stdout.write(helpText(described, checked.path))
    return
  }
  if (checked._tag === "Fail") {
    process.stderr.write(`${checked.message}\n`)
    process.exitCode = 2
    return
  }
  const command = ["orch", ...checked.path].join(" ")
  // --log-level reaches the option through its environment variable (see Cli.logLevelOption)
  const configProvider = checked.logLevel === undefined
    ? ConfigProvider.fromEnv()
    : ConfigProvider.fromMap(new Map([["ORCH_LOG_LEVEL", checked.logLevel]])).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
  // @effect/cli prints its parse errors (in colour) to Console.error: silenced while it
  // parses, orch prints them below; the commands get the console back
  Effect.flatMap(Effect.console, (console) => {
    const cli = Command.run(Command.transformHandler(root, (effect) => Effect.withConsole(effect, console)), { name: "orch", version })
    return cli([argv[0]!, argv[1]!, ...checked.args]).pipe(
      Effect.withConsole({ ...console, error: () => Effect.void }),
      Effect.withConfigProvider(configProvider)
    )
  }).pipe(
    Effect.provide(Layer.merge(NodeContext.layer, Layer.succeed(Plugins, plugins))),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const error = Cause.squash(cause) as { _tag?: string; error?: unknown }
      if (error && typeof error === "object" && typeof error._tag === "string" && usageErrors.test(error._tag)) {
        return Effect.sync(() => {
          const text = CommandInfo.docText(error.error as never).replace(/\s*\n\s*/g, "; ").trim() || "invalid arguments"
          process.stderr.write(`${command}: ${text} (\`orch help${checked.path.length > 0 ? ` ${checked.path.join(" ")}` : ""}\` shows the usage)\n`)
          process.exitCode = 2
        })
      }
      return Effect.sync(() => {
        process.stderr.write(`orch: ${describeFailure(cause)}\n`)
        process.exitCode = error && typeof error === "object" && error._tag === "ConfigError" ? 2 : 1
      })
    }),
    (effect) => effect as Effect.Effect<void>,
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
}
