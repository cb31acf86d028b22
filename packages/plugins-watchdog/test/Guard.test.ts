/**
 * The guard against submitting a job twice, against the fake WPT's test log (which
 * filters and prints as testlog.php does): whatever the user's label holds, a job whose
 * submission answer is lost ends up as exactly one WPT test.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import { waitUntil } from "@orch/testing"
import { Effect, Fiber } from "effect"
import * as Sql from "../src/sql.js"
import * as TestLog from "../src/TestLog.js"
import { setup } from "./loops.js"
import { watchdogDatabaseOn } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

/** Every printable ASCII character, some that are not ASCII, and labels that look like the watchdog's own. */
const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("")
const labels = [
  undefined,
  printable,
  `  ${printable.split("").reverse().join("")}\t`,
  "Tor Browser — ünïcødé 日本語 🚀",
  "ÄÖÜ",
  "orch-job-1-try-1",
  "watchdog_job_3_try_1_",
  "\"quoted\" 'single' \\back\\ %41 +plus+ @at (paren) a/b c:d",
  "UPPER lower 0123456789 .-_"
]
const locations = labels.map((_, i) => `us-central1-a--tor--agent${i + 1}`)

const fakeWith = (extra: Record<string, unknown>) => ({
  locations: locations.map((id) => ({ id, browsers: ["Tor Browser"], label: `Tor agent ${id.slice(-1)}` })),
  ...extra
})

describeBackends("the guard against a second submission", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("a submission timed out while WPT went on: looked up only after lostAnswerWaitMs, adopted, one test per job, for every label", () =>
    Effect.gen(function*() {
      // WPT takes 4 s to queue and log a test; orch waits 1 s for its answer
      const t = yield* setup(fakeWith({ runtestDelayMs: 4_000 }), { starter: { maxTestsPerAgent: 1 } })
      for (const location of locations) yield* t.poll(location)
      const ids: Array<number> = []
      for (const [i, label] of labels.entries()) ids.push(yield* t.enqueue(locations[i]!, label === undefined ? {} : { label }))
      yield* t.starter
      const sql = yield* SqlClient.SqlClient
      for (const id of ids) {
        expect((yield* t.get1(id)).state).toBe("AWAITING")
        expect((yield* Sql.submissionsOf(sql, id)).map((s) => s.outcome)).toEqual([null])
      }
      // its backoff is over, but WPT may still be at work: nothing is looked up or sent
      yield* t.advance(1_000)
      yield* t.starter
      expect(t.fake.hits.get("testlog.php") ?? 0).toBe(0)
      expect(t.fake.hits.get("runtest.php")).toBe(labels.length)
      expect((yield* t.get1(ids[0]!)).lastError).toMatch(/^submission orch-job-\d+-[0-9a-z]+-try-1 sent at .* had no answer; WPT's test log is read from /)
      yield* waitUntil("WPT queued every test", Effect.sync(() => t.fake.submissions.length === labels.length))
      yield* t.advance(2_000)
      yield* t.starter
      for (const [i, id] of ids.entries()) {
        const job = yield* t.get1(id)
        const tests = t.fake.testsOfJob(id)
        expect(tests, `label ${JSON.stringify(labels[i])}`).toHaveLength(1)
        expect(job.state).toBe("SUBMITTED")
        expect((job.result as any).testId).toBe(tests[0]!.id)
        // WPT kept the label exactly as it was sent
        expect(tests[0]!.label).toBe(TestLog.label(labels[i], job, 1))
        expect((yield* Sql.submissionsOf(sql, id)).map((s) => s.outcome)).toEqual(["accepted"])
        // the record says what the test log showed, as the log does
        expect((yield* Sql.submissionsOf(sql, id))[0]!.detail).toBe(
          `adopted: WPT's test log (filter "${TestLog.tag(job, 1)}", 1 day(s) back) showed 1 line(s): ${tests[0]!.id} "${tests[0]!.label}" at ${
            new Date(Math.floor(tests[0]!.submittedAt / 1000) * 1000).toISOString()
          }`
        )
      }
      expect(t.fake.hits.get("runtest.php")).toBe(labels.length)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("a process killed after its requests were sent: the tests WPT has are adopted, one it never got is sent again with what the log showed", () =>
    Effect.gen(function*() {
      const t = yield* setup(fakeWith({ runtestDelayMs: 300 }), { starter: { maxTestsPerAgent: 1 }, wpt: { requestTimeoutMs: 5_000 } })
      for (const location of locations) yield* t.poll(location)
      const ids: Array<number> = []
      for (const [i, label] of labels.entries()) ids.push(yield* t.enqueue(locations[i]!, label === undefined ? {} : { label }))
      // the round dies once WPT has every request (interrupted: what a kill leaves is the same
      // open records, the leases then run out)
      const round = yield* Effect.fork(t.starter)
      yield* waitUntil("WPT received every submission", Effect.sync(() => (t.fake.hits.get("runtest.php") ?? 0) === labels.length))
      yield* Fiber.interrupt(round)
      yield* waitUntil("WPT queued every test", Effect.sync(() => t.fake.submissions.length === labels.length))
      // and a job whose request never reached WPT
      const sql = yield* SqlClient.SqlClient
      const lost = yield* t.enqueue(locations[0]!, { label: "lost" })
      const lostJob = yield* t.get1(lost)
      yield* Sql.insertSubmission(sql, { jobId: lost, try: 1, label: TestLog.label("lost", lostJob, 1), location: locations[0]!, now: 0 })
      // the jobs the dead round held come back after a round's interval (after a kill: their lease)
      yield* t.advance(t.config.starter.intervalMs)
      yield* t.starter
      for (const id of ids) {
        expect(t.fake.testsOfJob(id)).toHaveLength(1)
        expect(((yield* t.get1(id)).result as any).testId).toBe(t.fake.testsOfJob(id)[0]!.id)
      }
      // its location's agent has a test queued: it waits for room, its lookup done
      const [absent] = yield* Sql.submissionsOf(sql, lost)
      expect(absent).toMatchObject({ outcome: "absent", detail: `WPT's test log (filter "${TestLog.tag(lostJob, 1)}", 1 day(s) back) showed no line` })
      expect(t.fake.testsOfJob(lost)).toHaveLength(0)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("finds only its own line: not a longer try number, not a test of the same tag logged the day before it was sent, not the tag in a URL", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { starter: { maxQueueLength: 10 } })
      const sql = yield* SqlClient.SqlClient
      const A = "us-central1-a--tor--agent1"
      yield* t.poll(A)
      const id = yield* t.enqueue(A)
      const send = (label: string, url = "https://example.org/") =>
        Effect.promise(() =>
          fetch(`${t.fake.url}/runtest.php?f=json&location=${A}&url=${encodeURIComponent(url)}&label=${encodeURIComponent(label)}`, {
            headers: { "X-WPT-API-KEY": "secret-key-1" }
          })
        )
      const job = yield* t.get1(id)
      const tag = TestLog.tag(job, 1)
      // a test logged under the same tag the day before (by a copy of this database restored elsewhere, say)
      yield* send(tag)
      yield* t.advance(86_400_000)
      yield* Sql.insertSubmission(sql, { jobId: id, try: 1, label: tag, location: A, now: 86_400_000 })
      yield* send(`${tag}1`)
      yield* send("someone else", `https://example.org/${tag}`)
      yield* t.advance(3_000)
      yield* t.poll(A)
      yield* t.starter
      // none of them: submitted again as try 2
      expect(t.fake.submissions.at(-1)!.label).toBe(TestLog.tag(job, 2))
      const [first] = yield* Sql.submissionsOf(sql, id)
      expect(first!.detail).toMatch(/^WPT's test log \(filter "orch-job-\d+-[0-9a-z]+-try-1", 1 day\(s\) back\) showed 3 line\(s\): /)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("a private test (private=1, or credentials in its URL) is not in the log WPT shows orch: its job ends asking to check, never sent twice", () =>
    Effect.gen(function*() {
      const t = yield* setup(fakeWith({ runtestDelayMs: 2_500 }), { starter: { maxTestsPerAgent: 1 } })
      for (const location of locations.slice(0, 3)) yield* t.poll(location)
      const ids = [
        yield* t.enqueue(locations[0]!, { options: { private: 1 } }),
        yield* t.enqueue(locations[1]!, { url: "https://user:secret@example.org/page" }),
        yield* t.enqueue(locations[2]!, { url: "https://example.org/?to=a@b.org" })
      ]
      yield* t.starter
      yield* waitUntil("WPT queued every test", Effect.sync(() => t.fake.submissions.length === 3))
      yield* t.advance(3_000)
      yield* t.starter
      const sql = yield* SqlClient.SqlClient
      for (const id of ids.slice(0, 2)) {
        const job = yield* t.get1(id)
        expect(job.state).toBe("ERROR_SUBMITTING")
        expect(job.lastError).toMatch(/had no answer, and WPT's test log shows private tests to WPT's admins only \(WPT's test log .* showed no line\): see whether WPT has the test/)
        expect((yield* Sql.submissionsOf(sql, id)).map((s) => s.outcome)).toEqual(["unknown"])
      }
      // an @ after the ? is not a credential: found and adopted
      expect((yield* t.get1(ids[2]!)).state).toBe("SUBMITTED")
      for (const id of ids) expect(t.fake.testsOfJob(id)).toHaveLength(1)
    }).pipe(Effect.provide(watchdogDatabase())))
})
