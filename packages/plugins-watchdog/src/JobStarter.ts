/**
 * job_starter: hands AWAITING jobs to WPT, per location, only while the location has room
 * for them: live agents (getTesters), at most `maxTestsPerAgent` tests each, and a WPT
 * queue below `maxQueueLength` (see Liveness).
 *
 * A submission is recorded (`watchdog_submissions`) before runtest.php is called, with
 * the label sent to WPT. Its answer and the job's move to SUBMITTED commit together. A
 * crash in between leaves the record open; before that job is submitted again its label
 * is looked up in WPT's test log, and a test found there is adopted instead of sending
 * a second one, no sooner than `lostAnswerWaitMs` after the submission was sent (WPT may
 * still be working on it). A network failure leaves the record open too, and the job
 * waits rather than turning into an error. What the test log showed is logged either way.
 *
 * It is a loop over a claimed batch, not a job worker's per-job handler (job_finisher is
 * one), because whether a job may go depends on the other jobs of its location: one
 * `getLocations` answer gives each location room for `maxQueueLength − queued` tests,
 * spent in claim order, one submission at a time, and a network failure ends that
 * location's turn. Concurrent handlers would each need that answer and a share of the
 * room: the round again, as state shared between them. A failing `getLocations` fails
 * the round, so the supervisor backs off; its error becomes the last error of the jobs
 * the round held (their state unchanged).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { transaction } from "@orch/core/Database"
import { JobQueue } from "@orch/core/Jobs"
import { ownerId } from "@orch/core/Plugin"
import { describeCause } from "@orch/core/Supervisor"
import { Cause, Clock, Effect, Either, Exit, Metric } from "effect"
import type { WatchdogConfig } from "./Config.js"
import * as Metrics from "./Metrics.js"
import * as Liveness from "./Liveness.js"
import * as Sql from "./sql.js"
import * as TestLog from "./TestLog.js"
import { isKeyRejection, WptClient, type WptRejected, type WptUnreachable } from "./Wpt.js"
import { type Job, locationOf, WptTest } from "./WptJob.js"

/** Who holds the jobs the loops claim: core's owner id of the watchdog in this process. */
export const owner = ownerId(WptTest.plugin)

/** The label WPT keeps for a submission: the user's label as WPT keeps it, then a tag unique to the job and try. */
export const wptLabel = (job: Pick<Job, "id" | "payload" | "createdAt">, attempt: number): string =>
  TestLog.label(job.payload.label, job, attempt)

/** How far WPT's clock may lag orch's: a logged test older than its submission by more is another's. */
const clockSkewMs = 60 * 60_000

/** `LocationID:Browser.Connectivity` as runtest.php reads it. */
export const wptLocation = (config: WatchdogConfig, job: Pick<Job, "payload">): string => {
  const browser = config.browsers[job.payload.browser] ?? job.payload.browser
  return `${locationOf(job.payload)}:${browser}.${job.payload.connectivity}`
}

export const round = (config: WatchdogConfig) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const wpt = yield* WptClient
    const sql = yield* SqlClient.SqlClient
    const claimed = yield* queue.claim(WptTest, {
      owner,
      leaseMs: config.leaseMs,
      states: ["AWAITING"],
      limit: config.starter.claimBatch
    })
    if (claimed.length === 0) return
    const held = new Map(claimed.map((job) => [job.id, job]))
    const done = (job: Job) => Effect.sync(() => held.delete(job.id))
    // jobs that could not go this round move behind the others (claim order is run_at, then
    // id), so a location without a live agent does not keep the others' jobs out of the batch
    // a round that failed (WPT unreachable, say) leaves its error on every job it held, so a
    // job stuck behind a dead WPT shows why in `orch jobs show`
    // and a job left for want of a live agent or room says so as its last error (not in its
    // history: that would be a row a round)
    const waitingFor = new Map<number, string>()
    // set when WPT rejects the API key: nothing more is sent this round, and every job held says why
    let keyRejected: string | undefined
    const releaseAll = (error: string | undefined) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        // concurrently, so the queue's group commit writes them a few dozen per transaction
        Effect.forEach([...held.values()], (job) =>
          Effect.ignore(queue.release(job, { runAt: at + config.starter.intervalMs, error: keyRejected ?? waitingFor.get(job.id) ?? error })), {
          discard: true,
          concurrency: "unbounded"
        }))

    const now = () => Clock.currentTimeMillis
    const resolve = (label: string, outcome: Sql.Outcome, testId: string | null, detail: string | null) =>
      Effect.flatMap(now(), (at) => Sql.resolveSubmission(sql, { label, outcome, testId, detail, now: at }))

    /** `detail`: for a test adopted after a lost answer, what the test log showed. */
    const toSubmitted = (job: Job, label: string, testId: string, reason: string, detail: string | null = null) =>
      Effect.gen(function*() {
        const at = yield* now()
        yield* transaction(Effect.zipRight(
          queue.transition(job, "SUBMITTED", {
            reason,
            result: { testId, wptLabel: label, submittedAt: at },
            runAt: at + Math.min(config.finisher.recheckMs, config.finisher.intervalMs)
          }),
          resolve(label, "accepted", testId, detail)
        ))
        yield* done(job)
      })

    const toError = (job: Job, error: string, label?: string, outcome: Sql.Outcome = "rejected") =>
      Effect.gen(function*() {
        yield* transaction(Effect.zipRight(
          queue.transition(job, "ERROR_SUBMITTING", { reason: error, error }),
          label === undefined ? Effect.void : Effect.asVoid(resolve(label, outcome, null, error))
        ))
        yield* done(job)
        yield* Effect.logWarning(`job_starter: job ${job.id} ended in ERROR_SUBMITTING: ${error}`).pipe(
          Effect.annotateLogs({ job: job.id, location: locationOf(job.payload), reason: error })
        )
      })

    const later = (job: Job, why: string) =>
      Effect.gen(function*() {
        const failures = (yield* Sql.unknownOutcomes(sql, job.id))[0]?.n ?? 0
        const delay = Math.min(config.starter.retryDelayMs * 2 ** Math.min(failures, 10), 60 * 60_000)
        yield* queue.release(job, { runAt: (yield* now()) + delay, reason: `${why}; next try in ${delay} ms`, error: why })
        yield* done(job)
      })

    /** One submission; its record is committed before WPT is asked. */
    const submit = (job: Job, location: string) =>
      Effect.gen(function*() {
        const attempt = (yield* Sql.nextTry(sql, job.id))[0]?.next ?? 1
        const label = wptLabel(job, attempt)
        yield* Sql.insertSubmission(sql, { jobId: job.id, try: attempt, label, location, now: yield* now() })
        const answer = yield* Effect.either(wpt.submit({
          url: job.payload.url,
          script: job.payload.script,
          location: wptLocation(config, job),
          runs: job.payload.runs,
          firstViewOnly: job.payload.firstViewOnly,
          label,
          options: job.payload.options
        }))
        if (Either.isRight(answer)) {
          yield* toSubmitted(job, label, answer.right.testId, `submitted to WPT as ${answer.right.testId}`)
          yield* Metrics.count(Metrics.submissions, { outcome: "accepted" })
          yield* Metric.set(Metrics.submissionPaused, 0)
          return "accepted" as const
        }
        const error: WptRejected | WptUnreachable = answer.left
        if (error._tag === "WptRejected" && isKeyRejection(error)) {
          // the key, not the job: every job waits (this one too, its record closed: WPT made no
          // test), and each round tries one again
          const why = `WPT rejected the API key: ${error.message}; submissions are paused until it is accepted`
          keyRejected = why
          yield* resolve(label, "rejected", null, why)
          yield* Metrics.count(Metrics.submissions, { outcome: "key_rejected" })
          yield* Metric.set(Metrics.submissionPaused, 1)
          yield* Effect.logError(`job_starter: ${why}`).pipe(Effect.annotateLogs({ job: job.id, location }))
          return "paused" as const
        }
        if (error._tag === "WptRejected") {
          yield* toError(job, `WPT rejected the test: ${error.message}`, label)
          yield* Metrics.count(Metrics.submissions, { outcome: "rejected" })
          return "rejected" as const
        }
        // the request may or may not have reached WPT: the record stays open for the lookup
        yield* Metrics.count(Metrics.submissions, { outcome: "unreachable" })
        yield* Effect.logWarning(`job_starter: submitting job ${job.id} failed, will retry: ${error.message}`).pipe(
          Effect.annotateLogs({ job: job.id, location })
        )
        yield* later(job, `submission failed: ${error.message}`)
        return "unreachable" as const
      }).pipe(
        // cancelled (or its lease taken over) meanwhile: its open record, if any, is
        // reconciled by whoever submits it next
        Effect.catchTag("LeaseLost", (lost) =>
          Effect.as(
            Effect.zipRight(
              done(job),
              Effect.logWarning(`job_starter: job ${job.id} changed hands during its submission: ${lost.message}`)
            ),
            "lost" as const
          ))
      )

    const work = Effect.gen(function*() {
      // 1. earlier submissions whose answer never committed: adopt what WPT has
      const open = yield* Sql.openSubmissions(sql, claimed.map((job) => job.id))
      for (const submission of open) {
        const job = held.get(submission.job_id)
        if (job === undefined) continue
        const sentAt = new Date(submission.started_at).toISOString()
        // runtest.php may still be working on a request orch stopped waiting for (and logs the
        // test last): until it cannot be, the log's silence means nothing, and neither looking
        // nor sending again is safe
        const lookAt = submission.started_at + config.starter.lostAnswerWaitMs
        if ((yield* now()) < lookAt) {
          const why = `submission ${submission.label} sent at ${sentAt} had no answer; WPT's test log is read from ${new Date(lookAt).toISOString()}`
          yield* queue.release(job, { runAt: lookAt, reason: why, error: why })
          yield* done(job)
          continue
        }
        const filter = TestLog.filterFor(submission.label)
        const days = TestLog.daysBack(submission.started_at, yield* now())
        const found = yield* Effect.either(wpt.testLog(filter, days))
        if (Either.isLeft(found)) {
          yield* later(job, `cannot look up submission ${submission.label} at WPT: ${found.left.message}`)
          continue
        }
        const shown = `WPT's test log (filter "${filter}", ${days} day(s) back) showed ${TestLog.describe(found.right)}`
        const ours = found.right.filter((line) => TestLog.isSubmission(line, submission.label, submission.started_at - clockSkewMs))
        // newest first in the log: the oldest is the one the lost answer was about
        const test = ours[ours.length - 1]
        if (test !== undefined) {
          const adopted = yield* Effect.either(
            toSubmitted(job, submission.label, test.testId, `WPT has test ${test.testId} from an earlier submission (${submission.label})`, `adopted: ${shown}`)
          )
          if (Either.isLeft(adopted)) {
            if (adopted.left._tag !== "LeaseLost") return yield* adopted.left
            yield* done(job)
            continue
          }
          yield* Metrics.count(Metrics.submissions, { outcome: "recovered" })
          yield* Effect.logInfo(
            `job_starter: job ${job.id} adopted test ${test.testId}: its submission ${submission.label} (sent at ${sentAt}) had no answer, and ${shown}`
          ).pipe(Effect.annotateLogs({ job: job.id, testId: test.testId, label: submission.label }))
        } else if (TestLog.hiddenFromLog(job.payload)) {
          // the log cannot tell: sending again could make a second test
          yield* toError(
            job,
            `its submission ${submission.label} (sent at ${sentAt}) had no answer, and WPT's test log shows private tests to WPT's admins only (${shown}): see whether WPT has the test, then retry the job if not`,
            submission.label,
            "unknown"
          )
        } else {
          yield* resolve(submission.label, "absent", null, shown)
          yield* Effect.logWarning(
            `job_starter: job ${job.id} is submitted again: its submission ${submission.label} (sent at ${sentAt}) had no answer, and ${shown}`
          ).pipe(Effect.annotateLogs({ job: job.id, label: submission.label }))
        }
      }

      // 2. jobs whose window closed
      const at = yield* now()
      for (const job of [...held.values()]) {
        if (job.payload.notAfter !== undefined && at > job.payload.notAfter) {
          yield* toError(job, `not submitted before its not-after time ${new Date(job.payload.notAfter).toISOString()}`)
        }
      }
      if (held.size === 0) return

      // 3. submit per location while it has room for a live agent and its queue is short
      const [queues, testers] = yield* Effect.all([wpt.locations, wpt.testers], { concurrency: 2 })
      const rooms = Liveness.rooms(config, queues, testers)
      const byLocation = new Map<string, Array<Job>>()
      for (const job of held.values()) {
        const location = locationOf(job.payload)
        byLocation.set(location, [...(byLocation.get(location) ?? []), job])
      }
      // locations side by side, each location's jobs in order
      yield* Effect.forEach(byLocation, ([location, jobs]) =>
        Effect.gen(function*() {
          // a location WPT does not list at all (hidden=1 lists offline ones) is not configured
          // there: submitting lets WPT say so, and the job ends with its message
          const room = rooms.get(location) ?? Liveness.unlisted
          for (const job of jobs) {
            if (keyRejected !== undefined) break
            if (!room.take(Liveness.cost(config, job.payload.runs))) {
              for (const waiting of jobs) if (held.has(waiting.id)) waitingFor.set(waiting.id, room.why())
              break
            }
            const outcome = yield* submit(job, location)
            if (outcome === "unreachable" || outcome === "paused") break
          }
        }), { concurrency: 4, discard: true })
    })
    yield* work.pipe(Effect.onExit((exit) =>
      releaseAll(Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? `job_starter round failed: ${describeCause(exit.cause)}` : undefined)
    ))
  })
