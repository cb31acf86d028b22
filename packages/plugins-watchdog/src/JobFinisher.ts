/**
 * job_finisher: a job worker over SUBMITTED jobs. Its handler asks WPT for the job's test
 * and resolves it by the answer: 1xx is still running (never an error) and the job is
 * given back to be asked again `recheckMs` later; 200 with a successful first-view run is
 * FINISHED with its summary; 200 without one, 400 (asked once more: a timed-out test
 * answers 400 and then 200, and is reported as timed out) or 402 is ERROR_TESTING. A job WPT never resolves is given up
 * after `giveUpMinutes`.
 *
 * One job per handler call fits: a check is that job's own one to three WPT requests and
 * decides nothing about other jobs. The worker claims only what it runs, and a checked job
 * goes behind every job due before it (claims follow run-at), so every due job gets its
 * turn and no location waits on another's: there is no batch to share out between
 * locations. WPT gets at most `concurrency` checks at once, and each test at most one per
 * `recheckMs`.
 */
import * as JobWorker from "@orch/core/JobWorker"
import { Clock, Effect, Either } from "effect"
import type { WatchdogConfig } from "./Config.js"
import * as Metrics from "./Metrics.js"
import { type TestStatus, WptClient, type WptClientService } from "./Wpt.js"
import { type Job, locationOf, type Summary, WptTest } from "./WptJob.js"

type Verdict =
  | { readonly _tag: "Running"; readonly note: string }
  | { readonly _tag: "Finished"; readonly summary: Summary }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Unreachable"; readonly reason: string }

/** What WPT says of the job's test; `Unreachable` when it could not be asked. */
const verdictOf = (config: WatchdogConfig, wpt: WptClientService, job: Job, now: number): Effect.Effect<Verdict> =>
  Effect.gen(function*() {
    const testId = job.result!.testId
    const first = yield* Effect.either(wpt.status(testId))
    if (Either.isLeft(first)) return { _tag: "Unreachable", reason: first.left.message } as const
    let status: TestStatus = first.right
    // a test WPT timed out (testStatus.inc: running past max_run_minutes) answers 400 once
    // and 200 from then on; one whose 400 someone else saw ran (started to complete) that long
    let timedOut = false
    if (status.statusCode === 400) {
      const again = yield* Effect.either(wpt.status(testId))
      if (Either.isLeft(again)) return { _tag: "Unreachable", reason: again.left.message } as const
      status = again.right
      timedOut = status.statusCode === 200
    }
    if (
      status.statusCode === 200 && status.startedAt !== undefined && status.completedAt !== undefined &&
      status.completedAt - status.startedAt >= config.wpt.maxRunMinutes * 60_000
    ) timedOut = true
    const code = status.statusCode
    if (code === 100 || code === 101 || code === 401) {
      const submittedMinutes = (now - job.result!.submittedAt) / 60_000
      const runningMinutes = status.startedAt === undefined ? 0 : (now - status.startedAt) / 60_000
      if (code === 100 && runningMinutes > 2 * config.wpt.maxRunMinutes) {
        return {
          _tag: "Failed",
          reason: `running at WPT for ${Math.round(runningMinutes)} min, beyond twice its run limit of ${config.wpt.maxRunMinutes} min`
        } as const
      }
      if (submittedMinutes > config.finisher.giveUpMinutes) {
        const cancelled = code === 100 ? "refused" : yield* Effect.orElseSucceed(wpt.cancel(testId), () => "refused" as const)
        return {
          _tag: "Failed",
          reason: `no result ${Math.round(submittedMinutes)} min after submission (limit ${config.finisher.giveUpMinutes} min)${
            cancelled === "cancelled"
              ? "; cancelled at WPT"
              : cancelled === "marked"
              ? "; marked cancelled at WPT, but its runs stay queued there and will still run"
              : ""
          }`
        } as const
      }
      return { _tag: "Running", note: `${code} ${status.statusText}` } as const
    }
    if (code === 200) {
      const result = yield* Effect.either(wpt.result(testId))
      if (Either.isLeft(result)) return { _tag: "Unreachable", reason: result.left.message } as const
      const r = result.right
      if (r.statusCode === 100 || r.statusCode === 101) return { _tag: "Running", note: `${r.statusCode} ${r.statusText}` } as const
      if (r.statusCode === 200 && r.successfulFVRuns >= 1) {
        return {
          _tag: "Finished",
          summary: {
            successfulFVRuns: r.successfulFVRuns,
            testRuns: r.testRuns,
            loadTime: r.loadTime,
            ttfb: r.ttfb,
            fullyLoaded: r.fullyLoaded,
            speedIndex: r.speedIndex,
            resultUrl: r.resultUrl,
            completedAt: r.completedAt
          }
        } as const
      }
      return {
        _tag: "Failed",
        reason: r.statusCode === 200
          ? timedOut
            ? `timed out at WPT: no result within its run limit (max_run_minutes ${config.wpt.maxRunMinutes} min)`
            : `test complete without a successful first-view run (0 of ${r.testRuns})`
          : `jsonResult answered ${r.statusCode} ${r.statusText}`
      } as const
    }
    if (code === 402) return { _tag: "Failed", reason: "cancelled at WPT (402 Test Cancelled)" } as const
    return { _tag: "Failed", reason: `WPT answered ${code} ${status.statusText}` } as const
  })

/** The handler: one job's check, and what becomes of the job. */
export const check = (config: WatchdogConfig) => (job: Job) =>
  Effect.gen(function*() {
    const wpt = yield* WptClient
    const now = yield* Clock.currentTimeMillis
    const verdict = yield* verdictOf(config, wpt, job, now)
    const testId = job.result!.testId
    const annotations = { job: job.id, location: locationOf(job.payload), testId }
    switch (verdict._tag) {
      case "Running":
      case "Unreachable": {
        yield* Metrics.count(Metrics.checks, { answer: verdict._tag === "Running" ? "running" : "unreachable" })
        // no reason: a job polled a hundred times keeps a history of its changes of state only;
        // an unreachable WPT is the job's last error, so `orch jobs show` says why it waits
        return JobWorker.release({
          runAt: now + config.finisher.recheckMs,
          error: verdict._tag === "Unreachable" ? `cannot ask WPT about test ${testId}: ${verdict.reason}` : undefined
        })
      }
      case "Finished": {
        yield* Metrics.count(Metrics.results, { state: "FINISHED" })
        yield* Effect.logInfo(`job_finisher: job ${job.id} FINISHED (test ${testId})`).pipe(
          Effect.annotateLogs({ ...annotations, loadTime: verdict.summary.loadTime })
        )
        return JobWorker.transition("FINISHED", {
          reason: `WPT test ${testId} complete: ${verdict.summary.successfulFVRuns} successful first-view run(s)`,
          result: { ...job.result!, summary: verdict.summary }
        })
      }
      case "Failed": {
        yield* Metrics.count(Metrics.results, { state: "ERROR_TESTING" })
        yield* Effect.logWarning(`job_finisher: job ${job.id} ended in ERROR_TESTING: ${verdict.reason}`).pipe(
          Effect.annotateLogs({ ...annotations, reason: verdict.reason })
        )
        return JobWorker.transition("ERROR_TESTING", { reason: verdict.reason, error: verdict.reason })
      }
    }
  })

/** The worker: SUBMITTED jobs only (AWAITING ones are job_starter's), on the plugin's WPT client. */
export const worker = (config: WatchdogConfig) =>
  JobWorker.make({
    kind: WptTest,
    states: ["SUBMITTED"],
    handler: check(config),
    concurrency: config.finisher.concurrency,
    leaseMs: config.leaseMs,
    // jobs come due by their run-at, which wakes no one: look for them this often
    pollInterval: config.finisher.intervalMs
  })
