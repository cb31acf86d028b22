/** `orch resources list`: devices, instances, runners … across every plugin. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { Resources } from "@orch/core/Resources"
import { Effect, HashMap, Option } from "effect"

const list = Cli.command(
  "list",
  {
    plugin: Options.text("plugin").pipe(Options.optional),
    kind: Options.text("kind").pipe(Options.optional),
    state: Options.text("state").pipe(Options.optional),
    label: Options.keyValueMap("label").pipe(Options.withDescription("Only those with label=value (repeatable)"), Options.optional),
    json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
  },
  (args) =>
    Effect.gen(function*() {
      const resources = yield* Resources
      const rows = yield* resources.list({
        plugin: Option.getOrUndefined(args.plugin),
        kind: Option.getOrUndefined(args.kind),
        state: Option.getOrUndefined(args.state),
        labels: Option.match(args.label, { onNone: () => undefined, onSome: (map) => Object.fromEntries(HashMap.toEntries(map)) })
      })
      if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
      yield* Cli.print(Cli.table(
        ["PLUGIN", "KIND", "NAME", "STATE", "LABELS", "LEASE", "LAST SEEN"],
        rows.map((r) => [
          r.plugin,
          r.kind,
          r.name,
          r.state,
          Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(","),
          r.lease ? `${r.lease.holder} #${r.lease.token} until ${Cli.time(r.lease.expiresAt)}` : "-",
          Cli.time(r.lastSeenAt)
        ])
      ))
    })
).pipe(Command.withDescription("List resources with their state, labels, lease and last heartbeat"))

export const resourcesCommand = Command.make("resources").pipe(
  Command.withDescription("Leased and managed things: devices, instances, runners"),
  Command.withSubcommands([list])
)
