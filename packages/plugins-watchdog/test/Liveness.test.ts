/**
 * Which agents job_starter sends to, and how much: against the fake WPT, whose getTesters
 * reports minutes since each agent's last poll, and whose runtest.php queues a test of N
 * runs as N job files unless sharding is off.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Liveness from "../src/Liveness.js"
import * as Wpt from "../src/Wpt.js"
import { A, B, minute, setup } from "./loops.js"
import { configFor, watchdogDatabaseOn } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

describeBackends("live agents", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("a dead agent (silent in getTesters, though WPT still counts it idle) is sent nothing; once it polls again it is", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { starter: { maxTestsPerAgent: 1, agentSilentSeconds: 120 } })
      yield* t.poll(A)
      yield* t.poll(B)
      yield* t.advance(3 * minute)
      yield* t.poll(B)
      const a = yield* t.enqueue(A)
      const b = yield* t.enqueue(B)
      // WPT: A's tester is idle (it keeps testers for max_tester_minutes)
      const wpt = Wpt.make({ server: t.fake.url, timeout: 2_000 })
      expect((yield* wpt.locations).find((q) => q.location === A)).toMatchObject({ idle: 1, status: "OK" })
      yield* t.starter
      expect(t.fake.submissions.map((s) => s.location)).toEqual([B])
      expect((yield* t.get1(b)).state).toBe("SUBMITTED")
      expect((yield* t.get1(a)).state).toBe("AWAITING")
      expect((yield* t.get1(a)).lastError).toBe(`no live agent at WPT for ${A} (${A}-127.0.0.1 silent 3 min)`)
      yield* t.poll(A)
      yield* t.nextStarter
      expect((yield* t.get1(a)).state).toBe("SUBMITTED")
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("a 3-run test counts as 3 in WPT's queue (three job files, one per run), as 1 when WPT does not shard", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { starter: { maxTestsPerAgent: 3, maxQueueLength: 10 } })
      yield* t.poll(A)
      const three = yield* t.enqueue(A, { runs: 3 })
      const one = yield* t.enqueue(A)
      yield* t.starter
      expect((yield* t.get1(three)).state).toBe("SUBMITTED")
      expect((yield* t.get1(one)).state).toBe("AWAITING")
      const testId = ((yield* t.get1(three)).result as any).testId
      expect(t.fake.queueOf(A)).toEqual([testId, testId, testId])
      const wpt = Wpt.make({ server: t.fake.url, timeout: 2_000 })
      // (one too many: the queue index's stale entry after a location's first test)
      expect((yield* wpt.locations).find((q) => q.location === A)?.queued).toBe(4)
      // the agent runs them one by one; the test completes with its last run
      for (const run of [1, 2, 3]) {
        const shard = yield* t.take(A)
        expect([shard["Test ID"], shard.run]).toEqual([testId, run])
        expect((yield* wpt.status(testId)).statusCode).toBe(100)
        yield* t.report(A, testId, { [run]: { result: 0, loadTime: 1000 + run } }, run)
      }
      expect((yield* wpt.status(testId)).statusCode).toBe(200)
      expect((yield* wpt.result(testId)).successfulFVRuns).toBe(3)
      yield* t.poll(A)
      yield* t.nextStarter
      expect((yield* t.get1(one)).state).toBe("SUBMITTED")

      const unsharded = yield* setup({ disableSharding: true }, { wpt: { sharding: false }, starter: { maxTestsPerAgent: 3, maxQueueLength: 10 } })
      yield* unsharded.poll(A)
      yield* unsharded.enqueue(A, { runs: 3 })
      yield* unsharded.enqueue(A)
      yield* unsharded.starter
      expect(unsharded.fake.queueOf(A)).toHaveLength(2)
      expect(unsharded.fake.submissions).toHaveLength(2)
    }).pipe(Effect.provide(watchdogDatabase())))

  it("judges agents by getTesters: idle ones by their last poll, busy ones by their test's run limit", () => {
    const config = configFor({ wptUrl: "http://wpt" }, { starter: { agentSilentSeconds: 90, maxTestsPerAgent: 2, maxQueueLength: 3 } })
    const tester = (elapsed: number | undefined, busy = false) => ({ id: "t", pc: "p", instanceId: "", elapsed, last: undefined, busy, test: undefined })
    // whole minutes: 1 may be 119 s, so only 2 is surely past 90 s
    expect([0, 1, 2].map((m) => Liveness.isLive(config, tester(m)))).toEqual([true, true, false])
    expect(Liveness.isLive(config, tester(undefined))).toBe(false)
    expect([59, 60].map((m) => Liveness.isLive(config, tester(m, true)))).toEqual([true, false])
    const queue = { location: A, status: "OK", browsers: [], queued: 1, testing: 0, idle: 2, total: 1 }
    const rooms = Liveness.rooms(config, [queue], [{ location: A, status: "OK", elapsed: 0, testers: [tester(0), tester(0, true)] }])
    const room = rooms.get(A)!
    // 2 live agents × 2, less 1 queued and 1 running: room; a 3-run test takes it all and more
    expect(room.take(3)).toBe(true)
    expect(room.take(1)).toBe(false)
    expect(room.why()).toBe(`WPT's queue for ${A} holds 4 (maxQueueLength 3)`)
  })
})
