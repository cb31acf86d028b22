/** `orch watchdog create|check-idle|jobs|instances|cancel|retry`. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { Config } from "@orch/core/Config"
import { ConfigError } from "@orch/core/Errors"
import { Effect, Either, Option, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import type { WatchdogConfig } from "./Config.js"
import * as JobsFile from "./JobsFile.js"
import * as Watchdog from "./Watchdog.js"
import * as Wpt from "./Wpt.js"
import { states, TestRequest } from "./WptJob.js"

const section = Effect.map(Config, (config) => config.plugins["watchdog"] as WatchdogConfig)

const jobId = Args.integer({ name: "job" }).pipe(Args.withDescription("The job's id"))

const create = Cli.command(
  "create",
  {
    zone: Options.text("zone").pipe(Options.withAlias("z"), Options.withDescription("Zone part of the location"), Options.withDefault("us-central1-a")),
    browser: Options.text("browser").pipe(Options.withAlias("b"), Options.withDescription("Browser part of the location (tor, firefox …)"), Options.withDefault("firefox")),
    agent: Options.text("agent").pipe(Options.withAlias("a"), Options.withDescription("Agent part of the location"), Options.withDefault("test-agent")),
    runs: Options.integer("runs").pipe(Options.withAlias("r"), Options.withDescription("Runs of the test (1-10)"), Options.withDefault(1)),
    connectivity: Options.text("connectivity").pipe(
      Options.withAlias("c"),
      Options.withDescription("WPT connectivity profile (Native for Tor)"),
      Options.withDefault("Native")
    ),
    label: Options.text("label").pipe(Options.withDescription("A label for the job, also sent to WPT"), Options.optional),
    file: Options.file("file").pipe(
      Options.withDescription("A YAML (jobs:, or urls: × locations:) or CSV (url,zone,browser,agent…) file of many jobs"),
      Options.optional
    ),
    target: Args.text({ name: "url-or-script" }).pipe(
      Args.withDescription("A URL to test, or a file holding a WPT script"),
      Args.optional
    )
  },
  (args) =>
    Effect.gen(function*() {
      const common = {
        zone: args.zone,
        browser: args.browser,
        agent: args.agent,
        runs: args.runs,
        connectivity: args.connectivity,
        ...(Option.isSome(args.label) ? { label: args.label.value } : {})
      }
      let tests: ReadonlyArray<TestRequest>
      if (Option.isSome(args.file)) {
        tests = yield* JobsFile.read(args.file.value, common)
      } else if (Option.isSome(args.target)) {
        const target = args.target.value
        const isScript = !/^https?:\/\//i.test(target) && fs.existsSync(target)
        const decoded = Schema.decodeUnknownEither(TestRequest)({
          ...common,
          ...(isScript ? { script: fs.readFileSync(target, "utf8") } : { url: target })
        })
        if (Either.isLeft(decoded)) {
          return yield* new ConfigError({ message: `invalid job: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}` })
        }
        tests = [decoded.right]
      } else {
        return yield* new ConfigError({ message: "give a URL (or a script file) to test, or --file with many jobs" })
      }
      const ids = yield* Watchdog.create(tests)
      yield* Cli.print(ids.length === 1 ? `created job ${ids[0]}` : `created ${ids.length} jobs (${ids[0]}…${ids[ids.length - 1]})`)
    })
).pipe(Command.withDescription("Queue WebPageTest jobs (the seed's creator)"))

const checkIdle = Cli.command("check-idle", { json: Options.boolean("json") }, (args) =>
  Effect.gen(function*() {
    const config = yield* section
    if (config.wpt.server === undefined) return yield* new ConfigError({ key: "watchdog.wpt.server", message: "is not set" })
    const wpt = Wpt.make({ server: config.wpt.server, key: config.wpt.key, timeout: config.wpt.requestTimeoutMs })
    const locations = yield* wpt.locations
    const local = new Map((yield* Watchdog.jobsByLocation).map((l) => [l.location, l.counts]))
    // orch's jobs at locations WPT does not list at all (not configured there: they will fail)
    const listed = new Set(locations.map((l) => l.location))
    const unlisted = [...local].filter(([location, counts]) => !listed.has(location) && ((counts.AWAITING ?? 0) + (counts.SUBMITTED ?? 0)) > 0)
    if (args.json) {
      return yield* Cli.print(JSON.stringify(
        [
          ...locations.map((l) => ({ ...l, listed: true, jobs: local.get(l.location) ?? {} })),
          ...unlisted.map(([location, jobs]) => ({ location, status: "NOT AT WPT", listed: false, jobs }))
        ],
        null,
        2
      ))
    }
    if (locations.length === 0 && unlisted.length === 0) return yield* Cli.print("No testers active")
    yield* Cli.print(Cli.table(
      ["LOCATION", "STATUS", "PENDING", "TESTING", "IDLE", "AWAITING", "SUBMITTED"],
      [
        ...locations.map((l) => [l.location, l.status, l.queued, l.testing, l.idle, local.get(l.location)?.AWAITING ?? 0, local.get(l.location)?.SUBMITTED ?? 0]),
        ...unlisted.map(([location, counts]) => [location, "NOT AT WPT", "-", "-", "-", counts.AWAITING ?? 0, counts.SUBMITTED ?? 0])
      ]
    ))
    const fewer = (n: number) => locations.filter((l) => l.total < n).length
    yield* Cli.print(`${fewer(2)} of ${locations.length} locations have fewer than 2 tests pending or running; ${fewer(1)} have none`)
    if (unlisted.length > 0) yield* Cli.print(`${unlisted.length} location(s) with jobs are not listed by WPT`)
  })).pipe(Command.withDescription("Per location: tests pending, testing and idle agents as WPT reports them"))

const jobs = Cli.command(
  "jobs",
  {
    state: Options.choice("state", states).pipe(Options.optional),
    limit: Options.integer("limit").pipe(Options.withDefault(100)),
    json: Options.boolean("json")
  },
  (args) =>
    Effect.gen(function*() {
      const rows = yield* Watchdog.list({ state: Option.getOrUndefined(args.state), limit: args.limit })
      if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
      yield* Cli.print(Cli.table(
        ["ID", "STATE", "LOCATION", "URL/SCRIPT", "RUNS", "TEST", "LOAD MS", "ERROR"],
        rows.map((j) => [
          j.id,
          j.state,
          j.location,
          j.url ?? `script (${j.script?.split("\n").length ?? 0} lines)`,
          j.runs,
          j.testId,
          j.summary?.loadTime,
          j.error
        ])
      ))
    })
).pipe(Command.withDescription("List the watchdog's jobs, newest first"))

const instances = Cli.command("instances", { json: Options.boolean("json") }, (args) =>
  Effect.gen(function*() {
    const rows = yield* Watchdog.instances
    if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
    yield* Cli.print(Cli.table(
      ["NAME", "ZONE", "STATE", "SINCE", "LAST WORK", "LAST DECISION"],
      rows.map((i) => [i.name, i.zone, i.state, Cli.time(i.since), Cli.time(i.lastWorkAt), i.lastDecision])
    ))
  })).pipe(Command.withDescription("Instances as the instance_controller last saw them"))

const cancel = Cli.command("cancel", { job: jobId, reason: Options.text("reason").pipe(Options.withDefault("cancelled from the command line")) }, (args) =>
  Effect.gen(function*() {
    const config = yield* section
    const job = yield* Watchdog.cancel(config, args.job, args.reason).pipe(Effect.provideService(Wpt.WptClient, Watchdog.wptClient(config)))
    yield* Cli.print(`job ${job.id} is ${job.state}`)
  })).pipe(Command.withDescription("Cancel a job (and its test at WPT if still queued there)"))

const retry = Cli.command("retry", { job: jobId, reason: Options.text("reason").pipe(Options.withDefault("retried from the command line")) }, (args) =>
  Effect.gen(function*() {
    const job = yield* Watchdog.retry(args.job, args.reason)
    yield* Cli.print(`job ${job.id} is ${job.state}`)
  })).pipe(Command.withDescription("Queue a job that ended in an error or was cancelled again"))

export const commands = [create, checkIdle, jobs, instances, cancel, retry]
