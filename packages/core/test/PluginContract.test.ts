/**
 * The plugin contract, through a real daemon (`Runtime.start`): a real HTTP server on
 * 127.0.0.1:0 and a real SQLite file in a temp folder, driven by fetch. Backoff runs on
 * the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { tempDir, testDaemonEnv, waitFor } from "@orch/testing"
import { Context, Deferred, Effect, Either, HashMap, Layer, Logger, LogLevel, Option, Ref, Schema, TestClock } from "effect"
import * as os from "node:os"
import * as Config from "../src/Config.js"
import * as HotRoutes from "../src/HotRoutes.js"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as JobWorker from "../src/JobWorker.js"
import * as Plugin from "../src/Plugin.js"
import { ResourceKind } from "../src/Resources.js"
import * as Runtime from "../src/Runtime.js"
import * as Supervisor from "../src/Supervisor.js"

const NoConfig = Schema.Struct({})

/** Starts core and `plugins` in the test's scope; the daemon's URL. */
const start = (plugins: ReadonlyArray<Plugin.Plugin>) =>
  Effect.gen(function*() {
    const dataDir = tempDir("orch-contract-")
    const config = yield* Config.load(plugins, { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, yield* testDaemonEnv(dataDir))
    const { info } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "test" })
    return info.url
  })

interface Answer {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: any
}

const request = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Answer> => {
    const response = await fetch(url, init)
    const text = await response.text()
    let body: unknown = text
    try {
      body = JSON.parse(text)
    } catch {
      // a text body (metrics)
    }
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body }
  })

/** Waits (on real time: the daemon's fibers and sockets need it) until `check` gives a value. */
const eventually = <A>(check: Effect.Effect<A | undefined>) => waitFor("the daemon answers as expected", check, 5_000)

const answerWith = (url: string, status: number, init?: RequestInit) =>
  eventually(Effect.map(request(url, init), (answer) => (answer.status === status ? answer : undefined)))

// -- a plugin whose services, loops and routes see each other ---------------------

class Counter extends Context.Tag("test/Counter")<Counter, { readonly ticks: Ref.Ref<number> }>() {}

class AlphaApi extends HttpApi.make("alpha").add(
  HttpApiGroup.make("alpha").add(HttpApiEndpoint.get("jobs", "/jobs").addSuccess(Schema.Struct({ ticks: Schema.Number })))
) {}

const alpha = Plugin.make({
  name: "alpha",
  description: "services reach loops and routes",
  config: NoConfig,
  services: () => Layer.effect(Counter, Effect.map(Ref.make(0), (ticks) => ({ ticks }))),
  loops: () => ({
    tick: { iteration: Effect.flatMap(Counter, (counter) => Ref.update(counter.ticks, (n) => n + 1)), every: "1 second" }
  }),
  http: () => ({
    api: AlphaApi,
    routes: Layer.mergeAll(
      HttpLayerRouter.add(
        "GET",
        "/state",
        Effect.gen(function*() {
          const counter = yield* Counter
          const context = yield* Plugin.PluginContext
          return HttpServerResponse.unsafeJson({ ticks: yield* Ref.get(counter.ticks), name: context.name, owner: context.ownerId })
        })
      ),
      // a relative path that core's own API has too (`/jobs`): each stays where it belongs
      HttpLayerRouter.addHttpApi(AlphaApi).pipe(Layer.provide(HttpApiBuilder.group(AlphaApi, "alpha", (handlers) =>
        handlers.handle("jobs", () => Effect.map(Counter, (counter) => counter.ticks).pipe(Effect.flatMap(Ref.get), Effect.map((ticks) => ({ ticks }))))
      )))
    )
  })
})

describe("plugin contract", () => {
  it.scoped("services reach the loops and the routes, mounted under /<name>/ with the plugin's context", () =>
    Effect.gen(function*() {
      const url = yield* start([alpha])
      const first = yield* answerWith(`${url}/alpha/state`, 200)
      expect(first.body).toMatchObject({ name: "alpha", owner: `${os.hostname()}:${process.pid}:alpha` })
      // the loop's first iteration runs at once, the next ones every second of the TestClock
      const once = yield* eventually(Effect.map(request(`${url}/alpha/state`), (a) => (a.body.ticks >= 1 ? a.body.ticks : undefined)))
      yield* TestClock.adjust("3 seconds")
      yield* eventually(Effect.map(request(`${url}/alpha/state`), (a) => (a.body.ticks >= once + 3 ? true : undefined)))
      // the plugin's HttpApi route is under /alpha, core's /jobs is core's, and OpenAPI shows both so
      const jobs = yield* request(`${url}/alpha/jobs`)
      expect(jobs.status).toBe(200)
      expect(jobs.body.ticks).toBeGreaterThanOrEqual(once + 3)
      expect(Array.isArray((yield* request(`${url}/jobs`)).body)).toBe(true)
      expect((yield* request(`${url}/state`)).status).toBe(404)
      const paths = Object.keys((yield* request(`${url}/openapi.json`)).body.paths)
      expect(paths).toEqual(expect.arrayContaining(["/jobs", "/alpha/jobs"]))
    }))

  it.scoped("routes answer 503 with Retry-After while the services start, then serve", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const slow = Plugin.make({
        name: "slow",
        description: "services that wait for the test",
        config: NoConfig,
        services: () => Layer.effect(Counter, Effect.zipRight(Deferred.await(gate), Effect.map(Ref.make(7), (ticks) => ({ ticks })))),
        http: () => ({ routes: HttpLayerRouter.add("GET", "/ping", Effect.map(Counter, () => HttpServerResponse.text("pong"))) })
      })
      const url = yield* start([slow])
      const starting = yield* request(`${url}/slow/ping`)
      expect(starting).toMatchObject({ status: 503, retryAfter: "1", body: { error: "the slow is starting", plugin: "slow" } })
      const ready = yield* request(`${url}/readyz`)
      expect(ready.status).toBe(503)
      expect(ready.body.loops).toEqual(expect.arrayContaining([expect.objectContaining({ name: "slow:services", starting: true })]))
      // an unknown path under the plugin is still core's JSON 404
      expect((yield* request(`${url}/slow/nope`)).status).toBe(404)
      yield* Deferred.succeed(gate, undefined)
      const served = yield* answerWith(`${url}/slow/ping`, 200)
      expect(served.body).toBe("pong")
      expect((yield* answerWith(`${url}/readyz`, 200)).body.status).toBe("ready")
    }))

  it.scoped("a plugin whose services fail is restarted with backoff and reported, while another keeps serving", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const flaky = Plugin.make({
        name: "flaky",
        description: "services that fail twice",
        config: NoConfig,
        services: () =>
          Layer.effect(
            Counter,
            Effect.gen(function*() {
              const attempt = yield* Ref.updateAndGet(attempts, (n) => n + 1)
              if (attempt < 3) return yield* Effect.fail(new Error(`flaky broke (attempt ${attempt})`))
              return { ticks: yield* Ref.make(attempt) }
            })
          ),
        http: () => ({ routes: HttpLayerRouter.add("GET", "/ping", Effect.map(Counter, () => HttpServerResponse.text("pong"))) })
      })
      const url = yield* start([alpha, flaky])
      const failed = yield* eventually(Effect.map(request(`${url}/flaky/ping`), (a) => (a.body?.error === "flaky broke (attempt 1)" ? a : undefined)))
      expect(failed).toMatchObject({ status: 503, retryAfter: "1", body: { plugin: "flaky", restarts: 1 } })
      expect((yield* answerWith(`${url}/alpha/state`, 200)).body.name).toBe("alpha")
      const degraded = yield* request(`${url}/readyz`)
      expect(degraded.status).toBe(503)
      expect(degraded.body.loops).toEqual(expect.arrayContaining([
        expect.objectContaining({ name: "flaky:services", consecutiveFailures: 1, lastError: "flaky broke (attempt 1)" })
      ]))
      // backoff: 200 ms after the first failure, 400 ms after the second
      yield* TestClock.adjust("200 millis")
      yield* eventually(Effect.map(request(`${url}/flaky/ping`), (a) => (a.body?.error === "flaky broke (attempt 2)" ? a : undefined)))
      yield* TestClock.adjust("200 millis")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("200 millis")
      expect((yield* answerWith(`${url}/flaky/ping`, 200)).body).toBe("pong")
      expect(yield* Ref.get(attempts)).toBe(3)
      // serving again, but it failed twice: not ready until it has stayed up a while
      const flapping = yield* request(`${url}/readyz`)
      expect(flapping.status).toBe(503)
      expect(flapping.body.loops).toEqual(expect.arrayContaining([
        expect.objectContaining({ name: "flaky:services", consecutiveFailures: 0, recentFailures: 2, running: true })
      ]))
      yield* TestClock.adjust(Supervisor.stableAfter)
      expect((yield* answerWith(`${url}/readyz`, 200)).body.status).toBe("ready")
      const metrics = (yield* request(`${url}/metrics`)).body as string
      expect(metrics).toContain(`orch_loop_restarts_total{loop="flaky:services"} 2`)
    }))

  it.scoped("a restart stops the services and loops and builds them again; collectors they added go with them", () =>
    Effect.gen(function*() {
      const builds = yield* Ref.make(0)
      const loopRuns = yield* Ref.make<ReadonlyArray<number>>([])
      class Build extends Context.Tag("test/Build")<Build, number>() {}
      const gauge = Plugin.make({
        name: "gauge",
        description: "a collector per build",
        config: NoConfig,
        services: () =>
          Layer.scoped(
            Build,
            Effect.gen(function*() {
              const build = yield* Ref.updateAndGet(builds, (n) => n + 1)
              const context = yield* Plugin.PluginContext
              yield* context.addCollector(Effect.succeed([{
                name: "orch_test_gauge_build",
                help: "the build of the gauge's services",
                type: "gauge" as const,
                labels: { build: String(build) },
                value: 1
              }]))
              return build
            })
          ),
        loops: () => ({
          mark: { iteration: Effect.flatMap(Build, (build) => Ref.update(loopRuns, (runs) => [...runs, build])), every: "1 second" }
        }),
        http: () => ({
          routes: HttpLayerRouter.add(
            "POST",
            "/restart",
            Effect.zipRight(
              Effect.flatMap(Plugin.PluginContext, (context) => context.restart("asked by the test")),
              Effect.succeed(HttpServerResponse.empty({ status: 202 }))
            )
          )
        })
      })
      const url = yield* start([gauge])
      yield* eventually(Effect.map(request(`${url}/metrics`), (a) => (String(a.body).includes(`orch_test_gauge_build{build="1"} 1`) ? true : undefined)))
      expect((yield* request(`${url}/gauge/restart`, { method: "POST" })).status).toBe(202)
      // the restart counts as a failure: the services come back after the first backoff
      yield* eventually(Effect.map(request(`${url}/readyz`), (a) => (a.status === 503 ? true : undefined)))
      yield* TestClock.adjust("200 millis")
      const text = yield* eventually(Effect.map(request(`${url}/metrics`), (a) => {
        const body = String(a.body)
        return body.includes(`orch_test_gauge_build{build="2"} 1`) ? body : undefined
      }))
      expect(text).not.toContain(`build="1"`)
      expect(yield* Ref.get(builds)).toBe(2)
      // the loop ran on the first build, stopped with it, and runs on the second
      const runs = yield* eventually(Effect.map(Ref.get(loopRuns), (r) => (r.includes(2) ? r : undefined)))
      expect(runs[0]).toBe(1)
      expect(runs.slice(runs.indexOf(2))).not.toContain(1)
      const ready = yield* answerWith(`${url}/readyz`, 200)
      expect(ready.body.loops).toEqual(expect.arrayContaining([
        expect.objectContaining({ name: "gauge:services", lastError: "asked by the test", restarts: 1 })
      ]))
    }))
})

describe("plugin job workers and hot routes", () => {
  const Chore = JobKind.simple({
    plugin: "crew",
    name: "chore",
    payload: Schema.Struct({ n: Schema.Number }),
    result: Schema.Struct({ n: Schema.Number, base: Schema.Number })
  })

  it.scoped("a worker runs each job with the plugin's services, claims as its owner id and wakes on enqueue", () =>
    Effect.gen(function*() {
      const crew = Plugin.make({
        name: "crew",
        description: "a job worker on the plugin's services",
        config: NoConfig,
        jobKinds: [Chore],
        services: () => Layer.effect(Counter, Effect.map(Ref.make(100), (ticks) => ({ ticks }))),
        workers: () => [
          JobWorker.make({
            kind: Chore,
            concurrency: 4,
            // the poll never fires on the TestClock: only the enqueue's wake-up runs the jobs
            pollInterval: "1 hour",
            handler: (job) =>
              Effect.gen(function*() {
                const counter = yield* Counter
                if (job.payload.n < 0) return yield* JobWorker.failNonRetryable("negative")
                return { n: job.payload.n, base: yield* Ref.get(counter.ticks) }
              })
          })
        ],
        http: () => ({
          routes: HttpLayerRouter.add(
            "POST",
            "/chores/:n",
            Effect.gen(function*() {
              const { params } = yield* HttpLayerRouter.RouteContext
              const queue = yield* JobQueue
              const { job } = yield* queue.enqueue(Chore, { n: Number(params.n) })
              return HttpServerResponse.unsafeJson({ id: job.id })
            }).pipe(Effect.orDie)
          )
        })
      })
      const url = yield* start([crew])
      const ids: Array<number> = []
      for (const n of [1, 2, -1]) ids.push((yield* answerWith(`${url}/crew/chores/${n}`, 200, { method: "POST" })).body.id)
      const done = yield* eventually(Effect.map(request(`${url}/jobs/${ids[1]}`), (a) => (a.body?.job?.state === "succeeded" ? a.body : undefined)))
      expect(done.job.result).toEqual({ n: 2, base: 100 })
      const dead = yield* eventually(Effect.map(request(`${url}/jobs/${ids[2]}`), (a) => (a.body?.job?.state === "dead" ? a.body : undefined)))
      expect(dead.job.lastError).toContain("negative")
      // the change was made under the lease of the plugin's owner id
      const owner = `${os.hostname()}:${process.pid}:crew`
      expect(done.history.at(-1)).toMatchObject({ from: "queued", to: "succeeded", owner })
      expect((yield* request(`${url}/jobs/${ids[0]}`)).body.job.state).toBe("succeeded")
      const ready = yield* answerWith(`${url}/readyz`, 200)
      expect(ready.body.loops).toEqual(expect.arrayContaining([expect.objectContaining({ name: "crew:worker:chore", running: true })]))
    }))

  it.scoped("a plugin's hot route is mounted under /<name>/, has its services and answers 503 while they start", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const quick = Plugin.make({
        name: "quick",
        description: "a hot route on services that wait for the test",
        config: NoConfig,
        services: () => Layer.effect(Counter, Effect.zipRight(Deferred.await(gate), Effect.map(Ref.make(5), (ticks) => ({ ticks })))),
        http: () => ({
          routes: HotRoutes.add({
            method: "GET",
            path: "/ticks",
            handle: () =>
              Effect.gen(function*() {
                const counter = yield* Counter
                const context = yield* Plugin.PluginContext
                return HotRoutes.json({ ticks: yield* Ref.get(counter.ticks), plugin: context.name })
              })
          })
        })
      })
      const url = yield* start([quick])
      const starting = yield* request(`${url}/quick/ticks`)
      expect(starting).toMatchObject({ status: 503, retryAfter: "1", body: { error: "the quick is starting", plugin: "quick" } })
      expect((yield* request(`${url}/ticks`)).status).toBe(404)
      yield* Deferred.succeed(gate, undefined)
      expect((yield* answerWith(`${url}/quick/ticks`, 200)).body).toEqual({ ticks: 5, plugin: "quick" })
    }))
})

describe("plugin logs", () => {
  it.scoped("everything a plugin's services, loops and routes log says which plugin it is", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly message: string; readonly plugin: unknown }> = []
      const logger = Logger.make(({ annotations, message }) => {
        lines.push({ message: String(message), plugin: HashMap.get(annotations, "plugin").pipe(Option.getOrUndefined) })
      })
      const talker = Plugin.make({
        name: "talker",
        description: "logs from each of its parts",
        config: NoConfig,
        services: () => Layer.effectDiscard(Effect.logInfo("talker services up")),
        loops: () => ({ say: { iteration: Effect.logInfo("talker loop ran"), every: "1 hour" } }),
        http: () => ({
          routes: HttpLayerRouter.add("GET", "/say", Effect.as(Effect.logInfo("talker route hit"), HttpServerResponse.text("said")))
        })
      })
      const url = yield* start([talker]).pipe(Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      yield* answerWith(`${url}/talker/say`, 200)
      const said = yield* eventually(Effect.sync(() => {
        const mine = lines.filter((line) => line.message.startsWith("talker "))
        return mine.length >= 3 ? mine : undefined
      }))
      expect(said.map((line) => line.message).sort()).toEqual(["talker loop ran", "talker route hit", "talker services up"])
      expect(said.every((line) => line.plugin === "talker")).toBe(true)
    }))
})

describe("plugin checks at daemon start", () => {
  const Task = JobKind.simple({ plugin: "other", name: "task", payload: Schema.Struct({}), result: Schema.Struct({}) })
  const Box = ResourceKind.make({ plugin: "other", name: "box", states: ["ready"], initial: "ready", leasable: ["ready"] })

  it("a kind must belong to the plugin that declares it", () => {
    const mine = Plugin.make({ name: "mine", description: "", config: NoConfig, jobKinds: [Task], resourceKinds: [Box] })
    expect(Plugin.problems(mine)).toEqual([
      `its job kind "task" says it belongs to plugin "other"`,
      `its resource kind "box" says it belongs to plugin "other"`
    ])
  })

  it("migrations may create, alter and drop only tables and indexes named <plugin>_", () => {
    const good = Plugin.make({
      name: "device-lab",
      description: "",
      config: NoConfig,
      migrations: {
        "1_create": `CREATE TABLE IF NOT EXISTS "device_lab_items" (id INTEGER); -- not orch_jobs
CREATE UNIQUE INDEX device_lab_items_id ON device_lab_items (id);`,
        "2_alter": ["ALTER TABLE main.device_lab_items ADD COLUMN note TEXT"]
      }
    })
    expect(Plugin.problems(good)).toEqual([])
    const bad = Plugin.make({
      name: "mine",
      description: "",
      config: NoConfig,
      migrations: {
        "1_create": "CREATE TABLE mine_items (id INTEGER);\nCREATE TABLE jobs (id INTEGER);\ncreate index mine_x on orch_jobs (state);",
        "2_drop": "DROP TABLE IF EXISTS `orch_jobs`"
      }
    })
    expect(Plugin.problems(bad)).toEqual([
      `its migration 1_create touches the table "jobs", which is not named mine_…`,
      `its migration 1_create touches the table "orch_jobs", which is not named mine_…`,
      `its migration 2_drop touches the table "orch_jobs", which is not named mine_…`
    ])
  })

  it.scoped("the daemon refuses to start, naming the plugin and what is wrong", () =>
    Effect.gen(function*() {
      const mine = Plugin.make({
        name: "mine",
        description: "",
        config: NoConfig,
        jobKinds: [Task],
        migrations: { "1_create": "CREATE TABLE orch_sneaky (id INTEGER)" }
      })
      const result = yield* Effect.either(start([alpha, mine]))
      expect(Either.isLeft(result) && result.left).toMatchObject({
        _tag: "PluginError",
        message: `plugin "mine": its job kind "task" says it belongs to plugin "other"; plugin "mine": its migration 1_create touches the table "orch_sneaky", which is not named mine_…`
      })
    }))

  it("one reserved-name list: no plugin takes a path core serves at the root", () => {
    for (const name of ["core", "healthz", "readyz", "metrics", "docs", "jobs", "resources"]) {
      expect(() => Plugin.make({ name, description: "", config: NoConfig })).toThrow(/must be/)
    }
  })
})
