/**
 * The CLI's one client of the daemon, against real HTTP servers on 127.0.0.1: what it
 * sends (the bearer token, JSON), how each failure reads, and core's `/overview` that
 * the TUI is built from, served by a real daemon (`Runtime.start`) over a SQLite file.
 */
import { describe, expect, it } from "@effect/vitest"
import { tempDir, testDaemonEnv } from "@orch/testing"
import { Effect, Either, Schema } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Config from "../src/Config.js"
import * as DaemonClient from "../src/DaemonClient.js"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** A server that records each request and answers by path; `/hang` never answers. */
const recordingServer = Effect.acquireRelease(
  Effect.async<{ url: string; seen: Array<Seen>; server: http.Server }>((resume) => {
    const seen: Array<Seen> = []
    const server = http.createServer((request, response) => {
      let body = ""
      request.on("data", (chunk) => body += chunk)
      request.on("end", () => {
        seen.push({ method: request.method!, url: request.url!, headers: request.headers, body })
        if (request.url === "/hang") return
        if (request.url === "/bad") {
          response.writeHead(400, { "content-type": "application/json" })
          return response.end(JSON.stringify({ error: "must be a positive integer\nnot -1", field: "n" }))
        }
        if (request.url === "/schema") {
          response.writeHead(400, { "content-type": "application/json" })
          return response.end(JSON.stringify({
            _tag: "HttpApiDecodeError",
            issues: [{ _tag: "Type", path: ["limit"], message: "Expected a number between 1 and 1000, actual 2000" }],
            message: "{ readonly limit?: …\n└─ [\"limit\"]\n   └─ …"
          }))
        }
        if (request.url === "/busy") {
          response.writeHead(503, { "content-type": "text/plain", "retry-after": "2" })
          return response.end("draining")
        }
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({ ok: true }))
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server })))
  }),
  ({ server }) => Effect.sync(() => server.closeAllConnections()).pipe(Effect.zipRight(Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })))
)

/** A port nothing listens on: bound once, then closed. */
const closedPort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const client = (options: DaemonClient.Options) =>
  Effect.provide(DaemonClient.DaemonClient, DaemonClient.layer(options))

describe("DaemonClient", () => {
  it.scopedLive("sends the bearer token, JSON bodies as application/json, and query parameters; decodes the JSON answer", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const daemon = yield* client({ url: `${server.url}/`, token: "s3cret" })
      expect(daemon.url).toBe(server.url)
      expect(yield* daemon.post("/jobs/1/cancel", { reason: "r" })).toEqual({ ok: true })
      yield* daemon.get("/jobs", { state: "queued", limit: 5, plugin: undefined })
      const [post, get] = server.seen
      expect(post).toMatchObject({ method: "POST", url: "/jobs/1/cancel", body: `{"reason":"r"}` })
      expect(post!.headers["authorization"]).toBe("Bearer s3cret")
      expect(post!.headers["content-type"]).toBe("application/json")
      expect(get).toMatchObject({ method: "GET", url: "/jobs?state=queued&limit=5" })
      expect(get!.headers["authorization"]).toBe("Bearer s3cret")
      expect(get!.headers["content-type"]).toBeUndefined()
    }))

  it.scopedLive("sends no Authorization header without a token", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      yield* (yield* client({ url: server.url })).get("/x")
      expect(server.seen[0]!.headers["authorization"]).toBeUndefined()
    }))

  it.scopedLive("an error answer is a DaemonError of one line, with the body's error and field", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const daemon = yield* client({ url: server.url })
      const bad = yield* Effect.flip(daemon.post("/bad", { n: -1 }))
      expect(bad).toBeInstanceOf(DaemonClient.DaemonError)
      expect(bad).toMatchObject({ status: 400, error: "must be a positive integer; not -1", field: "n" })
      expect(bad.message).toBe("POST /bad: 400 n: must be a positive integer; not -1")
      const schema = yield* Effect.flip(daemon.get("/schema"))
      expect(schema.message).toBe("GET /schema: 400 limit: Expected a number between 1 and 1000, actual 2000")
      const busy = yield* Effect.flip(daemon.get("/busy"))
      expect(busy.message).toBe("GET /busy: 503 draining (retry after 2 s)")
    }))

  it.scopedLive("no daemon: DaemonUnreachable names the URL and how to start one", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const daemon = yield* client({ url: `http://127.0.0.1:${port}` })
      const error = yield* Effect.flip(daemon.get("/jobs"))
      expect(error._tag).toBe("DaemonUnreachable")
      expect(error.message).toBe(
        `no orch daemon answers at http://127.0.0.1:${port} (connection refused); start one with \`orch run\`, or give its address with --url or ORCH_URL`
      )
      expect(error.message).not.toContain("\n")
    }))

  it.scopedLive("a daemon that does not answer: DaemonTimeout after the client's timeout", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const daemon = yield* client({ url: server.url, timeout: "200 millis" })
      const error = yield* Effect.flip(daemon.get("/hang"))
      expect(error._tag).toBe("DaemonTimeout")
      expect(error.message).toBe(`the orch daemon at ${server.url} did not answer GET /hang within 200ms`)
    }))
})

const Task = JobKind.simple({ plugin: "viewed", name: "task", payload: Schema.Struct({ n: Schema.Int }), result: Schema.Void })

const viewed = Plugin.make({
  name: "viewed",
  description: "a plugin with a TUI panel",
  config: Schema.Struct({}),
  jobKinds: [Task],
  tui: () => [{ name: "numbers", title: "Numbers", read: Effect.map(JobQueue, () => ({ title: "numbers", columns: ["N"], rows: [["1"], ["2"]] })) }]
})

const broken = Plugin.make({
  name: "broken",
  description: "a plugin whose panel fails",
  config: Schema.Struct({}),
  tui: () => [{ name: "today", title: "Today", read: Effect.fail("no panel today") }]
})

describe("GET /overview", () => {
  it.scopedLive("counts jobs and resources by state, the rate jobs finish at, and carries each running plugin's panels", () =>
    Effect.gen(function*() {
      const plugins = [viewed, broken]
      const dataDir = tempDir("orch-overview-")
      const config = yield* Config.load(plugins, { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, yield* testDaemonEnv(dataDir))
      const { info } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "0.0.0-test" })
      // a second process's worth of core over the same file, as `orch demo enqueue` once was
      yield* Effect.flatMap(JobQueue, (queue) =>
        Effect.gen(function*() {
          yield* queue.enqueue(Task, { n: 1 })
          yield* queue.enqueue(Task, { n: 2 })
          const third = yield* queue.enqueue(Task, { n: 3 })
          // a final state: it counts in the rates
          yield* queue.cancel(third.job.id, "test")
        })).pipe(Effect.provide(Runtime.coreLayer(config, plugins)))
      const daemon = yield* client({ url: info.url })
      const overview = yield* daemon.get<{ rates: ReadonlyArray<{ minutes: ReadonlyArray<number>; perMinute: number }> }>("/overview")
      expect(overview.rates).toHaveLength(1)
      expect(overview.rates[0]!.minutes).toHaveLength(30)
      expect(overview.rates[0]!.minutes.at(-1)).toBe(1)
      expect(overview.rates[0]!.perMinute).toBeGreaterThan(0)
      expect(overview).toEqual({
        jobs: [{ plugin: "viewed", kind: "task", state: "cancelled", count: 1 }, { plugin: "viewed", kind: "task", state: "queued", count: 2 }],
        resources: [],
        rates: [{ plugin: "viewed", kind: "task", perMinute: overview.rates[0]!.perMinute, minutes: overview.rates[0]!.minutes }],
        plugins: [
          { name: "viewed", panels: [{ title: "numbers", columns: ["N"], rows: [["1"], ["2"]] }] },
          { name: "broken", panels: [{ title: "Today: unavailable", columns: [], rows: [] }] }
        ]
      })
      const spec = yield* daemon.get<{ paths: Record<string, unknown> }>("/openapi.json")
      expect(Object.keys(spec.paths)).toContain("/overview")
      // a plugin may not take the route's name
      expect(Either.isLeft(Either.try(() => Plugin.make({ name: "overview", description: "", config: Schema.Struct({}) })))).toBe(true)
    }))
})
