/**
 * job_finisher: polls SUBMITTED jobs in batches, shared fairly between locations, and
 * resolves them by WPT's answer. 1xx is still running (never an error); 200 with a
 * successful first-view run is FINISHED with its summary; 200 without one, 400 (asked
 * once more: a timed-out test answers 400 and then 200) or 402 is ERROR_TESTING. A job
 * WPT never resolves is given up after `giveUpMinutes`.
 */
import { JobQueue } from "@orch/core/Jobs"
import { Clock, Effect, Either } from "effect"
import type { WatchdogConfig } from "./Config.js"
import { owner } from "./JobStarter.js"
import * as Metrics from "./Metrics.js"
import { type TestStatus, WptClient } from "./Wpt.js"
import { type Job, locationOf, type Summary, WptTest } from "./WptJob.js"

/** Takes jobs round-robin across locations, in each location's claim order. */
export const fairShare = <A>(items: ReadonlyArray<A>, keyOf: (item: A) => string, limit: number): Array<A> => {
  const groups = new Map<string, Array<A>>()
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item])
  const picked: Array<A> = []
  for (let i = 0; picked.length < limit; i++) {
    let any = false
    for (const group of groups.values()) {
      if (i < group.length && picked.length < limit) {
        picked.push(group[i]!)
        any = true
      }
    }
    if (!any) break
  }
  return picked
}

type Verdict =
  | { readonly _tag: "Running"; readonly note: string }
  | { readonly _tag: "Finished"; readonly summary: Summary }
  | { readonly _tag: "Failed"; readonly reason: string }
  | { readonly _tag: "Unreachable"; readonly reason: string }

export const round = (config: WatchdogConfig) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const wpt = yield* WptClient
    const batch = config.finisher.batchSize
    const claimed = yield* queue.claim(WptTest, {
      owner,
      leaseMs: config.leaseMs,
      states: ["SUBMITTED"],
      limit: batch * 4
    })
    if (claimed.length === 0) return
    const picked = fairShare(claimed, (job) => locationOf(job.payload), batch)
    const chosen = new Set(picked.map((job) => job.id))
    // the others go back untouched, first in line next round
    yield* Effect.forEach(claimed.filter((job) => !chosen.has(job.id)), (job) => Effect.ignore(queue.release(job)), {
      discard: true,
      concurrency: "unbounded"
    })

    const verdictOf = (job: Job, now: number): Effect.Effect<Verdict> =>
      Effect.gen(function*() {
        const testId = job.result!.testId
        const first = yield* Effect.either(wpt.status(testId))
        if (Either.isLeft(first)) return { _tag: "Unreachable", reason: first.left.message } as const
        let status: TestStatus = first.right
        if (status.statusCode === 400) {
          // a test WPT timed out answers 400 once and 200 from then on
          const again = yield* Effect.either(wpt.status(testId))
          if (Either.isLeft(again)) return { _tag: "Unreachable", reason: again.left.message } as const
          status = again.right
        }
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
            const cancelled = code === 100 ? false : yield* Effect.orElseSucceed(wpt.cancel(testId), () => false)
            return {
              _tag: "Failed",
              reason: `no result ${Math.round(submittedMinutes)} min after submission (limit ${config.finisher.giveUpMinutes} min)${
                cancelled ? "; cancelled at WPT" : ""
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
              ? `test complete without a successful first-view run (0 of ${r.testRuns})`
              : `jsonResult answered ${r.statusCode} ${r.statusText}`
          } as const
        }
        if (code === 402) return { _tag: "Failed", reason: "cancelled at WPT (402 Test Cancelled)" } as const
        return { _tag: "Failed", reason: `WPT answered ${code} ${status.statusText}` } as const
      })

    const settle = (job: Job) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const verdict = yield* verdictOf(job, now)
        const location = locationOf(job.payload)
        switch (verdict._tag) {
          case "Running":
          case "Unreachable": {
            yield* Metrics.count(Metrics.checks, { answer: verdict._tag === "Running" ? "running" : "unreachable" })
            return yield* queue.release(job, { runAt: now + config.finisher.recheckMs })
          }
          case "Finished": {
            yield* queue.transition(job, "FINISHED", {
              reason: `WPT test ${job.result!.testId} complete: ${verdict.summary.successfulFVRuns} successful first-view run(s)`,
              result: { ...job.result!, summary: verdict.summary }
            })
            yield* Metrics.count(Metrics.results, { state: "FINISHED" })
            return yield* Effect.logInfo(`job_finisher: job ${job.id} FINISHED (test ${job.result!.testId})`).pipe(
              Effect.annotateLogs({ job: job.id, location, testId: job.result!.testId, loadTime: verdict.summary.loadTime })
            )
          }
          case "Failed": {
            yield* queue.transition(job, "ERROR_TESTING", { reason: verdict.reason, error: verdict.reason })
            yield* Metrics.count(Metrics.results, { state: "ERROR_TESTING" })
            return yield* Effect.logWarning(`job_finisher: job ${job.id} ended in ERROR_TESTING: ${verdict.reason}`).pipe(
              Effect.annotateLogs({ job: job.id, location, testId: job.result!.testId, reason: verdict.reason })
            )
          }
        }
      }).pipe(
        // a job cancelled meanwhile has lost its lease: nothing left to do for it
        Effect.catchTag("LeaseLost", () => Effect.void)
      )

    // a few at a time: each is one or two requests to WPT; their releases share commits
    yield* Effect.forEach(picked, settle, { concurrency: 8, discard: true })
  })
