import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as path from "node:path"
import * as Scheduler from "../src/Scheduler.js"
import * as Settings from "../src/Settings.js"
import * as Stores from "../src/Stores.js"
import { tempDir } from "@orch/testing"
import { nodeScript, writeDescriptor } from "./helpers.js"

const engine = (options: Partial<Settings.SchedulerConfig> = {}, uid?: number) => {
  const dir = tempDir()
  const descriptors = path.join(dir, "descriptors")
  writeDescriptor(descriptors, "chatty", {
    command: nodeScript(`console.error("DEBUG detail"); console.error("INFO progress"); console.log(JSON.stringify({ latency: 0.5 }))`)
  })
  const config: Settings.SchedulerConfig = { ...Settings.SchedulerConfigDefaults, descriptors, bundled: false, ...options }
  return Scheduler.makeEngine(config, { dataDir: path.join(dir, "data"), speedTestUrl: "http://127.0.0.1:1/", uid })
}

describe("the engine", () => {
  it.scoped("a run stores its result at its start time and its lines in the log; DEBUG lines only with verbose=1", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine()
      const events: Array<Scheduler.RunEvent> = []
      const outcome = yield* scheduler.execute(7, "chatty", {}, (event) => Effect.sync(() => events.push(event)))
      expect(outcome).toMatchObject({ status: "ok", result: { latency: 0.5 } })
      const [row] = yield* scheduler.stores.data.select({ limit: 1 })
      expect(row).toMatchObject({ timestamp_msec: outcome.timestampMsec, test_name: "chatty" })
      // what the test printed, with Neubot's columns around it
      expect(JSON.parse(row!.json)).toEqual({
        latency: 0.5,
        uuid: (yield* scheduler.settings).uuid,
        internal_address: "",
        real_address: "",
        remote_address: "",
        privacy_informed: 1,
        privacy_can_collect: 1,
        privacy_can_publish: 1,
        platform: process.platform,
        neubot_version: "0.005000000",
        test_version: 1
      })
      expect(events.filter((e) => e._tag === "Line").map((e) => (e as { message: string }).message)).toContain("chatty: detail")
      expect(events.at(-1)).toEqual({ _tag: "Done", runId: 7, status: "ok", reason: undefined })
      const stored = () => scheduler.stores.log.select({ severities: [...Stores.Severities], newestFirst: false, limit: 100 })
      expect((yield* stored()).map((l) => l.message)).not.toContain("chatty: detail")
      expect((yield* stored()).map((l) => l.message)).toContain("chatty: progress")

      yield* scheduler.updateSettings([["verbose", "1"]])
      yield* scheduler.execute(8, "chatty", {}, () => Effect.void)
      expect((yield* stored()).filter((l) => l.severity === "DEBUG").map((l) => l.message)).toEqual(["chatty: detail"])
    }))

  it.scoped("a run of a test that is gone is stored as failed with the reason", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine()
      const outcome = yield* scheduler.execute(1, "vanished", {}, () => Effect.void)
      expect(outcome).toMatchObject({ status: "failed", reason: "No such test: vanished (tests: chatty)" })
      const [row] = yield* scheduler.stores.data.select({ limit: 1 })
      expect(JSON.parse(row!.json)).toMatchObject({ status: "failed", reason: "No such test: vanished (tests: chatty)", exit_code: null, signal: null, remote_address: "" })
    }))

  it.scoped("without consent (privacy.* not all 1) a run does not start and nothing is stored", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine({ privacy: { informed: true, canCollect: true, canPublish: false } })
      const events: Array<Scheduler.RunEvent> = []
      const outcome = yield* scheduler.execute(1, "chatty", {}, (event) => Effect.sync(() => events.push(event)))
      expect(outcome).toMatchObject({ status: "failed", reason: Scheduler.privacyRefusal })
      expect(yield* scheduler.stores.data.select({ limit: 10 })).toEqual([])
      expect(events.at(-1)).toEqual({ _tag: "Done", runId: 1, status: "failed", reason: Scheduler.privacyRefusal })
      const warnings = yield* scheduler.stores.log.select({ severities: ["WARNING"], newestFirst: false, limit: 10 })
      expect(warnings.map((w) => w.message)).toEqual([`runner: test chatty not run: ${Scheduler.privacyRefusal}`])
      // consent is given, not taken back
      const refused = yield* Effect.flip(scheduler.updateSettings([["privacy.informed", "0"]]))
      expect(refused.message).toBe("Invalid privacy.informed=0: Passed invalid privacy settings")
      yield* scheduler.updateSettings([["privacy.can_publish", "1"]])
      expect((yield* scheduler.execute(2, "chatty", {}, () => Effect.void)).status).toBe("ok")
    }))

  it.scoped("settings: all or none, cast back to integers, a lower max_database_size applies at once", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine()
      const refused = yield* Effect.flip(scheduler.updateSettings([["enabled", "0"], ["max_database_size", "1e6"]]))
      expect(refused.message).toBe("Cannot cast \"1e6\" to an integer for max_database_size")
      expect((yield* scheduler.settings).enabled).toBe(1)

      for (let i = 0; i < 400; i++) yield* scheduler.stores.log.insert("INFO", `filler ${i} ${"z".repeat(400)}`)
      const before = (yield* scheduler.stores.sizes).log
      expect(before).toBeGreaterThan(100_000)
      const after = yield* scheduler.updateSettings([["enabled", "0"], ["max_database_size", "65536"]])
      expect(after).toMatchObject({ enabled: 0, max_database_size: 65536 })
      expect((yield* scheduler.stores.sizes).log).toBeLessThanOrEqual(65536)
      const newest = yield* scheduler.stores.log.select({ severities: ["INFO"], newestFirst: true, limit: 2 })
      expect(newest.map((l) => l.message)).toEqual(["config: enabled=0, max_database_size=65536", expect.stringMatching(/^filler 399 /)])
    }))

  it.scoped("a run interrupted by orch stopping is killed and stored as failed", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine()
      writeDescriptor(scheduler.config.descriptors, "forever", { command: nodeScript(`console.error("INFO up"); setInterval(() => {}, 1000)`) })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(scheduler.execute(1, "forever", {}, (event) =>
        event._tag === "Line" && event.message === "forever: up" ? Deferred.succeed(started, undefined) : Effect.void))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      const [row] = yield* scheduler.stores.data.select({ test: "forever", limit: 1 })
      expect(JSON.parse(row!.json)).toMatchObject({ status: "failed", reason: "interrupted: orch stopped while the test ran" })
    }))

  it.scoped("orch as root with a missing runAs user: refused, or with allowRoot a warning at every run", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(engine({ runAs: "no-such-user-4711" }, 0))
      expect((refused as Scheduler.SchedulerError).message).toMatch(/^the scheduler will not start: orch runs as root and tests must not, but no user "no-such-user-4711"/)
      const scheduler = yield* engine({ runAs: "no-such-user-4711", allowRoot: true }, 0)
      expect(scheduler.identity._tag).toBe("Root")
      for (let i = 0; i < 2; i++) yield* scheduler.execute(i, "chatty", {}, () => Effect.void)
      const warnings = yield* scheduler.stores.log.select({ severities: ["WARNING"], newestFirst: false, limit: 10 })
      expect(warnings.map((w) => w.message)).toEqual([
        expect.stringMatching(/^runner: test chatty runs as root \(scheduler\.allowRoot is set: no user "no-such-user-4711"/),
        expect.stringMatching(/^runner: test chatty runs as root/)
      ])
    }))

  it.scoped("the TUI reads each test's newest result from the data store", () =>
    Effect.gen(function*() {
      const scheduler = yield* engine()
      expect(yield* Stores.latestResults(path.join(tempDir(), "none"))).toEqual([])
      yield* scheduler.execute(1, "chatty", {}, () => Effect.void)
      const second = yield* scheduler.execute(2, "chatty", {}, () => Effect.void)
      const rows = yield* Stores.latestResults(scheduler.stores.dir)
      expect(rows.map((r) => [r.test_name, r.timestamp_msec])).toEqual([["chatty", second.timestampMsec]])
    }))
})
