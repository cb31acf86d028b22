/** `orch resources list`: devices, instances, runners … across every plugin, through the daemon's API. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import type { ResourceView } from "@orch/core/CoreApi"
import { DaemonClient } from "@orch/core/DaemonClient"
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
      const daemon = yield* DaemonClient
      const all = yield* daemon.get<ReadonlyArray<typeof ResourceView.Type>>("/resources", {
        plugin: Option.getOrUndefined(args.plugin),
        kind: Option.getOrUndefined(args.kind),
        state: Option.getOrUndefined(args.state)
      })
      // the route has no label filter: every given label must be on the resource
      const labels = Option.match(args.label, { onNone: () => [], onSome: (map) => HashMap.toEntries(map) })
      const rows = all.filter((r) => labels.every(([key, value]) => r.labels[key] === value))
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
