/**
 * job_starter (a loop) and job_finisher (a job worker) against the fake WPT server, with
 * real SQLite and the TestClock (the fake's clock follows it): the setup the loop tests share.
 */
import { waitUntil } from "@orch/testing"
import { JobQueue } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import { Clock, Effect, TestClock } from "effect"
import * as JobFinisher from "../src/JobFinisher.js"
import * as JobStarter from "../src/JobStarter.js"
import * as Wpt from "../src/Wpt.js"
import { type TestPayload, WptTest } from "../src/WptJob.js"
import { FakeWpt, type FakeWptOptions } from "./fakes/FakeWpt.js"
import * as zip from "./fakes/zip.js"
import { configFor } from "./support.js"

export const A = "us-central1-a--tor--agent1"
export const B = "us-central1-a--firefox--agent2"
export const minute = 60_000

/** The SUBMITTED jobs, as they are now. */
export const submitted = Effect.flatMap(JobQueue, (q) => q.list({ plugin: WptTest.plugin, kind: WptTest.name, state: "SUBMITTED", limit: 1_000 }))

/** No SUBMITTED job is held by the finisher or due: each one due has been checked. */
const checked = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  return (yield* submitted).every((job) => job.leaseOwner === undefined && job.runAt > now)
})

export const setup = (wptOptions: Partial<FakeWptOptions> = {}, overrides: Record<string, Record<string, unknown>> = {}) =>
  Effect.gen(function*() {
    let now = 0
    const fake = yield* Effect.acquireRelease(
      Effect.promise(() =>
        new FakeWpt({
          locations: [{ id: A, browsers: ["Tor Browser"] }, { id: B, browsers: ["Firefox"] }],
          now: () => now,
          apiKey: "secret-key-1",
          blocked: /blocked\.invalid/,
          ...wptOptions
        }).start()
      ),
      (fake) => Effect.promise(() => fake.close())
    )
    const config = configFor({ wptUrl: fake.url }, {
      ...overrides,
      wpt: { key: "secret-key-1", requestTimeoutMs: 1_000, ...overrides.wpt },
      // many tests per agent unless a test says otherwise: most tests here are not about that
      starter: { maxQueueLength: 2, retryDelayMs: 1_000, lostAnswerWaitMs: 3_000, maxTestsPerAgent: 100, ...overrides.starter },
      finisher: { recheckMs: minute, giveUpMinutes: 120, ...overrides.finisher }
    })
    const wpt = Wpt.make({ server: fake.url, key: config.wpt.key, timeout: config.wpt.requestTimeoutMs })
    const starter = Effect.provideService(JobStarter.round(config), Wpt.WptClient, wpt)
    const worker = JobFinisher.worker(config)
    /**
     * A pass of job_finisher at the current (test) time: its worker runs until it has
     * checked every job that is due, then stops, as it does when the daemon stops.
     */
    const finisher = Effect.scoped(Effect.gen(function*() {
      yield* Effect.forkScoped(JobWorker.run(worker, { owner: JobStarter.owner }))
      yield* waitUntil("job_finisher checked every due job", checked)
    })).pipe(Effect.provideService(Wpt.WptClient, wpt))
    const advance = (ms: number) => Effect.zipRight(Effect.sync(() => (now += ms)), TestClock.adjust(ms))
    const enqueue = (location: string, test: Partial<TestPayload> = {}) =>
      Effect.gen(function*() {
        const [zone, browser, agent] = location.split("--") as [string, string, string]
        const { job } = yield* Effect.flatMap(JobQueue, (q) =>
          q.enqueue(WptTest, { zone, browser, agent, url: "https://example.org/", runs: 1, firstViewOnly: true, connectivity: "Native", options: {}, ...test }))
        return job.id
      })
    const get1 = (id: number) => Effect.flatMap(JobQueue, (q) => q.get(id))
    /** One agent poll; returns the test it was given, if any. */
    const poll = (location: string) =>
      Effect.promise(async () => {
        const text = await (await fetch(`${fake.url}/work/getwork.php?location=${location}&pc=${location}&key=&version=1`)).text()
        return text.startsWith("{") ? (JSON.parse(text) as { "Test ID": string; url: string; run?: number }) : undefined
      })
    /** The agent reports a test (or, given `run`, one run of a sharded test) done with these page data per run. */
    const report = (location: string, testId: string, pages: Record<number, Record<string, unknown>> | undefined, run?: number) =>
      Effect.promise(async () => {
        const form = new FormData()
        if (pages !== undefined) {
          const files = Object.fromEntries(Object.entries(pages).map(([run, page]) => [`${run}_page_data.json`, JSON.stringify(page)]))
          form.set("file", new Blob([zip.write(files)]), "result.zip")
        }
        await fetch(`${fake.url}/work/workdone.php?id=${testId}&location=${location}&key=&pc=${location}&done=1${run === undefined ? "" : `&run=${run}`}`, { method: "POST", body: form })
      })
    /** Polls until the agent gets a test (the stale queue entry costs one empty answer). */
    const take = (location: string) =>
      Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          const test = yield* poll(location)
          if (test) return test
        }
        throw new Error(`no test for ${location}`)
      })
    /** The next starter round, one interval later (jobs it could not send wait that long). */
    const nextStarter = Effect.zipRight(advance(config.starter.intervalMs), starter)
    return { fake, config, starter, nextStarter, finisher, advance, enqueue, get1, poll, report, take }
  })

