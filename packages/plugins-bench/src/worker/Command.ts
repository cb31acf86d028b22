/**
 * `orch bench worker`: runs this machine as a benchmark worker for the servers of
 * `bench.worker` in orch.yaml, or for the one server named by `--server URL --token T`, until
 * stopped (SIGINT/SIGTERM kill a benchmark in progress; it is not submitted, and the server
 * hands the commit out again). It opens no database and needs no daemon of its own.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { ConfigError } from "@orch/core/Errors"
import * as Logging from "@orch/core/Logging"
import { Config as EffectConfig, Effect, Option, ParseResult, Schema } from "effect"
import type { ParseMeasurements } from "./Bench.js"
import * as Worker from "./Worker.js"
import { defaultWorkerSection, ServerEntry, WorkerName, type WorkerSection } from "./WorkerConfig.js"

const serverOption = Options.text("server").pipe(
  Options.withPseudoName("url"),
  Options.withDescription("One server to work for (instead of bench.worker.servers): an orch daemon's URL"),
  Options.optional
)

const tokenOption = Options.text("token").pipe(
  Options.withDescription("That server's worker token (default: $ORCH_BENCH_TOKEN)"),
  Options.withFallbackConfig(EffectConfig.string("ORCH_BENCH_TOKEN")),
  Options.optional
)

const nameOption = Options.text("name").pipe(
  Options.withDescription("The worker's name (default: bench.worker.name, else the host name)"),
  Options.optional
)

const timeoutOption = Options.integer("timeout").pipe(
  Options.withPseudoName("seconds"),
  Options.withDescription("Kill a benchmark running longer (default: bench.worker.timeoutSeconds, 3600)"),
  Options.optional
)

const problem = (flag: string, message: string) => new ConfigError({ flag, message })

/** The worker section of the loaded config with the flags applied, each flag checked as the file's keys are. */
export const resolveSection = (
  fromConfig: WorkerSection,
  flags: {
    readonly server: Option.Option<string>
    readonly token: Option.Option<string>
    readonly name: Option.Option<string>
    readonly timeout: Option.Option<number>
  }
): Effect.Effect<WorkerSection, ConfigError> =>
  Effect.gen(function*() {
    let section = fromConfig
    if (Option.isSome(flags.name)) {
      const name = Schema.decodeEither(WorkerName)(flags.name.value)
      if (name._tag === "Left") return yield* problem(`--name ${flags.name.value}`, "must be letters, digits, '.', '_' or '-' (it is the HTTP Basic user name)")
      section = { ...section, name: name.right }
    }
    if (Option.isSome(flags.timeout)) {
      if (flags.timeout.value <= 0) return yield* problem(`--timeout ${flags.timeout.value}`, "must be a whole number of seconds above 0")
      section = { ...section, timeoutSeconds: flags.timeout.value }
    }
    if (Option.isSome(flags.server)) {
      if (Option.isNone(flags.token)) return yield* problem(`--server ${flags.server.value}`, "needs --token (or $ORCH_BENCH_TOKEN): the server's worker token")
      const entry = Schema.decodeUnknownEither(ServerEntry)({ url: flags.server.value, token: flags.token.value })
      if (entry._tag === "Left") {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(entry.left)[0]!
        return yield* problem(issue.path[0] === "url" ? `--server ${flags.server.value}` : "--token", issue.message)
      }
      section = { ...section, servers: [entry.right] }
    } else if (Option.isSome(flags.token)) {
      if (section.servers.length === 0) return yield* problem("--token", "needs --server URL (or servers in bench.worker of the config)")
    }
    if (section.servers.length === 0) {
      return yield* problem("--server", "no server to work for: give --server URL --token T, or bench.worker.servers in orch.yaml")
    }
    return section
  })

/** The command, reading measurements with `parse` (the plugin passes its formats' reader). */
export const makeCommand = (parse?: ParseMeasurements) =>
  Command.make("worker", {
    server: serverOption,
    token: tokenOption,
    name: nameOption,
    timeout: timeoutOption,
    common: Cli.commonOptions
  }, ({ common, ...flags }) =>
    Effect.gen(function*() {
      const orch = yield* Cli.loadConfig(common)
      const bench = orch.plugins["bench"] as { readonly worker?: WorkerSection } | undefined
      const section = yield* resolveSection(bench?.worker ?? defaultWorkerSection, flags)
      // core's logger (level, format, file from the config and flags), blanking the tokens
      const logging = Logging.layer({
        level: orch.core.log.level,
        format: orch.core.log.format,
        file: orch.core.log.file,
        secrets: [...orch.secrets, ...Option.toArray(flags.token).filter((token) => token.length >= 4)]
      })
      return yield* Worker.runWithFetch({ section, parse }).pipe(Effect.provide(logging))
    })).pipe(Command.withDescription(
      "Work as a benchmark worker for the servers of bench.worker (or --server URL --token T) until stopped"
    ))

export const workerCommand = makeCommand()
