/**
 * The bench plugin's JSON API for people and the CLI (core's bearer tokens and roles: GETs
 * read, changes operate): the queue, runs, imports from CI, the refs' tracked flags, and an
 * update of the repository now.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Database from "@orch/core/Database"
import * as Events from "@orch/core/Events"
import { Clock, Effect, Either, Layer, Schema } from "effect"
import { Bench, type BenchService } from "./Bench.js"
import * as Git from "./Git.js"
import { body, fail, handle, json, param, query } from "./Http.js"
import * as Formats from "./formats/index.js"
import * as Protocol from "./Protocol.js"
import * as Repo from "./Repo.js"
import * as Runs from "./Runs.js"
import * as Sql from "./sql/index.js"

const Rev = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

export const AddBody = Schema.Struct({
  rev: Schema.optional(Rev).annotations({ description: "A commit: full or short hash, ref or branch name (or use hash / ref)" }),
  hash: Schema.optional(Rev),
  ref: Schema.optional(Rev),
  priority: Schema.optionalWith(Schema.Int, { default: () => 0 })
})

export const DropBody = Schema.Struct({ rev: Schema.optional(Rev), hash: Schema.optional(Rev), ref: Schema.optional(Rev) })

export const ImportBody = Schema.Struct({
  commit: Rev,
  text: Schema.String.pipe(Schema.maxLength(50_000_000)),
  format: Schema.optional(Schema.Literal(...Formats.formatNames)),
  /** Free-form: where the measurements come from (a CI job's URL, say). */
  source: Schema.optional(Schema.String.pipe(Schema.maxLength(1000)))
})

export const TrackBody = Schema.Struct({ ref: Rev, tracked: Schema.Boolean })

const revOf = (b: { readonly rev?: string | undefined; readonly hash?: string | undefined; readonly ref?: string | undefined }) => {
  const given = [b.rev, b.hash, b.ref].filter((x) => x !== undefined)
  return given.length === 1 ? Effect.succeed(given[0]!) : fail(400, "give exactly one of rev, hash or ref", { field: "rev" })
}

/** The stored commit `rev` names: a full hash, a unique hash prefix, or what git resolves it to (after an update, if needed). */
export const resolveRev = (bench: BenchService, rev: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (Git.isHash(rev) && (yield* Sql.commitExists(sql, rev))) return rev
    if (/^[0-9a-f]{4,39}$/.test(rev)) {
      const found = yield* Sql.commitsByPrefix(sql, rev)
      if (found.length > 1) return yield* fail(400, `the short hash ${rev} is ambiguous: give more characters`)
      if (found.length === 1) return found[0]!
    }
    if (bench.repoDir === undefined) return yield* fail(404, `${JSON.stringify(rev)}: this server tracks no repository`)
    const hash = yield* Repo.resolve(bench.repoDir, rev)
    if (hash === undefined) return yield* fail(404, `${JSON.stringify(rev)} names no commit of the repository`)
    if (!(yield* Sql.commitExists(sql, hash))) yield* bench.update
    if (!(yield* Sql.commitExists(sql, hash))) return yield* fail(404, `${hash} (${rev}) is not reachable from any ref of the repository`)
    return hash
  })

const liveSince = (bench: BenchService) => Effect.map(Clock.currentTimeMillis, (now) => now - bench.config.workerTimeoutSeconds * 1000)

const subject = (message: string) => message.split("\n", 1)[0] ?? ""

export const queueView = Effect.gen(function*() {
  const bench = yield* Bench
  const sql = yield* SqlClient.SqlClient
  const since = yield* liveSince(bench)
  const queue = yield* Sql.listQueue(sql, since)
  const workers = yield* Sql.listWorkers(sql)
  return {
    queue: queue.map((row) => ({
      hash: row.hash,
      subject: subject(row.message),
      priority: row.priority,
      reason: row.reason,
      queuedAt: Protocol.timestamp(Number(row.queued_at)),
      committedAt: Protocol.timestamp(Number(row.committer_date)),
      worker: row.worker ?? undefined
    })),
    workers: workers.map((row) => ({
      name: row.name,
      live: row.last_seen >= since,
      status: JSON.parse(row.status) as Protocol.WorkerStatus,
      info: row.info ?? undefined,
      fingerprint: row.fingerprint === null ? undefined : JSON.parse(row.fingerprint) as unknown,
      firstSeen: Protocol.timestamp(Number(row.first_seen)),
      lastSeen: Protocol.timestamp(Number(row.last_seen))
    }))
  }
})

const getQueue = handle(Effect.map(queueView, (view) => json(view)))

const addToQueue = handle(Effect.gen(function*() {
  const bench = yield* Bench
  const request = yield* body(AddBody)
  const hash = yield* resolveRev(bench, yield* revOf(request))
  const sql = yield* SqlClient.SqlClient
  yield* Sql.enqueue(sql, hash, request.priority, "manual", yield* Clock.currentTimeMillis)
  yield* Events.changed("bench")
  return json({ hash, priority: request.priority, queued: true })
}))

const drop = (rev: string) =>
  Effect.gen(function*() {
    const bench = yield* Bench
    const hash = yield* resolveRev(bench, rev)
    const dropped = yield* Sql.dequeue(yield* SqlClient.SqlClient, hash)
    if (!dropped) return yield* fail(404, `${hash} is not queued`)
    yield* Events.changed("bench")
    return json({ hash, dropped: true })
  })

// the router has decoded the parameter already (refs%2Fheads%2Fmain is refs/heads/main)
const dropByPath = handle(Effect.flatMap(param("rev"), drop))
const dropByBody = handle(Effect.flatMap(body(DropBody), (request) => Effect.flatMap(revOf(request), drop)))

const getRuns = handle(Effect.gen(function*() {
  const bench = yield* Bench
  const get = yield* query
  const limitText = get("limit") ?? "50"
  const limit = Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return yield* fail(400, "limit: an integer from 1 to 1000", { field: "limit" })
  const rev = get("hash")
  const hash = rev === undefined ? undefined : yield* resolveRev(bench, rev)
  const rows = yield* Sql.listRuns(yield* SqlClient.SqlClient, { hash, limit })
  return json({
    runs: rows.map((row) => ({
      id: row.id,
      hash: row.hash,
      benchMethod: row.bench_method,
      worker: row.worker_name ?? undefined,
      source: row.source,
      start: Protocol.timestamp(Number(row.started_at)),
      end: Protocol.timestamp(Number(row.ended_at)),
      exitCode: Number(row.exit_code),
      measurements: Number(row.measurements)
    }))
  })
}))

const importRun = handle(Effect.gen(function*() {
  const bench = yield* Bench
  const request = yield* body(ImportBody)
  const hash = yield* resolveRev(bench, request.commit)
  const parsed = Formats.parse(request.text, request.format)
  if (Either.isLeft(parsed)) return yield* fail(400, `text: ${parsed.left.message}`, { field: "text" })
  const { format, measurements } = parsed.right
  if (Object.keys(measurements).length === 0) return yield* fail(400, "text: no measurements in it", { field: "text" })
  const now = yield* Clock.currentTimeMillis
  const id = Runs.randomId("i-")
  yield* Runs.store({
    run: {
      id,
      hash,
      bench_method: `import (${format})`,
      worker_name: null,
      worker_info: request.source ?? null,
      fingerprint: null,
      started_at: now,
      ended_at: now,
      exit_code: 0,
      source: "import"
    },
    measurements,
    output: []
  })
  return json({ id, hash, format, measurements: Object.keys(measurements).length })
}))

const track = handle(Effect.gen(function*() {
  const request = yield* body(TrackBody)
  const sql = yield* SqlClient.SqlClient
  const now = yield* Clock.currentTimeMillis
  // a newly tracked ref's new commits are queued now, as an import would
  const found = yield* Database.transaction(Effect.gen(function*() {
    if (!(yield* Sql.setRefTracked(sql, request.ref, request.tracked))) return false
    yield* Sql.updateReachable(sql)
    yield* Sql.queueNewTrackedCommits(sql, now)
    yield* Sql.dropUntrackedNewFromQueue(sql)
    return true
  }))
  if (!found) return yield* fail(404, `no ref ${JSON.stringify(request.ref)} (give its full name, refs/heads/…)`, { field: "ref" })
  yield* Events.changed("bench")
  return json({ ref: request.ref, tracked: request.tracked })
}))

const updateNow = handle(Effect.gen(function*() {
  const bench = yield* Bench
  const summary = yield* bench.update.pipe(Effect.catchTag("GitError", (error) => fail(502, error.message)))
  if (summary === undefined) return yield* fail(404, "this server tracks no repository")
  return json(summary)
}))

export const routes = Layer.mergeAll(
  HttpLayerRouter.add("GET", "/api/queue", getQueue),
  HttpLayerRouter.add("POST", "/api/queue", addToQueue),
  HttpLayerRouter.add("POST", "/api/queue/drop", dropByBody),
  HttpLayerRouter.add("DELETE", "/api/queue/:rev", dropByPath),
  HttpLayerRouter.add("GET", "/api/runs", getRuns),
  HttpLayerRouter.add("POST", "/api/import", importRun),
  HttpLayerRouter.add("POST", "/api/refs/tracked", track),
  HttpLayerRouter.add("POST", "/api/update", updateNow)
)
