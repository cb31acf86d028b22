/** `orch db migrate|status|prune|copy`: with `orch run`, the only commands that open the database file. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import * as Config from "@orch/core/Config"
import { DatabaseError } from "@orch/core/Errors"
import { Plugins } from "@orch/core/Plugin"
import { Effect, Option } from "effect"

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

/** The per-table comparison, then the first mismatches, each on a line of its own. */
const printVerification = (verification: import("@orch/core/DatabaseCopy").Verification, copied?: ReadonlyArray<{ table: string; rows: number }>) =>
  Effect.gen(function*() {
    yield* Cli.print(Cli.table(
      [...(copied ? ["TABLE", "COPIED"] : ["TABLE"]), "SOURCE", "TARGET", "MISMATCHES"],
      verification.tables.map((t) => [
        t.table,
        ...(copied ? [copied.find((c) => c.table === t.table)?.rows] : []),
        t.sourceRows,
        t.targetRows,
        t.mismatches
      ])
    ))
    for (const m of verification.mismatches) {
      yield* Cli.print(
        `mismatch: ${m.table} ${m.key}: ${m.problem}${
          m.column === undefined ? "" : ` in ${m.column}: source ${JSON.stringify(m.source)}, target ${JSON.stringify(m.target)}`
        }`
      )
    }
  })

const copy = Command.make("copy", {
  to: Options.redacted("to").pipe(
    Options.withPseudoName("postgres://user:password@host:port/database"),
    Options.withDescription("The empty PostgreSQL database to copy into")
  ),
  from: Options.file("from", { exists: "either" }).pipe(
    Options.withPseudoName("file"),
    Options.withDescription("The SQLite file to copy (default: core.database.file)"),
    Options.optional
  ),
  verifyOnly: Options.boolean("verify-only").pipe(
    Options.withDescription("Copy nothing: compare the two databases row by row again, as after a copy")
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Print the report as JSON")),
  common: Cli.commonOptions
}, ({ common, from, json, to, verifyOnly }) =>
  Effect.gen(function*() {
    const config = yield* Cli.loadConfig(common)
    const source = Option.isSome(from)
      ? from.value
      : config.database.dialect === "sqlite"
      ? config.database.file
      : yield* new DatabaseError({ message: "the config names a PostgreSQL database (core.database.url): give the SQLite file to copy with --from" })
    const [DatabaseCopy, Runtime] = yield* Effect.promise(() => Promise.all([import("@orch/core/DatabaseCopy"), import("@orch/core/Runtime")]))
    const plugins = yield* Plugins
    const endpoints = {
      from: source,
      to: { url: to },
      onProgress: (p: import("@orch/core/DatabaseCopy").Progress) =>
        Effect.sync(() => process.stderr.write(`${p.step === "copy" ? "copied" : "verified"} ${p.table}: ${p.rows} rows in ${p.ms} ms\n`))
    }
    const verification = verifyOnly
      ? yield* Effect.tap(DatabaseCopy.verify(endpoints), (verification) =>
        json ? Cli.print(JSON.stringify(verification, null, 2)) : printVerification(verification))
      : yield* Effect.gen(function*() {
        const report = yield* DatabaseCopy.copy({ ...endpoints, migrations: Runtime.migrationSets(plugins) })
        if (json) return yield* Effect.as(Cli.print(JSON.stringify(report, null, 2)), report.verification)
        yield* printVerification(report.verification, report.tables)
        const rows = report.tables.reduce((sum, t) => sum + t.rows, 0)
        yield* Cli.print(`copied ${rows} rows of ${report.tables.length} tables from ${report.source} to ${report.target}; ${report.sequences} sequences moved on`)
        if (report.leftEmpty.length > 0) yield* Cli.print(`left empty (the source has no such table): ${report.leftEmpty.join(", ")}`)
        return report.verification
      })
    if (!verification.ok) {
      return yield* new DatabaseCopy.CopyError({
        message: `${verification.target} differs from ${verification.source}: ${verification.mismatchCount} mismatched rows or columns` +
          (verification.mismatches.length > 0 && !json ? " (the first are listed above)" : "")
      })
    }
    if (!json) yield* Cli.print("verified: every row of every table is the same on both sides")
  })).pipe(Command.withDescription("Copy the SQLite database into an empty PostgreSQL database, then compare them row by row"))

export const dbCommand = Command.make("db").pipe(
  Command.withDescription("The shared database: migrate it, show its migrations, prune it, copy it to PostgreSQL"),
  Command.withSubcommands([migrate, status, prune, copy])
)
