/**
 * `orch scheduler descriptors|run|data|log|config`, clients of the daemon's Neubot API
 * (core's `DaemonClient`, so the token goes along). Each goes through the running
 * daemon when one answers (so a run queues behind the daemon's and the state is
 * published). When none answers, a command works in-process over the store files as
 * Neubot's own commands did, but only when `--data-dir` names them: asked nothing, it says
 * no daemon answers and creates nothing, as every other command does.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import * as Config from "@orch/core/Config"
import { DaemonClient, DaemonError } from "@orch/core/DaemonClient"
import { Duration, Effect, Either, Option, type Scope, Stream } from "effect"
import * as Descriptor from "./Descriptor.js"
import * as Scheduler from "./Scheduler.js"
import type { SchedulerConfig } from "./Settings.js"

class CommandError extends Error {}

const fail = (message: string) => Effect.fail(new CommandError(message))

const jsonOption = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
// the stores live under the data dir: read when no daemon answers, and by data, log and config get
const dataDirOption = Cli.dataDirOption

interface Context {
  readonly config: SchedulerConfig
  readonly dataDir: string
  /** Whether --data-dir (or ORCH_DATA_DIR) was given: only then may a command open the stores itself. */
  readonly dataDirGiven: boolean
  readonly base: string
  /** The bundled speed test's default server: the daemon's own endpoint, as it would be. */
  readonly speedTestUrl: string
}

const context = (dataDir: Option.Option<string>) =>
  Effect.gen(function*() {
    const orch = yield* Config.Config
    const http = orch.core.http
    return {
      config: orch.plugins[Scheduler.pluginName] as SchedulerConfig,
      dataDir: Option.getOrElse(dataDir, () => orch.core.dataDir),
      dataDirGiven: Option.isSome(dataDir),
      base: `${(yield* DaemonClient).url}/${Scheduler.pluginName}`,
      speedTestUrl: Scheduler.ownSpeedTestUrl(http.host, http.port)
    } satisfies Context
  })

const apiPath = (path: string) => `/${Scheduler.pluginName}/api/${path}`

/**
 * Whether the daemon runs the scheduler, of our version: false when nothing answers (the
 * command then works in-process); a refusal (a missing token …) is the command's failure.
 */
const daemon = Effect.flatMap(DaemonClient, (client) =>
  client.request<unknown>("GET", apiPath("version"), { timeout: Duration.millis(1500) }).pipe(
    Effect.map((version) => String(version).trim() === Scheduler.version),
    Effect.catchIf((error) => !(error instanceof DaemonError) || error.status === 404 || error.status === 503, () => Effect.succeed(false))
  ))

/**
 * The engine over the local stores, when no daemon answers and --data-dir names them;
 * otherwise the command fails in one line, having created nothing.
 */
const localEngine = (ctx: Context, options: { readonly checkIdentity: boolean }) =>
  ctx.dataDirGiven
    ? Scheduler.makeEngine(ctx.config, {
      dataDir: ctx.dataDir,
      speedTestUrl: ctx.speedTestUrl,
      // reading stores and listing descriptors runs no test: whoever runs the command may
      ...(options.checkIdentity ? {} : { uid: -1 })
    }) as Effect.Effect<Scheduler.Engine, unknown, Scope.Scope>
    : fail(
      `no orch daemon answers at ${ctx.base.slice(0, -Scheduler.pluginName.length - 1)} (or it runs no scheduler); start one with \`orch run\`, give its address with --url or ORCH_URL, or pass --data-dir to work on the scheduler's stores in this process`
    )

const parseParams = (pairs: ReadonlyArray<string>) => {
  const params: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf("=")
    if (eq <= 0) return Either.left(`--param expects name=value, not ${JSON.stringify(pair)}`)
    params[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return Either.right(params)
}

/** Unix seconds or an ISO date. */
const parseTime = (raw: string): number | undefined => {
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000
  const ms = Date.parse(raw)
  return Number.isNaN(ms) ? undefined : ms
}

const describeSchedule = (choice: Descriptor.ScheduleChoice) =>
  choice.kind === "cron"
    ? `cron ${choice.expression}${choice.timeZone ? ` (${choice.timeZone})` : ""}`
    : choice.kind === "interval"
    ? `every ${choice.everyMs / 1000} s${choice.jitterMs ? ` + up to ${choice.jitterMs / 1000} s` : ""}`
    : `Neubot's 23-27 min, first after ${choice.firstDelayMs / 1000} s`

const descriptors = Cli.command("descriptors", { dataDir: dataDirOption, json: jsonOption }, (args) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* context(args.dataDir)
    const remote = yield* daemon
    let body: { descriptors: ReadonlyArray<Record<string, any>>; invalid: ReadonlyArray<Descriptor.InvalidDescriptor> }
    if (remote) {
      body = yield* Effect.flatMap(DaemonClient, (client) => client.get<typeof body>(apiPath("descriptors")))
    } else {
      const engine = yield* localEngine(ctx, { checkIdentity: false })
      const catalog = yield* engine.catalog
      body = {
        descriptors: catalog.valid.map((d) => ({ ...d, schedule: d.schedule, next_run_at: null, bundled: d.file === undefined })),
        invalid: catalog.invalid
      }
    }
    if (args.json) return yield* Cli.print(JSON.stringify(body, null, 2))
    yield* Cli.print(Cli.table(
      ["TEST", "SCHEDULE", "NEXT RUN", "PARAMETERS", "SOURCE"],
      body.descriptors.map((d) => [
        d.name,
        describeSchedule(d.schedule),
        d.next_run_at ?? (remote ? "-" : "(no daemon)"),
        Object.entries(d.parameters as Record<string, Descriptor.Parameter>).map(([k, p]) => `${k}=${p.default ?? "?"}`).join(" "),
        d.file ?? "bundled"
      ])
    ))
    for (const entry of body.invalid) yield* Cli.print(`invalid: ${entry.file}: ${entry.reason}`)
  }))).pipe(Command.withDescription("List the tests: schedule, next run, parameters; broken descriptor files with why"))

const run = Cli.command(
  "run",
  {
    test: Args.text({ name: "TEST" }),
    param: Options.text("param").pipe(Options.withDescription("A parameter, name=value (repeatable)"), Options.repeated),
    dataDir: dataDirOption
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const params = parseParams(args.param)
      if (Either.isLeft(params)) return yield* fail(params.left)
      const ctx = yield* context(args.dataDir)
      if (yield* daemon) {
        const client = yield* DaemonClient
        // the run's log lines stream back for as long as the test runs
        const response = yield* client.stream("GET", apiPath("runner"), {
          query: { ...params.right, test: args.test, streaming: "1" },
          timeout: "none"
        })
        const last = yield* response.stream.pipe(
          Stream.decodeText(),
          Stream.runFoldEffect("", (last, text) =>
            Effect.sync(() => {
              process.stdout.write(text.replace(/\r\n/g, "\n"))
              return (last + text).split("\r\n").filter((l) => l !== "").at(-1) ?? last
            })),
          Effect.mapError((error) => new CommandError(`the run's log broke off: ${error.message}`))
        )
        if (last.startsWith("ERROR runner: done")) return yield* fail("the test failed")
        return
      }
      const engine = yield* localEngine(ctx, { checkIdentity: true })
      yield* Effect.mapError(engine.prepare(args.test, params.right), (error) => new CommandError(error.message))
      yield* Cli.print(`(no daemon at ${ctx.base}: running ${args.test} in this process)`)
      const outcome = yield* engine.execute(0, args.test, params.right, (event) =>
        event._tag === "Line" ? Cli.print(`${event.severity} ${event.message}`) : Effect.void)
      yield* Cli.print(JSON.stringify(outcome.result))
      if (outcome.status !== "ok") return yield* fail(`${args.test} failed: ${outcome.reason}`)
    }))
).pipe(Command.withDescription("Run a test now (through the daemon when one runs) and print its log lines and result"))

const data = Cli.command(
  "data",
  {
    test: Options.text("test").pipe(Options.optional),
    since: Options.text("since").pipe(Options.withDescription("Unix seconds or an ISO date (inclusive)"), Options.optional),
    until: Options.text("until").pipe(Options.withDescription("Unix seconds or an ISO date (exclusive)"), Options.optional),
    limit: Options.integer("limit").pipe(Options.withDefault(20)),
    dataDir: dataDirOption,
    json: jsonOption
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const since = Option.map(args.since, parseTime)
      const until = Option.map(args.until, parseTime)
      if (Option.isSome(since) && since.value === undefined) return yield* fail(`--since ${Option.getOrThrow(args.since)}: not unix seconds nor a date`)
      if (Option.isSome(until) && until.value === undefined) return yield* fail(`--until ${Option.getOrThrow(args.until)}: not unix seconds nor a date`)
      const test = Option.getOrUndefined(args.test)
      const from = Option.getOrUndefined(since) ?? undefined
      const to = Option.getOrUndefined(until) ?? undefined
      let parsed: ReadonlyArray<Record<string, any>>
      if (yield* daemon) {
        const client = yield* DaemonClient
        const rows = yield* client.get<ReadonlyArray<Record<string, any>>>(apiPath("data"), {
          test,
          since: from === undefined ? undefined : from / 1000,
          until: to === undefined ? undefined : to / 1000
        })
        parsed = rows.slice(0, args.limit)
      } else {
        const engine = yield* localEngine(yield* context(args.dataDir), { checkIdentity: false })
        const rows = yield* engine.stores.data.select({ test, since: from, until: to, limit: args.limit })
        parsed = rows.map((row) => ({
          ...JSON.parse(row.json),
          test_name: row.test_name,
          timestamp: Math.floor(row.timestamp_msec / 1000),
          timestamp_msec: row.timestamp_msec
        }))
      }
      if (args.json) return yield* Cli.print(JSON.stringify(parsed, null, 2))
      yield* Cli.print(Cli.table(
        ["STARTED", "TEST", "RESULT", "DOWNLOAD", "UPLOAD", "LATENCY"],
        parsed.map((row) => {
          const shown = Scheduler.figures(row)
          return [
            Cli.time(row.timestamp_msec),
            row.test_name,
            row.status === "failed" ? `failed: ${row.reason}` : "ok",
            shown.download,
            shown.upload,
            shown.latency
          ]
        })
      ))
    }))
).pipe(Command.withDescription("Results, newest first, failed runs included (from the daemon when one runs)"))

const log = Cli.command(
  "log",
  {
    verbosity: Options.choice("verbosity", ["0", "1", "2"]).pipe(Options.withDefault("1" as const)),
    limit: Options.integer("limit").pipe(Options.withDefault(50)),
    dataDir: dataDirOption,
    json: jsonOption
  },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      type Line = { timestamp: number; timestamp_msec: number; severity: string; message: string }
      let rows: ReadonlyArray<Line>
      if (yield* daemon) {
        const client = yield* DaemonClient
        rows = (yield* client.get<ReadonlyArray<Line>>(apiPath("log"), { verbosity: args.verbosity })).slice(0, args.limit)
      } else {
        const engine = yield* localEngine(yield* context(args.dataDir), { checkIdentity: false })
        const verbosity = Number(args.verbosity)
        const severities = ["ERROR", "WARNING", ...(verbosity >= 1 ? ["INFO"] : []), ...(verbosity >= 2 ? ["DEBUG"] : [])]
        const stored = yield* engine.stores.log.select({ severities, newestFirst: false, limit: args.limit })
        rows = stored.map((row) => ({ timestamp: Math.floor(row.timestamp / 1000), timestamp_msec: row.timestamp, severity: row.severity, message: row.message }))
      }
      if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
      for (const row of rows) yield* Cli.print(`${Cli.time(row.timestamp_msec)} ${row.severity.padEnd(7)} ${row.message}`)
    }))
).pipe(Command.withDescription("The scheduler's log store, oldest first (verbosity 0: warnings and errors; 2: debug too; from the daemon when one runs)"))

const configGet = Cli.command("get", { name: Args.text({ name: "NAME" }).pipe(Args.optional), dataDir: dataDirOption, json: jsonOption }, (args) =>
  Effect.scoped(Effect.gen(function*() {
    const settings: Readonly<Record<string, unknown>> = (yield* daemon)
      ? yield* Effect.flatMap(DaemonClient, (client) => client.get<Record<string, unknown>>(apiPath("config")))
      : yield* Effect.flatMap(localEngine(yield* context(args.dataDir), { checkIdentity: false }), (engine) => engine.settings)
    if (Option.isSome(args.name)) {
      if (!(args.name.value in settings)) return yield* fail(`No such property: ${args.name.value}`)
      return yield* Cli.print(args.json ? JSON.stringify(settings[args.name.value]) : String(settings[args.name.value]))
    }
    if (args.json) return yield* Cli.print(JSON.stringify(settings, null, 2))
    yield* Cli.print(Cli.table(["NAME", "VALUE"], Object.entries(settings).sort(([a], [b]) => a.localeCompare(b))))
  }))).pipe(Command.withDescription("Print the scheduler's settings, or one (from the daemon when one runs)"))

const configSet = Cli.command(
  "set",
  { pairs: Args.text({ name: "NAME=VALUE" }).pipe(Args.repeated), dataDir: dataDirOption },
  (args) =>
    Effect.scoped(Effect.gen(function*() {
      const pairs: Array<[string, string]> = []
      for (const pair of args.pairs) {
        const eq = pair.indexOf("=")
        if (eq <= 0) return yield* fail(`expected NAME=VALUE, not ${JSON.stringify(pair)}`)
        pairs.push([pair.slice(0, eq), pair.slice(eq + 1)])
      }
      if (pairs.length === 0) return yield* fail("nothing to set: give NAME=VALUE")
      const ctx = yield* context(args.dataDir)
      if (yield* daemon) {
        const client = yield* DaemonClient
        yield* client.request("POST", apiPath("config"), { form: pairs })
      } else {
        const engine = yield* localEngine(ctx, { checkIdentity: false })
        yield* Effect.mapError(engine.updateSettings(pairs), (error) => new CommandError(error.message))
      }
      yield* Cli.print(`set ${pairs.map(([n, v]) => `${n}=${v}`).join(", ")}`)
    }))
).pipe(Command.withDescription("Change settings, all or none (through the daemon when one runs)"))

const config = Command.make("config").pipe(
  Command.withDescription("Read or change the scheduler's settings (Neubot's /api/config)"),
  Command.withSubcommands([configGet, configSet])
)

export const commands = [descriptors, run, data, log, config]
