/**
 * Recording a check: its result, the endpoint's hourly uptime count, its state (and a
 * state change as an event) and the sends its sinks want, in one transaction, so a
 * crash never leaves a state change without its sends or a send without its result.
 * Checks share transactions through a group commit (thousands of checks a minute
 * would otherwise pay a commit each).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Events from "@orch/core/Events"
import * as GroupCommit from "@orch/core/GroupCommit"
import { JobQueue } from "@orch/core/Jobs"
import { Cause, Data, Effect, type Scope } from "effect"
import type { Endpoint } from "./Endpoint.js"
import type { ProbeResult } from "./Probe.js"
import * as Sinks from "./Sinks.js"
import * as Sql from "./sql.js"
import * as State from "./State.js"
import type { Verdict } from "./Verdict.js"

export interface Check {
  readonly endpoint: Endpoint
  readonly scheduledAt: number
  readonly startedAt: number
  readonly endedAt: number
  readonly result: ProbeResult
  readonly verdict: Verdict
  /** Absent: written unfenced. */
  readonly fence?: Fence | undefined
}

/** The jobset lease a check was made under: its write is refused unless `owner` still holds `jobset` under `token`. */
export interface Fence {
  readonly owner: string
  readonly jobset: number
  readonly token: number
}

/** A write refused by the fence: another worker took the jobset over since the check began. */
export class StaleJobset extends Data.TaggedError("StaleJobset")<{ readonly jobset: number; readonly token: number }> {
  override get message() {
    return `jobset ${this.jobset} is no longer held under token ${this.token}`
  }
}

export interface Recorded {
  readonly state: State.State
  readonly change: { readonly from: State.State; readonly to: State.State } | undefined
  readonly sends: number
}

export type Recorder = (check: Check) => Effect.Effect<Recorded, SqlError | unknown>

/** A recorder over the current database and job queue, its group commit living as long as the scope. */
export const make = (options: { readonly keepResults: number }): Effect.Effect<Recorder, never, SqlClient.SqlClient | JobQueue | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const queue = yield* JobQueue
    const commit = yield* GroupCommit.make({
      closedMessage: "the watcher has stopped",
      isCleanFailure: (cause) => Cause.failureOption(cause).pipe((o) => o._tag === "Some" && o.value instanceof StaleJobset)
    })

    const change = (check: Check) =>
      Effect.gen(function*() {
        const { endpoint, result, verdict } = check
        const key = endpoint.key
        // the fence, before any write (so a refusal leaves the rest of the group to commit)
        if (check.fence !== undefined) {
          const { jobset, owner, token } = check.fence
          if (!(yield* Sql.holdsJobset(sql, jobset, owner, token))) return yield* new StaleJobset({ jobset, token })
        }
        yield* Sql.insertResult(sql, {
          endpoint: key,
          scheduled_at: check.scheduledAt,
          started_at: check.startedAt,
          lag_ms: Math.max(0, check.startedAt - check.scheduledAt),
          duration_ms: result.totalMs,
          success: verdict.success ? 1 : 0,
          status: result.status ?? null,
          reasons: JSON.stringify(verdict.reasons),
          extracted: JSON.stringify(verdict.values),
          phases: JSON.stringify(result.phases),
          certificate_expires_at: result.certificateExpiresAt ?? null
        })
        yield* Sql.pruneResults(sql, key, options.keepResults)
        yield* Sql.countUptime(sql, key, check.startedAt, verdict.success)
        const row = yield* Sql.getState(sql, key)
        const step = State.step(row ?? State.initial, verdict.success, endpoint)
        yield* Sql.putState(sql, {
          endpoint: key,
          ...step.tally,
          changed_at: step.changed ? check.endedAt : row?.changed_at ?? null,
          checked_at: check.endedAt
        })
        if (step.changed) {
          yield* Sql.insertEvent(sql, {
            endpoint: key,
            at: check.endedAt,
            from_state: step.changed.from,
            to_state: step.changed.to,
            reason: step.changed.to === "down"
              ? `${step.tally.failures} failures in a row: ${verdict.reasons.join("; ")}`
              : `${step.tally.successes} successes in a row`
          })
        }
        const sends = Sinks.sendsFor({
          endpoint,
          at: check.endedAt,
          success: verdict.success,
          state: step.tally.state,
          change: step.changed,
          status: result.status,
          responseTimeMs: result.totalMs,
          reasons: verdict.reasons,
          values: verdict.values
        })
        if (sends.length > 0) yield* queue.enqueueMany(Sinks.SendJob, sends.map((payload) => ({ payload })))
        return { state: step.tally.state, change: step.changed, sends: sends.length }
      })

    // a state change is what the status page shows first: pages following /events refresh on it
    return (check) => commit(change(check)).pipe(Effect.tap((outcome) => (outcome.change ? Effect.provideService(Events.changed("watcher"), SqlClient.SqlClient, sql) : Effect.void)))
  })
