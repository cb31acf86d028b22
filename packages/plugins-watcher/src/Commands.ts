/**
 * `orch watcher validate [DIR]` lints the endpoint files (no check is run) and exits 2
 * listing every problem; `orch watcher check KEY` checks one endpoint now and prints the
 * verdict, the timings and the extracted values. Neither needs the daemon or the database.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { DaemonClient } from "@orch/core/DaemonClient"
import { Effect, Option } from "effect"
import * as path from "node:path"
import * as EndpointFiles from "./EndpointFiles.js"
import { pluginName } from "./Sinks.js"
import type { JobsetsOverview } from "./JobsetsStatus.js"
import type { Overview } from "./Status.js"
import { checkNow } from "./Watcher.js"
import type { WatcherConfig } from "./WatcherConfig.js"

const directoryArg = Args.directory({ name: "DIR", exists: "either" }).pipe(
  Args.withDescription("The endpoints directory (default: watcher.endpoints of the config, ./endpoints)"),
  Args.optional
)

/** The directory and defaults the daemon would use, from the config (and `dir` when given). */
const loadAll = (common: Cli.CommonOptions, dir: Option.Option<string>) =>
  Effect.gen(function*() {
    const orch = yield* Cli.loadConfig(common)
    const config = orch.plugins[pluginName] as WatcherConfig
    const directory = path.resolve(Option.getOrElse(dir, () => config.endpoints))
    const defaults = {
      timeoutMs: config.timeoutSeconds * 1000,
      failureThreshold: config.failureThreshold,
      successThreshold: config.successThreshold,
      timeZone: orch.core.timeZone
    }
    return yield* EndpointFiles.loadDirectory(directory, defaults)
  })

const validate = Command.make("validate", { dir: directoryArg, common: Cli.commonOptions }, ({ common, dir }) =>
  Effect.gen(function*() {
    const load = yield* loadAll(common, dir)
    if (load.missing) {
      yield* Cli.print(`${load.directory}: no such directory (the watcher would check no endpoints)`)
      // asked for by name, a missing directory is a mistake; the default one is simply not set up
      if (Option.isSome(dir)) process.exitCode = 2
      return
    }
    const problems = EndpointFiles.problemsOf(load)
    for (const problem of problems) process.stderr.write(`${load.directory}/${String(problem)}\n`)
    const endpoints = EndpointFiles.endpointsOf(load).length
    const bad = load.files.filter((file) => file.problems.length > 0).length
    yield* Cli.print(
      `${load.files.length} file(s), ${endpoints} endpoint(s) valid` +
        (problems.length > 0 ? `; ${problems.length} problem(s) in ${bad} file(s), which the watcher would skip` : "")
    )
    if (problems.length > 0) process.exitCode = 2
  })).pipe(Command.withDescription("Check the endpoint files without running any check; exit 2 listing every problem"))

const check = Command.make("check", {
  key: Args.text({ name: "KEY" }).pipe(Args.withDescription("The endpoint's key in its file")),
  dir: Options.directory("dir").pipe(Options.withDescription("The endpoints directory (default: watcher.endpoints)"), Options.optional),
  json: Options.boolean("json").pipe(Options.withDescription("Print JSON")),
  common: Cli.commonOptions
}, ({ common, dir, json, key }) =>
  Effect.gen(function*() {
    const load = yield* loadAll(common, dir)
    const endpoint = EndpointFiles.endpointsOf(load).find((e) => e.key === key)
    if (endpoint === undefined) {
      const problems = EndpointFiles.problemsOf(load).filter((p) => p.key === key || p.key?.startsWith(`${key}.`))
      process.stderr.write(`orch: no endpoint ${JSON.stringify(key)} in ${load.directory}${problems.length > 0 ? `: ${problems.map(String).join("; ")}` : ""}\n`)
      process.exitCode = 2
      return
    }
    const { result, verdict } = yield* checkNow(endpoint)
    if (json) {
      yield* Cli.print(JSON.stringify({ endpoint: key, ...verdict, status: result.status ?? null, totalMs: result.totalMs, phases: result.phases, certificateExpiresAt: result.certificateExpiresAt ?? null }, null, 2))
    } else {
      const phases = Object.entries(result.phases).filter(([, ms]) => ms !== undefined).map(([phase, ms]) => `${phase} ${ms!.toFixed(1)} ms`)
      yield* Cli.print([
        `${key}: ${verdict.success ? "success" : "failure"}${result.status === undefined ? "" : ` (status ${result.status})`} in ${result.totalMs.toFixed(1)} ms`,
        ...(phases.length > 0 ? [`  phases: ${phases.join(", ")}`] : []),
        ...verdict.reasons.map((reason) => `  failed: ${reason}`),
        ...Object.entries(verdict.values).map(([name, value]) => `  ${name} = ${JSON.stringify(value)}`),
        ...(result.certificateExpiresAt === undefined ? [] : [`  certificate expires ${new Date(result.certificateExpiresAt).toISOString()}`])
      ].join("\n"))
    }
    if (!verdict.success) process.exitCode = 1
  })).pipe(Command.withDescription("Check one endpoint now and print the verdict, the timings and the extracted values"))

const percent = (value: number | null) => value === null ? "-" : `${(value * 100).toFixed(2)}%`

const status = Cli.command("status", {
  json: Options.boolean("json").pipe(Options.withDescription("Print the daemon's JSON as it is"))
}, ({ json }) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    // failing first: with more endpoints than a page, the ones that matter are shown
    const overview = yield* daemon.get<Overview>(`/${pluginName}/api/endpoints?limit=1000`)
    if (json) return yield* Cli.print(JSON.stringify(overview, null, 2))
    yield* Cli.print(Cli.table(
      ["FILE", "ENDPOINT", "STATE", "SINCE", "24H", "7D", "LAST CHECK", "MS", "LAST FAILURE"],
      overview.endpoints.map((e) => [
        e.file, e.key, e.state, Cli.time(e.since), percent(e.uptime["24h"]), percent(e.uptime["7d"]), Cli.time(e.last?.at),
        e.last === null ? "-" : Math.round(e.last.responseTimeMs), e.recentFailures[0]?.reasons.join("; ") ?? "-"
      ])
    ))
    if (overview.total > overview.endpoints.length) {
      const { counts } = overview
      yield* Cli.print(`${overview.endpoints.length} of ${overview.total} endpoints shown, down and failing first (${counts.down} down, ${counts.failing} failing, ${counts.unknown} unknown, ${counts.up} up); the status page pages through all`)
    }
    for (const file of overview.files) for (const problem of file.problems) yield* Cli.print(`skipped: ${problem}`)
    if (overview.missing) yield* Cli.print(`no endpoints directory at ${overview.directory}`)
    const jobsets = yield* daemon.get<JobsetsOverview>(`/${pluginName}/api/jobsets`)
    const live = jobsets.workers.filter((w) => w.live)
    const self = live.find((w) => w.owner === jobsets.self)
    yield* Cli.print(`workers: ${live.length} live (${live.map((w) => `${w.owner} holds ${w.jobsets.length}`).join(", ")}); ` +
      `this daemon holds ${self?.jobsets.length ?? 0} of ${jobsets.count} jobsets; ${jobsets.jobsets.filter((j) => j.owner === null).length} unheld`)
  })).pipe(Command.withDescription("Every endpoint's state, uptime and last check, from the running daemon"))

export const commands = [validate, check, status]
