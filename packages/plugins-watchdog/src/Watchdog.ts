/** What the HTTP API and the CLI both do: create, list, cancel and retry jobs; list instances. */
import * as SqlClient from "@effect/sql/SqlClient"
import { type Job as AnyJob, JobQueue } from "@orch/core/Jobs"
import { Resources } from "@orch/core/Resources"
import { Effect, Option, Schema } from "effect"
import type { WatchdogConfig } from "./Config.js"
import { InstanceKind, type Status } from "./Instances.js"
import type { Memory } from "./InstanceController.js"
import * as Location from "./Location.js"
import * as Sql from "./sql.js"
import * as Wpt from "./Wpt.js"
import { states, Summary, type TestPayload, type TestRequest, TestResult, WptTest } from "./WptJob.js"

export const JobView = Schema.Struct({
  id: Schema.Int,
  state: Schema.Literal(...states),
  location: Schema.String,
  url: Schema.optional(Schema.String),
  script: Schema.optional(Schema.String),
  runs: Schema.Int,
  connectivity: Schema.String,
  label: Schema.optional(Schema.String),
  testId: Schema.optional(Schema.String),
  summary: Schema.optional(Summary),
  error: Schema.optional(Schema.String),
  createdAt: Schema.Number,
  updatedAt: Schema.Number
}).annotations({ identifier: "WatchdogJob" })
export type JobView = typeof JobView.Type

export const InstanceView = Schema.Struct({
  name: Schema.String,
  zone: Schema.String,
  state: Schema.String,
  since: Schema.Number,
  lastWorkAt: Schema.optional(Schema.Number),
  lastDecision: Schema.optional(Schema.String)
}).annotations({ identifier: "WatchdogInstance" })
export type InstanceView = typeof InstanceView.Type

const decodeResult = Schema.decodeUnknownOption(TestResult)

export const toView = (job: AnyJob): JobView => {
  const payload = job.payload as TestPayload
  const result = job.result === undefined ? Option.none() : decodeResult(job.result)
  return {
    id: job.id,
    state: job.state as JobView["state"],
    location: Location.id(payload),
    url: payload.url,
    script: payload.script,
    runs: payload.runs ?? 1,
    connectivity: payload.connectivity ?? "Native",
    label: payload.label,
    testId: Option.getOrUndefined(Option.map(result, (r) => r.testId)),
    summary: Option.getOrUndefined(Option.flatMap(result, (r) => Option.fromNullable(r.summary))),
    // an AWAITING job's last error says why it still waits (no live agent, API key rejected,
    // WPT unreachable): without it a paused submission showed nothing in `orch watchdog jobs`
    error: job.state === "ERROR_SUBMITTING" || job.state === "ERROR_TESTING" || job.state === "AWAITING" ? job.lastError : undefined,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt
  }
}

/** Enqueues the tests in one transaction; a not-before becomes the job's run-at. */
export const create = (tests: ReadonlyArray<TestRequest>) =>
  Effect.flatMap(JobQueue, (queue) =>
    Effect.map(
      queue.enqueueMany(WptTest, tests.map((test) => ({ payload: test as TestPayload, options: { runAt: test.notBefore } }))),
      (enqueued) => enqueued.map((e) => e.job.id)
    ))

export const list = (options: { readonly state?: string | undefined; readonly limit?: number | undefined; readonly beforeId?: number | undefined }) =>
  Effect.flatMap(JobQueue, (queue) =>
    Effect.map(
      queue.list({ plugin: WptTest.plugin, kind: WptTest.name, state: options.state, limit: options.limit, beforeId: options.beforeId }),
      (jobs) => jobs.map(toView)
    ))

/** The WPT client of `config` (one that says `wpt.server` is not set when it is not). */
export const wptClient = (config: WatchdogConfig): Wpt.WptClientService =>
  config.wpt.server === undefined
    ? Wpt.unconfigured
    : Wpt.make({ server: config.wpt.server, key: config.wpt.key, timeout: config.wpt.requestTimeoutMs })

/**
 * Cancels a job, then (best effort) its test still queued at WPT. In that order: a job
 * cancelled in orch first is out of job_finisher's hands (its lease is revoked and its
 * outcome dropped), so the finisher cannot see the test cancelled at WPT and end the job
 * as ERROR_TESTING between the two steps.
 */
export const cancel = (config: WatchdogConfig, id: number, reason: string) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const job = yield* queue.get(id)
    const testId = job.state === "SUBMITTED" && config.wpt.server !== undefined
      ? Option.getOrUndefined(Option.map(decodeResult(job.result), (r) => r.testId))
      : undefined
    const cancelled = yield* queue.cancel(id, testId === undefined ? reason : `${reason}; cancelling test ${testId} at WPT`)
    if (testId !== undefined) {
      const wpt = yield* Wpt.WptClient
      const atWpt = yield* Effect.either(wpt.cancel(testId))
      const outcome = atWpt._tag === "Right" ? atWpt.right : "unreachable"
      yield* (outcome === "cancelled"
        ? Effect.logInfo(`watchdog: job ${id} cancelled; test ${testId} cancelled at WPT`)
        : outcome === "marked"
        ? Effect.logWarning(
          `watchdog: job ${id} cancelled; test ${testId} is marked cancelled at WPT, but its job files (one per run) stay queued there and its agents will still run them (cancelTest.php deletes a test's job file only when it has one)`
        )
        : Effect.logWarning(`watchdog: job ${id} cancelled; test ${testId} could not be cancelled at WPT (already started, or WPT unreachable)`))
        .pipe(Effect.annotateLogs({ job: id, testId }))
    }
    return toView(cancelled)
  })

export const retry = (id: number, reason: string) =>
  Effect.flatMap(JobQueue, (queue) => Effect.map(queue.retry(id, reason), toView))

export const instances = Effect.gen(function*() {
  const resources = yield* Resources
  const rows = yield* resources.list({ kind: InstanceKind })
  return rows.map((r): InstanceView => {
    const memory = r.data as Memory | undefined
    return {
      name: r.name,
      zone: r.labels.zone ?? memory?.zone ?? "",
      state: r.state as Status,
      since: r.stateChangedAt,
      lastWorkAt: memory?.lastWorkAt,
      lastDecision: memory?.lastDecision
    }
  })
})

export interface LocationCounts {
  readonly location: string
  readonly counts: Readonly<Record<string, number>>
}

/** Jobs by location and state. */
export const jobsByLocation = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const byLocation = new Map<string, Record<string, number>>()
  for (const row of yield* Sql.jobsByLocation(sql)) {
    const name = Location.id(row)
    const counts = byLocation.get(name) ?? {}
    counts[row.state] = Number(row.n)
    byLocation.set(name, counts)
  }
  return [...byLocation].sort(([a], [b]) => a.localeCompare(b)).map(([location, counts]): LocationCounts => ({ location, counts }))
})
