/**
 * The command tree of `orch` and how it runs: parse, run the chosen command with the
 * plugin list in context, print errors as one readable line, exit with a useful code.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type { Plugin } from "@orch/core/Plugin"
import { Plugins } from "@orch/core/Plugin"
import { Cause, Effect, Layer } from "effect"
import packageJson from "../package.json" with { type: "json" }
import { configCommand } from "./commands/config.js"
import { dbCommand } from "./commands/db.js"
import { jobsCommand } from "./commands/jobs.js"
import { resourcesCommand } from "./commands/resources.js"
import { runCommand } from "./commands/run.js"
import { tuiCommand } from "./commands/tui.js"

export const version: string = packageJson.version

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
  return Command.make("orch").pipe(
    Command.withDescription("orch: one orchestrator for test and measurement infrastructure"),
    Command.withSubcommands([
      runCommand,
      configCommand(plugins),
      dbCommand,
      jobsCommand,
      resourcesCommand,
      tuiCommand,
      ...pluginGroups
    ] as unknown as [Command.Command<string, any, any, any>])
  )
}

/** A failure as one line: tagged errors carry their own message (config errors their location). */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { _tag?: string; message?: string; toString?: () => string }
  if (error && typeof error === "object" && error._tag === "ConfigError") return String(error)
  if (error && typeof error === "object" && typeof error.message === "string" && error.message !== "") {
    return error._tag && !error.message.includes(error._tag) ? `${error.message}` : error.message
  }
  return Cause.pretty(cause)
}

export const main = (plugins: ReadonlyArray<Plugin>, argv: ReadonlyArray<string>) => {
  const cli = Command.run(rootCommand(plugins), { name: "orch", version })
  cli(argv).pipe(
    Effect.provide(Layer.merge(NodeContext.layer, Layer.succeed(Plugins, plugins))),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const error = Cause.squash(cause) as { _tag?: string }
      // @effect/cli has already printed its own usage errors
      if (error && typeof error === "object" && typeof error._tag === "string" && /^(CommandMismatch|MissingValue|InvalidValue|InvalidArgument|MissingFlag|UnclusteredFlag|MultipleValuesDetected|CorrectedFlag|ShowHelp|NoBuiltInMatch|MissingSubcommand)$/.test(error._tag)) {
        return Effect.sync(() => {
          process.exitCode = error._tag === "ShowHelp" ? 0 : 2
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
