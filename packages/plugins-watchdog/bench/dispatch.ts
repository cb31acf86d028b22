/**
 * How fast the watchdog moves jobs through a WPT server: job_starter (5 ms between rounds)
 * and job_finisher's worker (polling every 5 ms) against the fake WPT server with one fast
 * simulated agent per location, on a SQLite file. Prints jobs/s end to end and the WPT
 * requests each job costs. Run: npx tsx packages/plugins-watchdog/bench/dispatch.ts
 */
import { JobQueue } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import { Effect, Logger, LogLevel } from "effect"
import * as JobFinisher from "../src/JobFinisher.js"
import * as JobStarter from "../src/JobStarter.js"
import * as Wpt from "../src/Wpt.js"
import { WptTest } from "../src/WptJob.js"
import { FakeWpt, SimulatedAgent } from "../test/fakes/FakeWpt.js"
import { configFor, watchdogDatabase } from "../test/support.js"

const locations = Array.from({ length: 5 }, (_, i) => `us-central1-a--chrome--agent${i + 1}`)
const jobs = Number(process.argv[2] ?? 1000)

const program = Effect.gen(function*() {
  const fake = yield* Effect.acquireRelease(
    Effect.promise(() => new FakeWpt({ locations: locations.map((id) => ({ id })) }).start()),
    (f) => Effect.promise(() => f.close())
  )
  const agents = locations.map((location, i) => new SimulatedAgent(fake.url, location, `agent${i}`, "", { testMs: 1, pollMs: 2 }))
  yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(agents.map((a) => a.stop()))))
  const config = configFor({ wptUrl: fake.url }, {
    // a queue of up to 20 per agent, as before the one-test-per-agent default
    starter: { intervalMs: 5, maxQueueLength: 20, maxTestsPerAgent: 20 },
    finisher: { intervalMs: 5, recheckMs: 20 }
  })
  const wpt = Wpt.make({ server: fake.url, timeout: 5_000 })
  const queue = yield* JobQueue
  yield* queue.enqueueMany(WptTest, Array.from({ length: jobs }, (_, i) => ({
    payload: {
      zone: "us-central1-a",
      browser: "chrome",
      agent: `agent${(i % locations.length) + 1}`,
      url: `https://example.org/${i}`,
      runs: 1,
      firstViewOnly: true,
      connectivity: "Native",
      options: {}
    }
  })))
  const started = performance.now()
  yield* Effect.forkScoped(
    Effect.forever(Effect.zipRight(Effect.ignore(Effect.provideService(JobStarter.round(config), Wpt.WptClient, wpt)), Effect.sleep("5 millis")))
  )
  yield* Effect.forkScoped(Effect.provideService(JobWorker.run(JobFinisher.worker(config), { owner: JobStarter.owner }), Wpt.WptClient, wpt))
  while (true) {
    const counts = yield* queue.countByState()
    const finished = counts.find((c) => c.state === "FINISHED")?.count ?? 0
    if (finished === jobs) break
    yield* Effect.sleep("50 millis")
  }
  const seconds = (performance.now() - started) / 1000
  const requests = [...fake.hits.values()].reduce((a, b) => a + b, 0)
  const agentRequests = (fake.hits.get("work/getwork.php") ?? 0) + (fake.hits.get("work/workdone.php") ?? 0)
  console.log(`${jobs} jobs over ${locations.length} locations: ${seconds.toFixed(2)} s, ${(jobs / seconds).toFixed(0)} jobs/s end to end`)
  console.log(`watchdog requests to WPT per job: ${((requests - agentRequests) / jobs).toFixed(2)} (runtest ${fake.hits.get("runtest.php")}, getLocations ${fake.hits.get("getLocations.php")}, getTesters ${fake.hits.get("getTesters.php")}, testStatus ${fake.hits.get("testStatus.php")}, jsonResult ${fake.hits.get("jsonResult.php")})`)
})

await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(watchdogDatabase()), Logger.withMinimumLogLevel(LogLevel.Warning)))
