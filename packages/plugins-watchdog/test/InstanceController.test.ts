/**
 * The instance_controller's rules, one test each, with time driven by `TestClock`: the
 * real GCE provider (`@google-cloud/compute`) against the fake Compute Engine, the real
 * WPT client against the fake WPT server (whose clock follows the TestClock), real SQLite.
 */
import { expect, it } from "@effect/vitest"
import { JobQueue } from "@orch/core/Jobs"
import { Resources } from "@orch/core/Resources"
import { Effect, Metric, TestClock } from "effect"
import * as Gce from "../src/Gce.js"
import * as InstanceController from "../src/InstanceController.js"
import { InstanceKind, InstanceProvider } from "../src/Instances.js"
import * as Metrics from "../src/Metrics.js"
import * as Wpt from "../src/Wpt.js"
import { WptTest } from "../src/WptJob.js"
import { Fleet } from "./fakes/Fleet.js"
import { configFor, watchdogDatabaseOn } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

const A = "us-central1-a--tor--agent1"
const B = "us-central1-a--firefox--agent2"
const minute = 60_000

/** A fleet whose WPT clock is the TestClock, the controller's config over it, and helpers. */
const setup = (
  controller: Record<string, unknown> = {},
  extra: { wptKey?: string; maxRunMinutes?: number; zones?: ReadonlyArray<string> } = {}
) =>
  Effect.gen(function*() {
    let now = 0
    const fleet = yield* Effect.acquireRelease(
      Effect.promise(() =>
        new Fleet({
          wpt: {
            locations: [{ id: A, browsers: ["Tor Browser"] }, { id: B, browsers: ["Firefox"] }],
            now: () => now,
            locationKey: "lockey",
            // the watchdog's key as WPT's server key: getTesters names each busy tester's test only for it
            ...(extra.wptKey ? { apiKey: "an-ordinary-api-key", serverKey: extra.wptKey } : {}),
            maxRunMinutes: extra.maxRunMinutes ?? 60
          },
          agents: false,
          waitMs: 50
        }).start()
      ),
      (fleet) => Effect.promise(() => fleet.close())
    )
    const config = configFor({ wptUrl: fleet.wpt.url, gcePort: fleet.gce.port }, {
      provider: "gce",
      gce: { zones: extra.zones ?? [] },
      wpt: { locationKey: "lockey", ...(extra.wptKey ? { key: extra.wptKey } : {}), maxRunMinutes: extra.maxRunMinutes ?? 60 },
      controller: { bootGraceMs: 5 * minute, agentSilentMinutes: 10, idleStopMs: 10 * minute, operationTimeoutMs: 200, ...controller }
    })
    const provider = Gce.make(config)
    yield* Effect.addFinalizer(() => provider.close)
    const wpt = Wpt.make({ server: fleet.wpt.url, key: config.wpt.key, timeout: 5_000 })
    const round = InstanceController.round(config).pipe(
      Effect.provideService(InstanceProvider, provider),
      Effect.provideService(Wpt.WptClient, wpt)
    )
    const advance = (ms: number) =>
      Effect.gen(function*() {
        now += ms
        yield* TestClock.adjust(ms)
      })
    /** An agent's getwork poll, as wptagent sends it. */
    const poll = (location: string, ec2: string) =>
      Effect.promise(() =>
        fetch(`${fleet.wpt.url}/work/getwork.php?${new URLSearchParams({ location, key: "lockey", pc: location, ec2, version: "1" })}`)
          .then((r) => r.text())
      )
    const enqueue = (location: string, count = 1) =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const [zone, browser, agent] = location.split("--") as [string, string, string]
        for (let i = 0; i < count; i++) yield* queue.enqueue(WptTest, { zone, browser, agent, url: `https://example.org/${i}`, runs: 1, firstViewOnly: true, connectivity: "Native", options: {} })
      })
    const mutations = (name: string) => fleet.gce.calls.filter((c) => c.instance === name && !["get", "list"].includes(c.verb)).map((c) => c.verb)
    return { fleet, config, round, advance, poll, enqueue, mutations }
  })

const decisionCount = (decision: string, outcome: string) =>
  Effect.map(Metric.value(Metric.tagged(Metric.tagged(Metrics.decisions, "decision", decision), "outcome", outcome)), (s) => s.count)

describeBackends("instance_controller", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.scoped("creates a missing instance for waiting jobs, passing the WPT server, location and key in metadata", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const before = yield* decisionCount("create", "done")
      yield* t.enqueue(A, 2)
      yield* t.round
      const instance = t.fleet.gce.instances.get(`us-central1-a/${A}`)!
      expect(instance.status).toBe("RUNNING")
      expect(instance.metadata.wpt_data).toBe(`wpt_server=${t.fleet.wpt.url.replace("http://", "")} wpt_loc=${A} wpt_key=lockey`)
      expect((instance.body as any).machineType).toBe("zones/us-central1-a/machineTypes/n1-standard-2")
      expect((instance.body as any).disks[0].initializeParams.sourceImage).toBe("projects/test-project/global/images/wptagent-image")
      expect((instance.body as any).scheduling.preemptible).toBe(true)
      expect(t.mutations(A)).toEqual(["insert"])
      expect(t.mutations(B)).toEqual([])
      expect((yield* decisionCount("create", "done")) - before).toBe(1)
      const resource = yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))
      expect(resource.labels).toEqual({ zone: "us-central1-a", browser: "tor", agent: "agent1" })
      expect((resource.data as InstanceController.Memory).lastDecision).toContain("create: 2 job(s) waiting and no instance")
      // the next round sees it RUNNING and does nothing more
      yield* t.round
      expect(t.mutations(A)).toEqual(["insert"])
      expect((yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).state).toBe("RUNNING")
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("waits for a job's not-before time before starting anything for it", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "TERMINATED" })
      const queue = yield* JobQueue
      const later = { zone: "us-central1-a", browser: "tor", agent: "agent1", url: "https://e.org/", runs: 1, firstViewOnly: true, connectivity: "Native", options: {}, notBefore: 30 * minute }
      yield* queue.enqueue(WptTest, later, { runAt: later.notBefore })
      yield* t.round
      yield* t.advance(30 * minute - 1)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      yield* t.advance(1)
      yield* t.round
      expect(t.mutations(A)).toEqual(["start"])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("starts a stopped instance whose location has waiting jobs, and leaves one without jobs stopped", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "TERMINATED" })
      t.fleet.gce.seed({ name: B, zone: "us-central1-a", status: "TERMINATED" })
      yield* t.enqueue(A)
      yield* t.round
      expect(t.mutations(A)).toEqual(["start"])
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("RUNNING")
      expect(t.mutations(B)).toEqual([])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("stops a RUNNING instance once its location had no work for idleStopMs, not before, and not while WPT has it queued", () =>
    Effect.gen(function*() {
      const t = yield* setup({}, { zones: ["us-central1-a"] })
      const a = t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "RUNNING" })
      yield* t.poll(A, a.id)
      yield* t.round
      yield* t.advance(10 * minute - 1)
      yield* t.poll(A, a.id)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      // a test queued at WPT (not through orch) is work too
      yield* Effect.promise(() => fetch(`${t.fleet.wpt.url}/runtest.php?f=json&url=https://x.org&location=${A}`))
      yield* t.advance(1)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      // the agent takes it (after the one empty answer WPT's stale queue index gives) and finishes
      expect(yield* t.poll(A, a.id)).toBe("")
      expect(yield* t.poll(A, a.id)).toContain("Test ID")
      const testId = t.fleet.wpt.submissions[0]!.id
      yield* Effect.promise(() => fetch(`${t.fleet.wpt.url}/work/workdone.php?id=${testId}&location=${A}&key=lockey&pc=${A}&done=1`, { method: "POST" }))
      yield* t.poll(A, a.id)
      yield* t.round
      yield* t.advance(10 * minute)
      yield* t.poll(A, a.id)
      yield* t.round
      expect(t.mutations(A)).toEqual(["stop"])
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("TERMINATED")
      const memory = (yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).data as InstanceController.Memory
      expect(memory.lastDecision).toMatch(/^stop: no work for 600 s/)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("deletes an instance stopped for deleteAfterMs without work, and never when deleteAfterMs is unset", () =>
    Effect.gen(function*() {
      const withDelete = yield* setup({ deleteAfterMs: 60 * minute })
      withDelete.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "TERMINATED" })
      yield* withDelete.enqueue(B, 0)
      // zones come from the config here: no job names one
      const zoned = { ...withDelete.config, gce: { ...withDelete.config.gce, zones: ["us-central1-a"] } }
      const round = InstanceController.round(zoned).pipe(
        Effect.provideService(InstanceProvider, Gce.make(zoned)),
        Effect.provideService(Wpt.WptClient, Wpt.make({ server: withDelete.fleet.wpt.url, timeout: 5_000 }))
      )
      yield* round
      yield* withDelete.advance(60 * minute - 1)
      yield* round
      expect(withDelete.mutations(A)).toEqual([])
      yield* withDelete.advance(1)
      yield* round
      expect(withDelete.mutations(A)).toEqual(["delete"])
      expect(withDelete.fleet.gce.instances.has(`us-central1-a/${A}`)).toBe(false)
      yield* round
      expect((yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).state).toBe("DELETED")

      const keep = yield* setup()
      keep.fleet.gce.seed({ name: B, zone: "us-central1-a", status: "TERMINATED" })
      const keepZoned = { ...keep.config, gce: { ...keep.config.gce, zones: ["us-central1-a"] } }
      const keepRound = InstanceController.round(keepZoned).pipe(
        Effect.provideService(InstanceProvider, Gce.make(keepZoned)),
        Effect.provideService(Wpt.WptClient, Wpt.make({ server: keep.fleet.wpt.url, timeout: 5_000 }))
      )
      yield* keepRound
      yield* keep.advance(1000 * minute)
      yield* keepRound
      expect(keep.mutations(B)).toEqual([])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("never touches the protected WPT server, names outside the scheme, protected names or zones it does not manage", () =>
    Effect.gen(function*() {
      const t = yield* setup({ protected: ["wpt-server", "us-central1-a--tor--keep"] })
      const zoned = { ...t.config, gce: { ...t.config.gce, zones: ["us-central1-a"] } }
      const round = InstanceController.round(zoned).pipe(
        Effect.provideService(InstanceProvider, Gce.make(zoned)),
        Effect.provideService(Wpt.WptClient, Wpt.make({ server: t.fleet.wpt.url, timeout: 5_000 }))
      )
      t.fleet.gce.seed({ name: "wpt-server", zone: "us-central1-a", status: "RUNNING" })
      t.fleet.gce.seed({ name: "database-1", zone: "us-central1-a", status: "RUNNING" })
      t.fleet.gce.seed({ name: "us-central1-a--tor--keep", zone: "us-central1-a", status: "RUNNING" })
      t.fleet.gce.seed({ name: "europe-west1-b--tor--agent1", zone: "europe-west1-b", status: "RUNNING" })
      yield* t.enqueue("europe-west1-b--tor--agent1")
      for (let i = 0; i < 5; i++) {
        yield* round
        yield* t.advance(60 * minute)
      }
      const touched = t.fleet.gce.calls.filter((c) => !["get", "list"].includes(c.verb))
      expect(touched).toEqual([])
      // a job's zone outside the managed ones is not even listed
      expect(t.fleet.gce.calls.some((c) => c.zone === "europe-west1-b")).toBe(false)
      expect(yield* Effect.flatMap(Resources, (r) => r.list({ kind: InstanceKind }))).toEqual([])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("resets a RUNNING instance past its boot grace whose agent has not polled WPT for agentSilentMinutes", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const a = t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "RUNNING" })
      yield* t.enqueue(A, 3)
      yield* t.poll(A, a.id)
      yield* t.round
      yield* t.advance(10 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      const before = yield* decisionCount("reset", "done")
      yield* t.advance(minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset"])
      expect((yield* decisionCount("reset", "done")) - before).toBe(1)
      const memory = (yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).data as InstanceController.Memory
      expect(memory.lastDecision).toBe("reset: stuck: its agent has not polled WPT for 11 min (limit 10 min)")
      expect(memory.stuckEpisode).toBe(true)
      // after the reset the agent polls again: healthy, nothing more to do
      yield* t.advance(5 * minute)
      yield* t.poll(A, a.id)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset"])
      expect(((yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).data as InstanceController.Memory).stuckEpisode).toBeUndefined()
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("judges an agent busy on one test beyond WPT's run limit stuck (getTesters last, with the test id in admin mode)", () =>
    Effect.gen(function*() {
      const t = yield* setup({ agentSilentMinutes: 500, idleStopMs: 1000 * minute }, { wptKey: "server-key", maxRunMinutes: 60, zones: ["us-central1-a"] })
      const a = t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "RUNNING" })
      yield* Effect.promise(() =>
        fetch(`${t.fleet.wpt.url}/runtest.php?f=json&url=https://x.org&location=${A}`, { headers: { "X-WPT-API-KEY": "server-key" } })
      )
      yield* t.poll(A, a.id) // the stale queue entry: an empty answer
      expect(yield* t.poll(A, a.id)).toContain("Test ID")
      const testId = t.fleet.wpt.submissions[0]!.id
      yield* t.round
      yield* t.advance(60 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      yield* t.advance(minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset"])
      const memory = (yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).data as InstanceController.Memory
      expect(memory.lastDecision).toBe(`reset: stuck: its agent ${A} has been busy on ${testId} for 61 min (run limit 60 min)`)
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("recreates an instance that stays stuck a boot grace after its reset, from the image with the same metadata", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const a = t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "RUNNING", metadata: { wpt_data: "old" } })
      yield* t.enqueue(A, 3)
      yield* t.round
      yield* t.advance(5 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset"])
      expect(((yield* Effect.flatMap(Resources, (r) => r.get(InstanceKind, A))).data as any).lastDecision).toBe(
        `reset: stuck: no agent of ${A} has polled WPT`
      )
      yield* t.advance(5 * minute - 1)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset"])
      yield* t.advance(1)
      const before = yield* decisionCount("recreate", "done")
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset", "delete", "insert"])
      expect((yield* decisionCount("recreate", "done")) - before).toBe(1)
      const recreated = t.fleet.gce.instances.get(`us-central1-a/${A}`)!
      expect(recreated.id).not.toBe(a.id)
      expect(recreated.metadata.wpt_data).toContain(`wpt_loc=${A}`)
      // the new incarnation gets its boot grace before it is judged again
      yield* t.advance(4 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["reset", "delete", "insert"])
    }).pipe(Effect.provide(watchdogDatabase())))

  it.scoped("tolerates API errors, operations still pending, WPT unreachable and unknown states, and resumes a suspended instance", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      t.fleet.gce.seed({ name: A, zone: "us-central1-a", status: "TERMINATED" })
      yield* t.enqueue(A)
      // listing fails: the round logs and returns
      t.fleet.gce.failNext.set("list", 1)
      yield* t.round
      expect(t.mutations(A)).toEqual([])
      // start fails: counted, tried again next round
      const errors = yield* decisionCount("start", "error")
      t.fleet.gce.failNext.set("start", 1)
      yield* t.round
      expect((yield* decisionCount("start", "error")) - errors).toBe(1)
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("TERMINATED")
      // the operation stays pending: the round moves on, the next sees STAGING and waits
      t.fleet.gce.holdOperations = true
      const pending = yield* decisionCount("start", "pending")
      yield* t.round
      expect((yield* decisionCount("start", "pending")) - pending).toBe(1)
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("STAGING")
      yield* t.round
      expect(t.mutations(A)).toEqual(["start", "start"])
      t.fleet.gce.release()
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("RUNNING")
      // WPT unreachable: nothing is stopped or reset however long it lasts
      t.fleet.wpt.unreachable = true
      yield* t.advance(600 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["start", "start"])
      // an unexpected status is left alone
      t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status = "SOMETHING_NEW"
      t.fleet.wpt.unreachable = false
      yield* t.advance(600 * minute)
      yield* t.round
      expect(t.mutations(A)).toEqual(["start", "start"])
      // a suspended one is resumed for its waiting job
      t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status = "SUSPENDED"
      yield* t.round
      expect(t.mutations(A)).toEqual(["start", "start", "resume"])
      expect(t.fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("RUNNING")
    }).pipe(Effect.provide(watchdogDatabase())))
})
