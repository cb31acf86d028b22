/**
 * The worker protocol's one request, `POST /bench/api/worker/status` (tablejohn's
 * `post_api_worker_status` and `Workers`), over the database rather than a process's
 * memory, so that several orch processes and restarts agree on who holds what:
 *
 * - a name is pinned to the secret of its first status while that worker is live (seen within
 *   the timeout); another secret meanwhile is refused with 409;
 * - `submit_run` is stored exactly once per run id and takes its commit off the queue;
 * - `request_run` hands out the first queued commit (priority, then newest) that no other
 *   live worker holds, under a new run id, and records it on the worker at once;
 * - `abort_run` tells a worker its commit left the queue, or that a live worker that started
 *   it earlier keeps it. A worker unseen past the timeout holds nothing: its commit, still
 *   queued, goes to the next worker that asks.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Auth from "@orch/core/Auth"
import * as Database from "@orch/core/Database"
import { Clock, Data, Effect } from "effect"
import * as Protocol from "./Protocol.js"
import * as Runs from "./Runs.js"
import * as Sql from "./sql/index.js"

/** A status the server will not take: its HTTP status and why. */
export class Refused extends Data.TaggedError("Refused")<{ readonly status: number; readonly message: string }> {}

export interface StatusOptions {
  readonly timeoutMs: number
  /** How runs handed out now are benchmarked: the bench repository's HEAD, or the commit's own. */
  readonly benchMethod: Effect.Effect<Protocol.BenchMethod>
}

export const status = (
  options: StatusOptions,
  name: string,
  request: Omit<Protocol.WorkerRequest, "request_run"> & { readonly request_run?: boolean | undefined }
): Effect.Effect<Protocol.ServerResponse, Refused | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const liveSince = now - options.timeoutMs
    const benchMethod = request.request_run ? yield* options.benchMethod : undefined
    const submitted = request.submit_run ?? undefined
    if (submitted !== undefined && !(yield* Sql.commitExists(sql, submitted.hash))) {
      return yield* new Refused({ status: 400, message: `submit_run.hash: ${submitted.hash} is not a commit of this server's repository` })
    }
    const fingerprint = Protocol.fingerprintOf(request.info)
    return yield* Database.transaction(Effect.gen(function*() {
      yield* Sql.lockWorkers(sql)
      const known = yield* Sql.getWorker(sql, name)
      if (known !== undefined && known.last_seen >= liveSince && !Auth.sameSecret(request.secret, known.secret)) {
        return yield* new Refused({
          status: 409,
          message: `the worker name ${JSON.stringify(name)} is in use by another worker (another secret), last seen ${
            Protocol.timestamp(known.last_seen)
          }: give each worker its own name, or wait until that one has been gone ${options.timeoutMs / 1000} s`
        })
      }
      if (submitted !== undefined) {
        const stored = yield* Runs.store({
          run: {
            id: submitted.id,
            hash: submitted.hash,
            bench_method: submitted.bench_method,
            worker_name: name,
            worker_info: request.info ?? null,
            fingerprint: fingerprint ?? known?.fingerprint ?? null,
            started_at: Protocol.millisOf(submitted.start),
            ended_at: submitted.end == null ? now : Protocol.millisOf(submitted.end),
            exit_code: submitted.exit_code,
            source: "worker"
          },
          measurements: submitted.measurements,
          output: submitted.output
        })
        // the thing has been done: the commit leaves the queue (once; a retry finds it gone)
        if (stored) yield* Sql.dequeue(sql, submitted.hash)
        yield* Effect.logInfo(stored ? `bench: run ${submitted.id} of ${submitted.hash} from ${name} stored` : `bench: run ${submitted.id} from ${name} again: stored already`)
      }
      let current: Protocol.WorkerStatus = request.status
      let abort = false
      if (current.type === "working") {
        const start = Protocol.millisOf(current.start)
        abort = !(yield* Sql.isQueued(sql, current.hash)) ||
          (yield* Sql.earlierWorkerOn(sql, current.hash, name, start, liveSince)) !== undefined
      }
      let run: Protocol.Run | undefined
      if (benchMethod !== undefined) {
        const hash = yield* Sql.nextQueued(sql, name, liveSince)
        if (hash !== undefined) {
          run = { id: Runs.randomId("r-"), hash, bench_method: benchMethod, start: Protocol.timestamp(now) }
          // held from now: no other worker is handed this commit until this one is gone
          current = { type: "working", id: run.id, hash, bench_method: Protocol.describeBenchMethod(benchMethod), start: run.start, last_output: [] }
        }
      }
      const working = current.type === "working" && !(abort && run === undefined) ? current : undefined
      yield* Sql.putWorker(sql, {
        name,
        secret: request.secret,
        info: request.info ?? null,
        fingerprint: fingerprint ?? null,
        status: JSON.stringify(current),
        run_id: working?.id ?? null,
        run_hash: working?.hash ?? null,
        run_start: working === undefined ? null : Protocol.millisOf(working.start),
        first_seen: now,
        last_seen: now
      })
      return { ...(run === undefined ? {} : { run }), ...(abort ? { abort_run: true as const } : {}) }
    }))
  })
