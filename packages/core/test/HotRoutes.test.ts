import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import * as http from "node:http"
import * as Config from "../src/Config.js"
import * as HotRoutes from "../src/HotRoutes.js"
import * as Http from "../src/Http.js"
import { DaemonInfo } from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"
import { Supervisor } from "../src/Supervisor.js"
import * as SupervisorModule from "../src/Supervisor.js"
import { tempDir, testDaemonEnv } from "@orch/testing"

/** A service the test plugin's routes use: a hot route reaches what its layer was built with. */
class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}

const maxBodyBytes = 1024

/** Core's tokens: "good" acts as alice (operate); "bad" may only read. */
const tokens = [
  { name: "alice", token: Redacted.make("good-token-of-alice"), role: "operate" as const },
  { name: "reader", token: Redacted.make("bad-token-of-a-reader"), role: "read" as const }
]

const itemRoute = HotRoutes.add({
  method: "POST",
  path: "/t/items/:id",
  body: { schema: Schema.Struct({ count: Schema.Number }) },
  handle: ({ body, caller, params }) => {
    // a handler that throws instead of returning an effect
    if (body.count === 14) throw new Error("thrown while building the handler's effect")
    return Effect.gen(function*() {
      if (body.count < 0) return yield* HotRoutes.fail(422, "count: must not be negative", { field: "count" })
      if (body.count === 13) return yield* Effect.dieMessage("unlucky")
      const greeting = yield* Greeting
      return HotRoutes.json({ id: params.id, count: body.count, who: caller.name, greeting })
    })
  }
})

const plugin = {
  name: "t",
  http: {
    routes: Layer.mergeAll(
      itemRoute,
      HttpLayerRouter.add("GET", "/t/effect", HttpServerResponse.unsafeJson({ via: "effect" })),
      HttpLayerRouter.add("POST", "/t/items", HttpServerResponse.unsafeJson({ via: "effect" }))
    ).pipe(Layer.provide(Layer.succeed(Greeting, "hello")))
  }
}

/** Core's real server (Http.listen + Http.serve) on 127.0.0.1 port 0, with the test plugin mounted. */
const server = Layer.unwrapEffect(Effect.gen(function*() {
  const dataDir = tempDir()
  const config = yield* Effect.orDie(Config.load([], { dataDir, httpPort: 0, set: [`core.http.maxBodyBytes=${maxBodyBytes}`] }, yield* testDaemonEnv(dataDir)))
  return Http.serve(config.core.http, [{ name: plugin.name, routes: plugin.http.routes }], "test").pipe(
    Layer.provideMerge(Http.listen(config.core.http, { startedAt: Date.now(), plugins: ["t"], access: { tokens, rules: [] } })),
    Layer.provideMerge(SupervisorModule.layer),
    Layer.provideMerge(Runtime.coreLayer(config, []))
  )
}))

interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
}

const readerHeaders = { authorization: "Bearer bad-token-of-a-reader" }

/** One request with node:http (chunked when `chunks` is given: no Content-Length). */
const request = (
  url: string,
  options: { readonly method?: string; readonly headers?: Record<string, string>; readonly body?: string; readonly chunks?: ReadonlyArray<string> } = {}
) =>
  Effect.promise(() =>
    new Promise<Answer>((resolve, reject) => {
      const req = http.request(url, { method: options.method ?? "GET", headers: options.headers ?? readerHeaders, agent: false }, (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk) => text += chunk)
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text === "" ? undefined : JSON.parse(text) }))
      })
      // the server may answer (413) and close before the whole body is sent
      req.on("error", (error: NodeJS.ErrnoException) => error.code === "ECONNRESET" || error.code === "EPIPE" ? undefined : reject(error))
      if (options.chunks !== undefined) for (const chunk of options.chunks) req.write(chunk)
      req.end(options.body)
    })
  )

const json = (body: unknown, token = "good") => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(token === "" ? {} : { authorization: `Bearer ${token}-token-of-${token === "good" ? "alice" : "a-reader"}` }) },
  body: JSON.stringify(body)
})

const metricLine = (text: string, name: string, labels: string) =>
  Number(text.split("\n").find((line) => line.startsWith(`${name}{${labels}}`))?.split(" ").at(-1) ?? 0)

describe("HotRoutes", () => {
  it.scopedLive("serves a hot route with its params, decoded body, caller and layer's services", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      const ok = yield* request(`${url}/t/items/a%20b`, json({ count: 2 }))
      expect(ok.status).toBe(200)
      expect(ok.headers["content-type"]).toBe("application/json")
      expect(ok.body).toEqual({ id: "a b", count: 2, who: "alice", greeting: "hello" })
      const healthz = yield* request(`${url}/healthz`)
      expect(healthz).toMatchObject({ status: 200, body: { status: "ok" } })
    }).pipe(Effect.provide(server)))

  it.scopedLive("refuses a body over the limit with 413, declared or chunked", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      const declared = yield* request(`${url}/t/items/x`, json({ count: 1, pad: "x".repeat(maxBodyBytes) }))
      expect(declared.status).toBe(413)
      expect(declared.body.error).toContain("over the limit")
      const chunked = yield* request(`${url}/t/items/x`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer good-token-of-alice" },
        chunks: ["{\"count\": 1, \"pad\": \"", ..."y".repeat(maxBodyBytes).match(/.{1,100}/g)!, "\"}"]
      })
      expect(chunked.status).toBe(413)
      expect(chunked.body.error).toContain("over the limit")
    }).pipe(Effect.provide(server)))

  it.scopedLive("answers 400 naming the field for a body its Schema refuses", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      const wrong = yield* request(`${url}/t/items/x`, json({ count: "two" }))
      expect(wrong.status).toBe(400)
      expect(wrong.body.field).toBe("count")
      expect(wrong.body.error).toMatch(/^count: /)
      const missing = yield* request(`${url}/t/items/x`, json({}))
      expect(missing.body).toEqual({ error: "count: is required", field: "count" })
      const unknown = yield* request(`${url}/t/items/x`, json({ count: 1, extra: true }))
      expect(unknown.body).toEqual({ error: "extra: unknown field", field: "extra" })
      const notJson = yield* request(`${url}/t/items/x`, { ...json({}), body: "{nope" })
      expect(notJson.status).toBe(400)
      expect(notJson.body.error).toContain("not JSON")
    }).pipe(Effect.provide(server)))

  it.scopedLive("refuses through core's gate (401, 403, 415) before reading the body; handler errors keep core's shape", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      const none = yield* request(`${url}/t/items/x`, json({ count: 1 }, ""))
      expect(none.status).toBe(401)
      expect(none.headers["www-authenticate"]).toBe("Bearer realm=\"orch\"")
      expect(none.body.error).toContain("bearer token")
      const bad = yield* request(`${url}/t/items/x`, json("not even a valid body", "bad"))
      expect(bad).toMatchObject({ status: 403, body: { needed: "operate", role: "read" } })
      const plain = yield* request(`${url}/t/items/x`, { ...json({ count: 1 }), headers: { ...json({}).headers, "content-type": "text/plain" } })
      expect(plain.status).toBe(415)
      const refused = yield* request(`${url}/t/items/x`, json({ count: -1 }))
      expect(refused).toMatchObject({ status: 422, body: { error: "count: must not be negative", field: "count" } })
      const defect = yield* request(`${url}/t/items/x`, json({ count: 13 }))
      expect(defect).toMatchObject({ status: 500, body: { error: "internal error: see the daemon's log" } })
      const thrown = yield* request(`${url}/t/items/x`, json({ count: 14 }))
      expect(thrown).toMatchObject({ status: 500, body: { error: "internal error: see the daemon's log" } })
    }).pipe(Effect.provide(server)))

  it.scopedLive("counts its requests in the same metrics as the Effect routes", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      // the metrics are the process's: count what this test adds
      const scrape = Effect.promise(() => fetch(`${url}/metrics`).then((r) => r.text()))
      const before = yield* scrape
      const added = (text: string, name: string, labels: string) => metricLine(text, name, labels) - metricLine(before, name, labels)
      for (let i = 0; i < 3; i++) yield* request(`${url}/t/items/x`, json({ count: i }))
      yield* request(`${url}/t/items/x`, json({ count: 1 }, ""))
      yield* request(`${url}/t/effect`, { headers: json({}).headers })
      const metrics = yield* scrape
      expect(added(metrics, "orch_http_requests_total", `method="POST",path="/t",status="200"`)).toBe(3)
      expect(added(metrics, "orch_http_requests_total", `method="POST",path="/t",status="401"`)).toBe(1)
      expect(added(metrics, "orch_http_requests_total", `method="GET",path="/t",status="200"`)).toBe(1)
      expect(added(metrics, "orch_http_request_duration_seconds_count", `method="POST",path="/t"`)).toBe(4)
    }).pipe(Effect.provide(server)))

  it.scopedLive("leaves every other request to the Effect router", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      expect(yield* request(`${url}/t/effect`, { headers: json({}).headers })).toMatchObject({ status: 200, body: { via: "effect" } })
      // same path, other method; same method, other path
      expect(yield* request(`${url}/t/items`, json({ count: 1 }))).toMatchObject({ status: 200, body: { via: "effect" } })
      const get = yield* request(`${url}/t/items/x`, { headers: json({}).headers })
      expect(get.status).toBe(404)
      expect(get.body.error).toContain("no route for GET /t/items/x")
      expect((yield* request(`${url}/readyz`)).status).toBe(200)
      // a malformed escape in a parameter is not the hot route's to answer, and does not end the process
      expect((yield* request(`${url}/t/items/%E0%A4%A`, json({ count: 1 }))).status).toBe(404)
      expect((yield* request(`${url}/healthz`)).status).toBe(200)
    }).pipe(Effect.provide(server)))

  it.scopedLive("answers 503 once shutdown begins", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      expect((yield* request(`${url}/healthz`)).status).toBe(200)
      const supervisor = yield* Supervisor
      yield* supervisor.drain("1 second")
      const healthz = yield* request(`${url}/healthz`)
      expect(healthz).toMatchObject({ status: 503, body: { error: "the daemon is shutting down" } })
      expect((yield* request(`${url}/t/items/x`, json({ count: 1 }))).status).toBe(503)
    }).pipe(Effect.provide(server)))

  it.scopedLive("mounts a route declared relative to its plugin under the prefix it is given", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      yield* Layer.build(
        HotRoutes.add({ method: "GET", path: "/relative", handle: () => Effect.succeed(HotRoutes.json({ mounted: true })) }).pipe(
          Layer.provide(HotRoutes.prefixed("/t"))
        )
      )
      expect(yield* request(`${url}/t/relative`)).toMatchObject({ status: 200, body: { mounted: true } })
      expect((yield* request(`${url}/relative`)).status).toBe(404)
    }).pipe(Effect.provide(server)))

  it.scopedLive("removes a route when the scope that added it closes", () =>
    Effect.gen(function*() {
      const { url } = yield* DaemonInfo
      const scope = yield* Scope.make()
      yield* Layer.buildWithScope(
        HotRoutes.add({ method: "GET", path: "/t/later", handle: () => Effect.succeed(HotRoutes.json({ hot: true })) }),
        scope
      )
      expect(yield* request(`${url}/t/later`)).toMatchObject({ status: 200, body: { hot: true } })
      yield* Scope.close(scope, Exit.void)
      expect((yield* request(`${url}/t/later`)).status).toBe(404)
    }).pipe(Effect.provide(server)))
})
