/**
 * job_starter (a loop) and job_finisher (a job worker) against the fake WPT server, with
 * real SQLite and the TestClock (the fake's clock follows it).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import { Clock, Effect, Either, Metric } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as Sql from "../src/sql.js"
import * as TestLog from "../src/TestLog.js"
import { toView } from "../src/Watchdog.js"
import { A, B, minute, setup, submitted } from "./loops.js"
import { watchdogDatabaseOn } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

describeBackends("job_starter", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("submits while a live agent has room (one test in flight per agent) and the queue is short, sending the key both ways and the job's label", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { starter: { maxTestsPerAgent: 1 } })
      const ids = [yield* t.enqueue(A, { label: "tor run" }), yield* t.enqueue(A), yield* t.enqueue(A)]
      // no agent has polled: nothing is submitted, nothing is an error
      yield* t.starter
      expect(t.fake.submissions).toHaveLength(0)
      expect((yield* t.get1(ids[0]!)).state).toBe("AWAITING")
      expect((yield* t.get1(ids[0]!)).leaseOwner).toBeUndefined()
      yield* t.poll(A)
      yield* t.nextStarter
      // one live agent: one test
      expect(t.fake.submissions.map((s) => s.label)).toEqual([TestLog.label("tor run", yield* t.get1(ids[0]!), 1)])
      const first = t.fake.submissions[0]!
      expect([first.location, first.browser, first.connectivity, first.runs, first.fvonly]).toEqual([A, "Tor Browser", "Native", 1, true])
      const job = yield* t.get1(ids[0]!)
      expect(job.state).toBe("SUBMITTED")
      expect((job.result as any).testId).toBe(first.id)
      // queued at WPT: nothing more; the agent takes it and is busy: nothing more
      yield* t.nextStarter
      const one = yield* t.take(A)
      yield* t.nextStarter
      expect(t.fake.submissions).toHaveLength(1)
      expect((yield* t.get1(ids[1]!)).lastError).toBe(`${A}'s 1 live agent(s) have 1 test(s) queued or running (maxTestsPerAgent 1)`)
      // done, and idle again: room for the next
      yield* t.report(A, one["Test ID"], { 1: { result: 0, loadTime: 1 } })
      expect(yield* t.poll(A)).toBeUndefined()
      yield* t.nextStarter
      expect(t.fake.submissions).toHaveLength(2)
      const sql = yield* SqlClient.SqlClient
      expect((yield* Sql.submissionsOf(sql, ids[1]!)).map((s) => s.outcome)).toEqual(["accepted"])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("reaches servers that read the key from k= as well", () =>
    Effect.gen(function*() {
      const t = yield* setup({ keyFrom: "param" })
      const id = yield* t.enqueue(A)
      yield* t.poll(A)
      yield* t.starter
      expect((yield* t.get1(id)).state).toBe("SUBMITTED")
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("turns WPT's rejections into ERROR_SUBMITTING with its message: spam filter, unknown location, closed window", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      yield* t.poll(A)
      const blocked = yield* t.enqueue(A, { url: "https://blocked.invalid/" })
      const unknown = yield* t.enqueue("europe-west1-b--tor--agent9")
      const late = yield* t.enqueue(A, { notAfter: 1 })
      yield* t.advance(10)
      yield* t.starter
      expect((yield* t.get1(blocked)).state).toBe("ERROR_SUBMITTING")
      expect((yield* t.get1(blocked)).lastError).toBe("WPT rejected the test: Your test request was intercepted by our spam filters (or because we need to talk to you about how you are submitting tests)")
      expect((yield* t.get1(unknown)).lastError).toBe("WPT rejected the test: Invalid Location, please try submitting your test request again.")
      expect((yield* t.get1(late)).state).toBe("ERROR_SUBMITTING")
      expect((yield* t.get1(late)).lastError).toMatch(/^not submitted before its not-after time 1970-01-01T00:00:00.001Z/)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("a rejected API key pauses submission: every job stays AWAITING with the error, one is tried a round, and the gauge says so", () =>
    Effect.gen(function*() {
      const t = yield* setup({ apiKey: "another-key" })
      yield* t.poll(A)
      yield* t.poll(B)
      const ids = [yield* t.enqueue(A), yield* t.enqueue(A), yield* t.enqueue(B)]
      yield* t.starter
      const why = "WPT rejected the API key: Invalid API key. To continue running tests via the WebPageTest API, you'll need to update your current key for the enhanced WebPageTest API. Read more here: https://product.webpagetest.org/api; submissions are paused until it is accepted"
      for (const id of ids) expect(yield* t.get1(id)).toMatchObject({ state: "AWAITING", lastError: why, attempts: 0 })
      // and the API and `orch watchdog jobs` show it
      for (const id of ids) expect(toView(yield* t.get1(id))).toMatchObject({ state: "AWAITING", error: why })
      // the locations go side by side: at most one test each before the first rejection stops them
      const tried = t.fake.hits.get("runtest.php")!
      expect(tried).toBeLessThanOrEqual(2)
      const gauge = (yield* Metric.value(Metrics.submissionPaused)).value
      expect(gauge).toBe(1)
      yield* t.nextStarter
      expect(t.fake.hits.get("runtest.php")! - tried).toBeGreaterThanOrEqual(1)
      expect(t.fake.hits.get("runtest.php")! - tried).toBeLessThanOrEqual(2)
      for (const id of ids) expect((yield* t.get1(id)).state).toBe("AWAITING")
      // the key is fixed at WPT: submission goes on
      ;(t.fake.options as { apiKey?: string }).apiKey = "secret-key-1"
      yield* t.poll(A)
      yield* t.nextStarter
      expect((yield* t.get1(ids[0]!)).state).toBe("SUBMITTED")
      expect((yield* Metric.value(Metrics.submissionPaused)).value).toBe(0)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("keeps jobs AWAITING when WPT cannot be reached, with the error as their last error, and fails the round so the supervisor backs off", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const id = yield* t.enqueue(A)
      t.fake.unreachable = true
      const outcome = yield* Effect.either(t.starter)
      expect(Either.isLeft(outcome) && outcome.left._tag).toBe("WptUnreachable")
      const job = yield* t.get1(id)
      expect([job.state, job.leaseOwner, job.attempts]).toEqual(["AWAITING", undefined, 0])
      expect(job.lastError).toMatch(/^job_starter round failed: (getLocations|getTesters)\.php: /)
    }).pipe(Effect.provide(watchdogDatabase())))
})

describeBackends("job_finisher", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("leaves running tests SUBMITTED and resolves finished ones by their first-view runs, with the summary kept", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      yield* t.poll(A)
      yield* t.poll(B)
      const ok = yield* t.enqueue(A, { runs: 2 })
      const failed = yield* t.enqueue(B)
      yield* t.starter
      yield* t.advance(minute)
      yield* t.finisher
      expect((yield* t.get1(ok)).state).toBe("SUBMITTED")
      const a = yield* t.take(A)
      const b = yield* t.take(B)
      yield* t.advance(minute)
      yield* t.finisher
      expect((yield* t.get1(ok)).state).toBe("SUBMITTED")
      yield* t.report(A, a["Test ID"], { 1: { result: 0, loadTime: 1234, TTFB: 210, fullyLoaded: 2000 }, 2: { result: 99999, loadTime: 1300, TTFB: 220, fullyLoaded: 2100 } })
      yield* t.report(B, b["Test ID"], { 1: { result: 404, loadTime: 0 } })
      // checked again only after recheckMs
      yield* t.finisher
      expect((yield* t.get1(ok)).state).toBe("SUBMITTED")
      yield* t.advance(minute)
      yield* t.finisher
      const finished = yield* t.get1(ok)
      expect(finished.state).toBe("FINISHED")
      expect((finished.result as any).summary).toMatchObject({ successfulFVRuns: 2, testRuns: 2, loadTime: 1234, ttfb: 210, fullyLoaded: 2000 })
      expect((finished.result as any).summary.resultUrl).toBe(`${t.fake.url}/results.php?test=${a["Test ID"]}`)
      // polled four times, yet the history holds only the changes of state
      const history = yield* Effect.flatMap(JobQueue, (q) => q.history(ok))
      expect(history.map((h) => h.to)).toEqual(["AWAITING", "SUBMITTED", "FINISHED"])
      const error = yield* t.get1(failed)
      expect(error.state).toBe("ERROR_TESTING")
      expect(error.lastError).toBe("test complete without a successful first-view run (0 of 1)")
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("reads a timed-out test's 400 as the 200 that follows, and ends cancelled, unknown and never-finishing tests in ERROR_TESTING", () =>
    Effect.gen(function*() {
      const t = yield* setup({ maxRunMinutes: 60 }, { finisher: { recheckMs: 10 * minute, giveUpMinutes: 180 } })
      yield* t.poll(A)
      yield* t.poll(B)
      const timedOut = yield* t.enqueue(A)
      const cancelled = yield* t.enqueue(B)
      const queuedForever = yield* t.enqueue(B)
      yield* t.starter
      yield* t.take(A)
      const cancelledTest = ((yield* t.get1(cancelled)).result as any).testId
      yield* Effect.promise(() => fetch(`${t.fake.url}/cancelTest.php?test=${cancelledTest}`))
      yield* t.advance(61 * minute)
      yield* t.finisher
      const a = yield* t.get1(timedOut)
      expect([a.state, a.lastError]).toEqual(["ERROR_TESTING", "timed out at WPT: no result within its run limit (max_run_minutes 60 min)"])
      expect(yield* t.get1(cancelled)).toMatchObject({ state: "ERROR_TESTING", lastError: "cancelled at WPT (402 Test Cancelled)" })
      expect((yield* t.get1(queuedForever)).state).toBe("SUBMITTED")
      yield* t.advance(120 * minute)
      yield* t.finisher
      const given = yield* t.get1(queuedForever)
      expect(given.state).toBe("ERROR_TESTING")
      expect(given.lastError).toBe("no result 181 min after submission (limit 180 min); cancelled at WPT")
      expect(t.fake.tests.get((given.result as any).testId)!.state).toBe("cancelled")
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("says a sharded test it gives up on is only marked cancelled at WPT: its runs stay queued there (cancelTest.php deletes a single job file only)", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { finisher: { recheckMs: 10 * minute, giveUpMinutes: 180 } })
      yield* t.poll(B)
      const sharded = yield* t.enqueue(B, { runs: 3 })
      yield* t.starter
      yield* t.advance(181 * minute)
      yield* t.finisher
      const given = yield* t.get1(sharded)
      expect([given.state, given.lastError]).toEqual([
        "ERROR_TESTING",
        "no result 181 min after submission (limit 180 min); marked cancelled at WPT, but its runs stay queued there and will still run"
      ])
      const test = t.fake.tests.get((given.result as any).testId)!
      expect([test.state, test.cancelMarked]).toEqual(["queued", true])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("keeps jobs SUBMITTED while WPT is unreachable, and ends a test WPT does not know after asking twice", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      yield* t.poll(A)
      const id = yield* t.enqueue(A)
      yield* t.starter
      yield* t.advance(minute)
      t.fake.unreachable = true
      yield* t.finisher
      // waiting on WPT, and saying so
      expect(yield* t.get1(id)).toMatchObject({ state: "SUBMITTED", attempts: 0, lastError: expect.stringMatching(/^cannot ask WPT about test /) })
      t.fake.unreachable = false
      // WPT lost it (results expired, another server): 400 twice
      t.fake.tests.delete(((yield* t.get1(id)).result as any).testId)
      const before = t.fake.hits.get("testStatus.php") ?? 0
      yield* t.advance(minute)
      yield* t.finisher
      expect(t.fake.hits.get("testStatus.php")! - before).toBe(2)
      expect(yield* t.get1(id)).toMatchObject({ state: "ERROR_TESTING", lastError: "WPT answered 400 Test not found" })
    }).pipe(Effect.provide(watchdogDatabase())))
})

describeBackends("job_finisher as a job worker", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("checks every due job once per pass whatever its location, at most `concurrency` at WPT at once, and leaves AWAITING jobs to job_starter", () =>
    Effect.gen(function*() {
      const t = yield* setup({ statusDelayMs: 50 }, { starter: { maxQueueLength: 50 }, finisher: { concurrency: 3 } })
      yield* t.poll(A)
      yield* t.poll(B)
      const many: Array<number> = []
      for (let i = 0; i < 20; i++) many.push(yield* t.enqueue(A))
      // another location's, last in claim order: checked in the same pass all the same
      const lone = yield* t.enqueue(B)
      yield* t.starter
      const waiting = yield* t.enqueue(A)
      expect((yield* submitted).map((job) => job.id).sort((a, b) => a - b)).toEqual([...many, lone])
      yield* t.advance(minute)
      yield* t.finisher
      const now = yield* Clock.currentTimeMillis
      // each one asked once and given back to be asked again a recheck later
      expect(t.fake.hits.get("testStatus.php")).toBe(21)
      expect((yield* submitted).map((job) => job.runAt)).toEqual(Array.from({ length: 21 }, () => now + minute))
      expect(t.fake.peaks.get("testStatus.php")).toBe(3)
      const awaiting = yield* t.get1(waiting)
      expect([awaiting.state, awaiting.leaseOwner, awaiting.attempts, awaiting.lastError]).toEqual(["AWAITING", undefined, 0, undefined])
      // still running at WPT: not asked again before its recheck
      yield* t.advance(minute - 1)
      yield* t.finisher
      expect(t.fake.hits.get("testStatus.php")).toBe(21)
      yield* t.advance(1)
      yield* t.finisher
      expect(t.fake.hits.get("testStatus.php")).toBe(42)
    }).pipe(Effect.provide(watchdogDatabase())))
})
