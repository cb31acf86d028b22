/** `orch db migrate|status|prune`: with `orch run`, the only commands that open the database file. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import * as Config from "@orch/core/Config"
import { Plugins } from "@orch/core/Plugin"
import { Effect } from "effect"

const migrate = Cli.databaseCommand("migrate", {}, () =>
  Effect.gen(function*() {
    // opening core's services has applied every pending migration
    const Runtime = yield* Effect.promise(() => import("@orch/core/Runtime"))
    const plugins = yield* Plugins
    const status = yield* Runtime.migrationStatus(plugins)
    yield* Cli.print(`database is up to date: ${status.length} migrations applied`)
  })).pipe(Command.withDescription("Apply every pending migration of core and the plugins"))

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

const status = Command.make("status", { json, common: Cli.commonOptions }, ({ common, json }) =>
  Cli.withDatabase(common, Effect.gen(function*() {
    const Runtime = yield* Effect.promise(() => import("@orch/core/Runtime"))
    const plugins = yield* Plugins
    const rows = yield* Runtime.migrationStatus(plugins)
    if (json) return yield* Cli.print(JSON.stringify(rows, null, 2))
    yield* Cli.print(Cli.table(
      ["OWNER", "ID", "NAME", "APPLIED"],
      rows.map((row) => [row.owner, row.id, row.name, row.appliedAt === undefined ? "pending" : Cli.time(row.appliedAt) + (row.changed ? " (script changed since)" : "")])
    ))
  }))).pipe(Command.withDescription("Show every migration and when it was applied"))

const prune = Cli.databaseCommand("prune", {
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Count what would be removed; remove nothing")),
  json: Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
}, ({ dryRun, json }) =>
  Effect.gen(function*() {
    const Retention = yield* Effect.promise(() => import("@orch/core/Retention"))
    const plugins = yield* Plugins
    const config = yield* Config.Config
    const report = yield* Retention.prune(Retention.targetOf(plugins, config.core.retention), { dryRun })
    if (json) return yield* Cli.print(JSON.stringify(report))
    const total = report.tables.reduce((sum, t) => sum + t.rows, 0)
    yield* Cli.print(Cli.table(["TABLE", dryRun ? "WOULD REMOVE" : "REMOVED"], report.tables.map((t) => [t.table, t.rows])))
    yield* Cli.print(
      dryRun
        ? `would remove ${total} rows (dry run: nothing removed)`
        : `removed ${total} rows in ${report.transactions} transactions (longest ${report.longestTransactionMs.toFixed(1)} ms)`
    )
  }), { existing: true }).pipe(Command.withDescription("Remove history older or more plentiful than core.retention allows, once, in small batches"))

export const dbCommand = Command.make("db").pipe(
  Command.withDescription("The shared SQLite database"),
  Command.withSubcommands([migrate, status, prune])
)
