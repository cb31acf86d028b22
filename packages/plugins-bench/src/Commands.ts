/** `orch bench queue add|list|drop`, `orch bench runs`, `orch bench import`: clients of the daemon's HTTP API. */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { DaemonClient } from "@orch/core/DaemonClient"
import { Effect, Option } from "effect"
import * as fs from "node:fs"

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))
const rev = Args.text({ name: "rev" }).pipe(Args.withDescription("A commit: hash (full or short), branch, tag or ref"))

interface QueueView {
  readonly queue: ReadonlyArray<{ hash: string; subject: string; priority: number; reason: string; queuedAt: string; worker?: string }>
  readonly workers: ReadonlyArray<{ name: string; live: boolean; status: { type: string; hash?: string }; lastSeen: string }>
}

const add = Cli.command("add", {
  rev,
  priority: Options.integer("priority").pipe(Options.withDescription("Higher goes first (default 0; new commits are queued with 0)"), Options.withDefault(0))
}, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const queued = yield* client.post<{ hash: string; priority: number }>("/bench/api/queue", { rev: args.rev, priority: args.priority })
    yield* Cli.print(`queued ${queued.hash} (priority ${queued.priority})`)
  })).pipe(Command.withDescription("Queue a commit to be benchmarked (or change its priority)"))

const list = Cli.command("list", { json }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const view = yield* client.get<QueueView>("/bench/api/queue")
    if (args.json) return yield* Cli.print(JSON.stringify(view, null, 2))
    yield* Cli.print(Cli.table(
      ["HASH", "PRIORITY", "REASON", "QUEUED", "WORKER", "SUBJECT"],
      view.queue.map((row) => [row.hash.slice(0, 12), row.priority, row.reason, row.queuedAt, row.worker, row.subject.slice(0, 60)])
    ))
    const live = view.workers.filter((worker) => worker.live)
    if (live.length > 0) {
      yield* Cli.print(Cli.table(["WORKER", "STATUS", "COMMIT", "LAST SEEN"], live.map((w) => [w.name, w.status.type, w.status.hash?.slice(0, 12), w.lastSeen])))
    }
  })).pipe(Command.withDescription("The queue in the order workers get it, and the live workers"))

const drop = Cli.command("drop", { rev }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const dropped = yield* client.post<{ hash: string }>("/bench/api/queue/drop", { rev: args.rev })
    yield* Cli.print(`dropped ${dropped.hash}`)
  })).pipe(Command.withDescription("Take a commit off the queue (a worker on it is told to abort)"))

const queue = Command.make("queue").pipe(
  Command.withDescription("The commits waiting to be benchmarked"),
  Command.withSubcommands([add, list, drop])
)

interface RunView {
  readonly id: string
  readonly hash: string
  readonly worker?: string
  readonly source: string
  readonly end: string
  readonly exitCode: number
  readonly measurements: number
}

const runs = Cli.command("runs", {
  json,
  hash: Options.text("commit").pipe(Options.withDescription("Only the runs of this commit"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription("How many (newest first)"), Options.withDefault(50))
}, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const answer = yield* client.get<{ runs: ReadonlyArray<RunView> }>("/bench/api/runs", {
      hash: Option.getOrUndefined(args.hash),
      limit: args.limit
    })
    if (args.json) return yield* Cli.print(JSON.stringify(answer.runs, null, 2))
    yield* Cli.print(Cli.table(
      ["ID", "COMMIT", "SOURCE", "WORKER", "ENDED", "EXIT", "MEASUREMENTS"],
      answer.runs.map((run) => [run.id, run.hash.slice(0, 12), run.source, run.worker, run.end, run.exitCode, run.measurements])
    ))
  })).pipe(Command.withDescription("The newest runs (worker runs and imports)"))

const importCommand = Cli.command("import", {
  file: Args.file({ name: "FILE", exists: "yes" }).pipe(Args.withDescription("Measurements as a benchmark tool wrote them")),
  commit: Options.text("commit").pipe(Options.withDescription("The commit they measure (hash, branch, tag, ref)")),
  format: Options.text("format").pipe(Options.withDescription("The file's format, when not detected"), Options.optional)
}, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const text = fs.readFileSync(args.file, "utf8")
    const stored = yield* client.post<{ id: string; hash: string; format: string; measurements: number }>("/bench/api/import", {
      commit: args.commit,
      text,
      ...Option.match(args.format, { onNone: () => ({}), onSome: (format) => ({ format }) })
    })
    yield* Cli.print(`stored ${stored.measurements} measurement(s) (${stored.format}) for ${stored.hash} as run ${stored.id}`)
  })).pipe(Command.withDescription("Store measurements from CI for a commit"))

/** The bench commands of this module; `orch bench worker` and `orch bench compare` come from their own modules (see index.ts). */
export const commands = [queue, runs, importCommand]
