/** `orch jobs list|show|cancel|retry`: the durable queue, across every plugin, through the daemon's API. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import type { JobHistoryView, JobView } from "@orch/core/CoreApi"
import { DaemonClient } from "@orch/core/DaemonClient"
import { Effect, Option } from "effect"

type Job = typeof JobView.Type

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
const id = Args.integer({ name: "id" }).pipe(Args.withDescription("Job id"))
const reason = Options.text("reason").pipe(Options.withDescription("Why (kept in the job's history)"), Options.optional)

const lease = (job: Job) =>
  job.leaseOwner === undefined ? "-" : `${job.leaseOwner} #${job.token} until ${Cli.time(job.leaseExpiresAt)}`

const list = Cli.command(
  "list",
  {
    plugin: Options.text("plugin").pipe(Options.optional),
    kind: Options.text("kind").pipe(Options.optional),
    state: Options.text("state").pipe(Options.optional),
    limit: Options.integer("limit").pipe(Options.withDefault(50)),
    json
  },
  (args) =>
    Effect.gen(function*() {
      const daemon = yield* DaemonClient
      const jobs = yield* daemon.get<ReadonlyArray<Job>>("/jobs", {
        plugin: Option.getOrUndefined(args.plugin),
        kind: Option.getOrUndefined(args.kind),
        state: Option.getOrUndefined(args.state),
        limit: args.limit
      })
      if (args.json) return yield* Cli.print(JSON.stringify(jobs, null, 2))
      yield* Cli.print(Cli.table(
        ["ID", "PLUGIN", "KIND", "STATE", "ATTEMPTS", "RUN AT", "LEASE", "LAST ERROR"],
        jobs.map((job) => [
          job.id,
          job.plugin,
          job.kind,
          job.state,
          `${job.attempts}/${job.maxAttempts}`,
          Cli.time(job.runAt),
          lease(job),
          job.lastError?.slice(0, 60)
        ])
      ))
    })
).pipe(Command.withDescription("List jobs, newest first, by plugin, kind and state"))

const show = Cli.command("show", { id, json }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const { history, job } = yield* daemon.get<{ job: Job; history: ReadonlyArray<typeof JobHistoryView.Type> }>(`/jobs/${args.id}`)
    if (args.json) return yield* Cli.print(JSON.stringify({ ...job, history }, null, 2))
    yield* Cli.print([
      `job ${job.id}  ${job.plugin}/${job.kind}  ${job.state}`,
      `attempts ${job.attempts}/${job.maxAttempts}  priority ${job.priority}  run at ${Cli.time(job.runAt)}`,
      `lease ${lease(job)}`,
      ...(job.idempotencyKey ? [`idempotency key ${job.idempotencyKey}`] : []),
      ...(job.lastError ? [`last error ${job.lastError}`] : []),
      `payload ${JSON.stringify(job.payload)}`,
      ...(job.result !== undefined ? [`result ${JSON.stringify(job.result)}`] : []),
      "",
      Cli.table(
        ["AT", "FROM", "TO", "REASON", "BY"],
        history.map((h) => [Cli.time(h.at), h.from, h.to, h.reason, h.owner ? `${h.owner} #${h.token}` : "-"])
      )
    ].join("\n"))
  })).pipe(Command.withDescription("Show one job and every change it went through"))

const cancel = Cli.command("cancel", { id, reason }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const job = yield* daemon.post<Job>(`/jobs/${args.id}/cancel`, {
      reason: Option.getOrElse(args.reason, () => "cancelled from the command line")
    })
    yield* Cli.print(`job ${job.id} is now ${job.state}`)
  })).pipe(Command.withDescription("Cancel a job that has not finished"))

const retry = Cli.command("retry", { id, reason }, (args) =>
  Effect.gen(function*() {
    const daemon = yield* DaemonClient
    const job = yield* daemon.post<Job>(`/jobs/${args.id}/retry`, {
      reason: Option.getOrElse(args.reason, () => "retried from the command line")
    })
    yield* Cli.print(`job ${job.id} is now ${job.state}, attempts reset`)
  })).pipe(Command.withDescription("Run a dead or cancelled job again"))

export const jobsCommand = Command.make("jobs").pipe(
  Command.withDescription("The durable job queue"),
  Command.withSubcommands([list, show, cancel, retry])
)
