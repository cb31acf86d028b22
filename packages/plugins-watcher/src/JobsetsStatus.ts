/**
 * What `GET /watcher/api/jobsets` answers: who holds which jobset, until when, and which
 * workers are live, read from the shared tables, plus which worker answered.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect } from "effect"
import { jobsetOf } from "./Jobsets.js"
import * as Sql from "./sql.js"
import type { WatcherService } from "./Watcher.js"

export interface JobsetsOverview {
  /** The owner id of the worker that answered. */
  readonly self: string
  readonly count: number
  readonly leaseMs: number
  readonly jobsets: ReadonlyArray<{
    readonly id: number
    readonly owner: string | null
    readonly version: number
    readonly token: number
    readonly expiresAt: number
    /** Endpoints in it, as this worker read the files. */
    readonly endpoints: number
  }>
  readonly workers: ReadonlyArray<{ readonly owner: string; readonly seenAt: number; readonly live: boolean; readonly jobsets: ReadonlyArray<number> }>
}

export const jobsetsOverview = (watcher: WatcherService) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const { count } = watcher.jobsets
    const [rows, workers] = yield* Effect.all([Sql.listJobsets(sql, count), Sql.listWorkers(sql)])
    const endpoints = new Map<number, number>()
    for (const file of (yield* watcher.load).files) {
      for (const endpoint of file.endpoints) {
        const id = jobsetOf(endpoint.key, count)
        endpoints.set(id, (endpoints.get(id) ?? 0) + 1)
      }
    }
    const held = (owner: string) => rows.filter((row) => row.owner === owner && row.expires_at > now).map((row) => row.id)
    return {
      self: watcher.jobsets.owner,
      count,
      leaseMs: watcher.jobsets.leaseMs,
      jobsets: rows.map((row) => ({
        id: row.id,
        owner: row.expires_at > now ? row.owner : null,
        version: row.version,
        token: row.token,
        expiresAt: row.expires_at,
        endpoints: endpoints.get(row.id) ?? 0
      })),
      workers: workers.map((worker) => ({
        owner: worker.owner,
        seenAt: worker.seen_at,
        live: worker.seen_at >= now - watcher.jobsets.leaseMs,
        jobsets: held(worker.owner)
      }))
    } satisfies JobsetsOverview
  })
