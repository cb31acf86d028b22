/** `orch watchdog create|check-idle|jobs|instances|cancel|retry`: clients of the daemon's /watchdog/ API. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { DaemonClient } from "@orch/core/DaemonClient"
import { ConfigError } from "@orch/core/Errors"
import * as Yaml from "@orch/core/Yaml"
import { Effect, Either, Option, Schema } from "effect"
import * as fs from "node:fs"
import type { LocationView } from "./Api.js"
import * as JobsFile from "./JobsFile.js"
import type * as Watchdog from "./Watchdog.js"
import { states, TestRequest } from "./WptJob.js"

type JobView = typeof Watchdog.JobView.Type
const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

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
          // each problem named by the flag (or the argument) that gave the value
          return yield* Yaml.problemsError(Yaml.problemsOf(decoded.left).map(({ message, path }) => {
            const key = path.length > 0 ? String(path[0]) : undefined
            return { flag: key === undefined ? "invalid job" : key === "url" || key === "script" ? "<url-or-script>" : `--${key}`, message }
          }))
        }
        tests = [decoded.right]
      } else {
        return yield* new ConfigError({ message: "give a URL (or a script file) to test, or --file with many jobs" })
      }
      const daemon = yield* DaemonClient
      const { ids } = yield* daemon.post<{ ids: ReadonlyArray<number> }>("/watchdog/jobs", { jobs: tests })
      yield* Cli.print(ids.length === 1 ? `created job ${ids[0]}` : `created ${ids.length} jobs (${ids[0]}…${ids[ids.length - 1]})`)
    })
).pipe(Command.withDescription("Queue WebPageTest jobs (the seed's creator)"))

const checkIdle = Cli.command("check-idle", { json }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const locations = yield* daemon.get<ReadonlyArray<typeof LocationView.Type>>("/watchdog/locations")
    if (args.json) return yield* Cli.print(JSON.stringify(locations, null, 2))
    if (locations.length === 0) return yield* Cli.print("No testers active")
    yield* Cli.print(Cli.table(
      ["LOCATION", "STATUS", "PENDING", "TESTING", "IDLE", "AWAITING", "SUBMITTED"],
      locations.map((l) =>
        l.listed
          ? [l.location, l.status, l.queued, l.testing, l.idle, l.jobs.AWAITING ?? 0, l.jobs.SUBMITTED ?? 0]
          : [l.location, l.status, "-", "-", "-", l.jobs.AWAITING ?? 0, l.jobs.SUBMITTED ?? 0]
      )
    ))
    const atWpt = locations.filter((l) => l.listed)
    const unlisted = locations.length - atWpt.length
    const fewer = (n: number) => atWpt.filter((l) => l.total < n).length
    yield* Cli.print(`${fewer(2)} of ${atWpt.length} locations have fewer than 2 tests pending or running; ${fewer(1)} have none`)
    if (unlisted > 0) yield* Cli.print(`${unlisted} location(s) with jobs are not listed by WPT`)
  })).pipe(Command.withDescription("Per location: tests pending, testing and idle agents as WPT reports them"))

const jobs = Cli.command(
  "jobs",
  {
    state: Options.choice("state", states).pipe(Options.optional),
    limit: Options.integer("limit").pipe(Options.withDefault(100)),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const daemon = yield* DaemonClient
      const rows = yield* daemon.get<ReadonlyArray<JobView>>("/watchdog/jobs", { state: Option.getOrUndefined(args.state), limit: args.limit })
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

const instances = Cli.command("instances", { json }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const rows = yield* daemon.get<ReadonlyArray<typeof Watchdog.InstanceView.Type>>("/watchdog/instances")
    if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
    yield* Cli.print(Cli.table(
      ["NAME", "ZONE", "STATE", "SINCE", "LAST WORK", "LAST DECISION"],
      rows.map((i) => [i.name, i.zone, i.state, Cli.time(i.since), Cli.time(i.lastWorkAt), i.lastDecision])
    ))
  })).pipe(Command.withDescription("Instances as the instance_controller last saw them"))

const cancel = Cli.command("cancel", { job: jobId, reason: Options.text("reason").pipe(Options.withDefault("cancelled from the command line")) }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const job = yield* daemon.post<JobView>(`/watchdog/jobs/${args.job}/cancel`, { reason: args.reason })
    yield* Cli.print(`job ${job.id} is ${job.state}`)
  })).pipe(Command.withDescription("Cancel a job (and its test at WPT if still queued there)"))

const retry = Cli.command("retry", { job: jobId, reason: Options.text("reason").pipe(Options.withDefault("retried from the command line")) }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const job = yield* daemon.post<JobView>(`/watchdog/jobs/${args.job}/retry`, { reason: args.reason })
    yield* Cli.print(`job ${job.id} is ${job.state}`)
  })).pipe(Command.withDescription("Queue a job that ended in an error or was cancelled again"))

export const commands = [create, checkIdle, jobs, instances, cancel, retry]
