/** `orch config init|check`. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import * as ConfigInit from "@orch/core/ConfigInit"
import { ConfigError } from "@orch/core/Errors"
import * as Yaml from "@orch/core/Yaml"
import { type Plugin, Plugins } from "@orch/core/Plugin"
import { Effect, Option } from "effect"
import * as fs from "node:fs"

const initCommand = (plugins: ReadonlyArray<Plugin>) => {
  const leaves = plugins.flatMap(ConfigInit.leaves)
  const pluginFlags = Object.fromEntries(
    leaves.map((leaf) => [
      leaf.flag,
      Options.text(leaf.flag).pipe(
        Options.withDescription(leaf.description ?? `${leaf.section}: ${leaf.path.join(".")}`),
        Options.optional
      )
    ])
  )
  return Command.make(
    "init",
    {
      output: Options.text("output").pipe(
        Options.withAlias("o"),
        Options.withDescription("Where to write (default ./orch.yaml; - for stdout)"),
        Options.withDefault("orch.yaml")
      ),
      force: Options.boolean("force").pipe(Options.withDescription("Overwrite an existing file")),
      dataDir: Cli.dataDirOption,
      httpHost: Options.text("http-host").pipe(Options.withDescription("core.http.host: address the daemon listens on"), Options.optional),
      httpPort: Options.integer("http-port").pipe(Options.withDescription("core.http.port: port the daemon listens on"), Options.optional),
      plugins: Options.text("plugins").pipe(Options.withDescription("Default plugins for orch run"), Options.optional),
      pluginFlags
    },
    (args) =>
      Effect.gen(function*() {
        const core: Record<string, unknown> = {}
        if (Option.isSome(args.dataDir)) core.dataDir = args.dataDir.value
        if (Option.isSome(args.httpHost) || Option.isSome(args.httpPort)) {
          core.http = {
            ...(Option.isSome(args.httpHost) ? { host: args.httpHost.value } : {}),
            ...(Option.isSome(args.httpPort) ? { port: args.httpPort.value } : {})
          }
        }
        if (Option.isSome(args.plugins)) core.plugins = args.plugins.value.split(",").map((s) => s.trim())
        const values: Record<string, Array<readonly [ReadonlyArray<string>, unknown]>> = {}
        for (const leaf of leaves) {
          const given = (args.pluginFlags as Record<string, Option.Option<string>>)[leaf.flag]
          if (given && Option.isSome(given)) {
            ;(values[leaf.section] ??= []).push([leaf.path, ConfigInit.parseScalar(given.value)])
          }
        }
        // a bad value is named by its flag, one line each, before anything is written
        const flagOf = new Map<string, string>([
          ["core.dataDir", "--data-dir"],
          ["core.http.host", "--http-host"],
          ["core.http.port", "--http-port"],
          ["core.plugins", "--plugins"],
          ...leaves.map((leaf) => [[leaf.section, ...leaf.path].join("."), `--${leaf.flag}`] as const)
        ])
        const problems = ConfigInit.problems(plugins, { core, plugins: values })
        if (problems.length > 0) {
          return yield* Yaml.problemsError(problems.map(({ message, path }) => {
            const key = Yaml.formatPath(path)
            const flag = [...flagOf].find(([prefix]) => key === prefix || key.startsWith(`${prefix}.`) || key.startsWith(`${prefix}[`))?.[1]
            return flag ? { flag, message } : { flag: "config init", key, message }
          }))
        }
        const text = ConfigInit.render(plugins, { core, plugins: values })
        if (args.output === "-") return yield* Cli.print(text)
        if (fs.existsSync(args.output) && !args.force) {
          return yield* new ConfigError({ file: args.output, message: "already exists; pass --force to overwrite it" })
        }
        fs.writeFileSync(args.output, text, { mode: 0o600 })
        yield* Cli.print(`wrote ${args.output}`)
      })
  ).pipe(Command.withDescription("Write a commented orch.yaml from defaults and flags"))
}

const checkCommand = Command.make("check", { common: Cli.commonOptions }, ({ common }) =>
  Effect.gen(function*() {
    const plugins = yield* Plugins
    const config = yield* Cli.loadConfig(common, { checkPaths: true })
    yield* Cli.print(
      `${config.file ?? "(no config file: defaults)"} is valid: ${plugins.length} plugin section${plugins.length === 1 ? "" : "s"} checked; database ${config.database.location}; http ${config.core.http.host}:${config.core.http.port}`
    )
  })).pipe(Command.withDescription("Validate a config file and say where it is wrong"))

export const configCommand = (plugins: ReadonlyArray<Plugin>) =>
  Command.make("config").pipe(
    Command.withDescription("Write and check orch.yaml"),
    Command.withSubcommands([initCommand(plugins), checkCommand])
  )
