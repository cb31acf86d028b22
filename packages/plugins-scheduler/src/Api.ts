/**
 * Neubot's local API with its 0.4 shapes, the status page, the descriptors listing and
 * the speed test server, as route layers: under `/scheduler` on orch's server (core mounts
 * them there), and at the root of the plugin's own listener (Neubot's 127.0.0.1/::1 port 9774).
 * As in Neubot, every `/api` path takes any method and a refused request is a 500 whose
 * reason phrase is the message (Neubot's web UI shows `statusText`), with a JSON body.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as Access from "@orch/core/Access"
import { Duration, Effect, Layer, Stream } from "effect"
import * as Descriptor from "./Descriptor.js"
import * as Results from "./Results.js"
import { Scheduler, type SchedulerService, SchedulerError, version } from "./Scheduler.js"
import * as Settings from "./Settings.js"
import * as SpeedTest from "./SpeedTest.js"
import * as StatusPage from "./StatusPage.js"
import { Severities } from "./Stores.js"

/** A reason phrase may hold visible ASCII only (Neubot stripped the rest too). */
export const reasonPhrase = (message: string) => message.replace(/[^\x20-\x7e]/g, "").slice(0, 512) || "Error"

/**
 * Neubot's error: 500 with the message as reason phrase and a JSON body. @effect/platform
 * keeps a response's `statusText`, but its Node server calls `writeHead(status, headers)`
 * without it; Node's `writeHead` then keeps a `statusMessage` already set on the response,
 * so the phrase is set there (and in `statusText`, for any other server).
 */
export const neubotError = (request: HttpServerRequest.HttpServerRequest, message: string) =>
  Effect.sync(() => {
    const phrase = reasonPhrase(message)
    try {
      NodeHttpServerRequest.toServerResponse(request).statusMessage = phrase
    } catch {
      // not a Node request: statusText is all there is
    }
    return HttpServerResponse.unsafeJson({ error: message }, { status: 500, statusText: phrase })
  })

const query = (request: HttpServerRequest.HttpServerRequest) => new URL(request.url, "http://localhost").searchParams

const flag = (params: URLSearchParams, name: string) => {
  const value = params.get(name)
  return value !== null && value !== "" && value !== "0"
}

/** JSON, or pretty `text/plain` with `?debug=1`, as Neubot answered. */
const json = (params: URLSearchParams, body: unknown) =>
  flag(params, "debug")
    ? HttpServerResponse.text(JSON.stringify(body, null, 4), { contentType: "text/plain; charset=utf-8" })
    : HttpServerResponse.unsafeJson(body)

/** Unix seconds from a query value; -1 or absent is unset. */
const seconds = (params: URLSearchParams, name: string): number | undefined | SchedulerError => {
  const raw = params.get(name)
  if (raw === null || raw === "" || raw === "-1") return undefined
  if (!/^\d+(\.\d+)?$/.test(raw)) return new SchedulerError({ message: `Invalid ${name}: ${raw} is not unix seconds` })
  return Number(raw)
}

export const apiPaths = [
  "/api",
  "/api/",
  "/api/config",
  "/api/data",
  "/api/debug",
  "/api/descriptors",
  "/api/exit",
  "/api/index",
  "/api/log",
  "/api/results",
  "/api/runner",
  "/api/state",
  "/api/version"
]

/**
 * Makes a streamed answer end by closing the connection, as Neubot's did (`up_to_eof`):
 * no chunked encoding and `Connection: close`, so a client that reads to EOF (Neubot's
 * command line) sees the lines as they are and is done when orch is.
 */
const untilClose = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.sync(() => {
    try {
      const response = NodeHttpServerRequest.toServerResponse(request)
      response.shouldKeepAlive = false
      // removing it (though unset) is how Node is told not to chunk a body of unknown length
      response.removeHeader("transfer-encoding")
    } catch {
      // not a Node request
    }
  })

/** A descriptor as `/api/descriptors` shows it. */
export const describeDescriptor = (descriptor: Descriptor.Descriptor, nextRunAt: number | undefined, spec: unknown) => ({
  name: descriptor.name,
  file: descriptor.file ?? null,
  bundled: descriptor.file === undefined,
  description: descriptor.description ?? null,
  parameters: descriptor.parameters,
  command: Descriptor.displayCommand(descriptor),
  directory: descriptor.directory,
  max_runtime_seconds: descriptor.maxRuntimeMs / 1000,
  schedule: descriptor.schedule,
  schedule_spec: spec ?? null,
  next_run: nextRunAt === undefined ? null : Math.floor(nextRunAt / 1000),
  next_run_at: nextRunAt === undefined ? null : new Date(nextRunAt).toISOString()
})

const runnerParams = (params: URLSearchParams): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of params) {
    if (key !== "test" && key !== "streaming" && key !== "debug") out[key] = value
  }
  return out
}

/** The state with what is computed when asked: the next scheduled run, the queue. */
const stateBody = (service: SchedulerService, snapshot: { current: string; events: Readonly<Record<string, unknown>>; t: number }) =>
  Effect.map(service.nextRuns, (next) => {
    const soonest = next.reduce<number | undefined>((min, n) => (min === undefined || n.nextRunAt < min ? n.nextRunAt : min), undefined)
    return {
      current: snapshot.current,
      events: {
        ...snapshot.events,
        ...(soonest === undefined ? {} : { next_rendezvous: Math.floor(soonest / 1000) })
      },
      t: snapshot.t
    }
  })

const handlers = (service: SchedulerService, config: Settings.SchedulerConfig, prefix: string) => ({
  status: Effect.gen(function*() {
    // the newest result of each test, newest first
    const recent = yield* Effect.orDie(service.engine.stores.data.latestPerTest)
    const next = yield* service.nextRuns
    return HttpServerResponse.html(StatusPage.render({
      prefix,
      version,
      pid: service.pid,
      startedAt: service.startedAt,
      rows: recent.map((row) => ({ test: row.test_name, startedAt: row.timestamp_msec, result: JSON.parse(row.json) })),
      next
    }))
  }),

  api: Effect.succeed(HttpServerResponse.text(JSON.stringify([...apiPaths].sort(), null, 4), { contentType: "application/json" })),

  config: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      if (request.method === "POST") {
        const body = yield* Effect.orElseSucceed(request.text, () => "")
        const pairs = [...new URLSearchParams(body)]
        yield* service.engine.updateSettings(pairs)
        // a new agent.interval restarts the schedules it sets
        if (pairs.some(([name]) => name === "agent.interval")) yield* Effect.asVoid(service.refresh)
        yield* service.state.publish({ events: { config: Object.fromEntries(pairs) } })
        // Neubot answered the JSON string "{}" here (its UI ignores the body)
        return HttpServerResponse.unsafeJson("{}")
      }
      if (flag(params, "labels")) {
        return json(params, Object.fromEntries(Settings.settings.map((s) => [s.name, s.label])))
      }
      return json(params, yield* service.engine.settings)
    }),

  data: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      const since = seconds(params, "since")
      const until = seconds(params, "until")
      if (since instanceof SchedulerError) return yield* since
      if (until instanceof SchedulerError) return yield* until
      const today = Results.stamp(yield* service.engine.settings, version)
      const rows = yield* Effect.orDie(service.engine.stores.data.select({
        test: params.get("test") || undefined,
        since: since === undefined ? undefined : since * 1000,
        until: until === undefined ? undefined : until * 1000,
        limit: 10_000
      }))
      return json(
        params,
        rows.map((row) => ({
          ...Results.shown(JSON.parse(row.json), today),
          test_name: row.test_name,
          timestamp: Math.floor(row.timestamp_msec / 1000),
          timestamp_msec: row.timestamp_msec
        }))
      )
    }),

  log: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      const verbosity = Number(params.get("verbosity") ?? "1")
      if (![0, 1, 2].includes(verbosity)) return yield* new SchedulerError({ message: `Invalid verbosity: ${params.get("verbosity")} (0, 1 or 2)` })
      const severities = Severities.filter((s) => (s === "DEBUG" ? verbosity >= 2 : s === "INFO" ? verbosity >= 1 : true))
      const rows = yield* Effect.orDie(service.engine.stores.log.select({ severities, newestFirst: flag(params, "reversed"), limit: 5000 }))
      if (flag(params, "debug")) {
        return HttpServerResponse.text(
          rows.map((row) => `${Math.floor(row.timestamp / 1000)} [${row.severity}]\t${row.message}\r\n`).join(""),
          { contentType: "text/plain; charset=utf-8" }
        )
      }
      return HttpServerResponse.unsafeJson(rows.map((row) => ({
        timestamp: Math.floor(row.timestamp / 1000),
        timestamp_msec: row.timestamp,
        severity: row.severity,
        message: row.message
      })))
    }),

  runner: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      // "keep happy the AJAX code": an empty query is a no-op
      if ([...params].length === 0) return HttpServerResponse.unsafeJson({})
      const test = params.get("test")
      if (test === null || test === "") return yield* new SchedulerError({ message: "Missing \"test\" option in query string" })
      if (!flag(params, "streaming")) {
        const id = yield* service.request(test, runnerParams(params), "api")
        // Neubot's answer is {}; the run's job id goes in a header for who wants it
        return HttpServerResponse.unsafeJson({}, { headers: { "x-orch-run": String(id) } })
      }
      const events = yield* service.requestStreaming(test, runnerParams(params), "api")
      yield* untilClose(request)
      const encoder = new TextEncoder()
      return HttpServerResponse.stream(
        events.pipe(
          Stream.map((event) =>
            encoder.encode(
              event._tag === "Line"
                ? `${event.severity} ${event.message}\r\n`
                : `${event.status === "ok" ? "INFO" : "ERROR"} runner: done (${event.status}${event.reason ? `: ${event.reason}` : ""})\r\n`
            )
          )
        ),
        { contentType: "text/plain; charset=utf-8" }
      )
    }),

  state: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      const raw = params.get("t") ?? "0"
      if (!/^\d+$/.test(raw)) {
        // as in Neubot, a t that is not a non-negative integer is a plain internal error
        return HttpServerResponse.unsafeJson({ error: `t must be a non-negative integer, not ${JSON.stringify(raw)}` }, { status: 500 })
      }
      const snapshot = yield* service.state.waitNewer(Number(raw), Duration.seconds(config.stateTimeoutSeconds))
      return json(params, yield* stateBody(service, snapshot))
    }),

  version: Effect.succeed(HttpServerResponse.text(version)),

  exit: (_request: HttpServerRequest.HttpServerRequest) => Effect.gen(function*() {
    // core's gate has refused a browser request from another origin, on both listeners
    yield* service.engine.log("INFO", "scheduler: exit asked through /api/exit")
    // answer first, then stop
    yield* Effect.forkDaemon(Effect.zipRight(Effect.sleep("100 millis"), service.exit))
    return HttpServerResponse.unsafeJson({})
  }),

  results: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const params = query(request)
      const values = yield* service.engine.settings
      const { valid } = yield* service.engine.catalog
      const asked = params.get("test")
      // results.html first asks with no test: the default one, or (unlike Neubot) the first there is
      const chosen = asked === null
        ? valid.find((d) => d.name === values.www_default_test_to_show) ?? valid[0]
        : valid.find((d) => d.name === asked)
      // api_results.py's message
      if (chosen === undefined) return yield* new SchedulerError({ message: "Test not implemented" })
      return json(params, Results.answer(chosen, valid.map((d) => d.name), values))
    }),

  // Neubot's entry redirect: the privacy page until consent is given, then the status page
  index: Effect.map(service.engine.settings, (values) =>
    HttpServerResponse.redirect(Settings.allowedToRun(values) ? "/index.html" : "/privacy.html", { status: 302 })),

  // Neubot's /api/debug: internals as text, for a person (no stable format)
  debug: Effect.gen(function*() {
    const snapshot = yield* service.state.get
    const catalog = yield* service.engine.catalog
    const values = yield* service.engine.settings
    return HttpServerResponse.text(
      JSON.stringify({
        version,
        pid: service.pid,
        started_at: new Date(service.startedAt).toISOString(),
        allowed_to_run: Settings.allowedToRun(values),
        runs_as: service.engine.identity._tag === "User" ? service.engine.identity.identity.user : service.engine.identity._tag,
        state: snapshot,
        next_runs: (yield* service.nextRuns).map((n) => ({ test: n.test, at: new Date(n.nextRunAt).toISOString(), spec: n.spec })),
        tests: catalog.valid.map((d) => d.name),
        invalid: catalog.invalid,
        stores: { dir: service.engine.stores.dir, bytes: yield* service.engine.stores.sizes },
        memory: process.memoryUsage(),
        uptime_seconds: process.uptime()
      }, null, 4),
      { contentType: "text/plain; charset=utf-8" }
    )
  }),

  descriptors: (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const catalog = yield* service.refresh
      const next = new Map((yield* service.nextRuns).map((n) => [n.test, n]))
      return json(query(request), {
        descriptors: catalog.valid.map((d) => describeDescriptor(d, next.get(d.name)?.nextRunAt, next.get(d.name)?.spec)),
        invalid: catalog.invalid
      })
    })
})

/**
 * What the routes need beyond core's default (GET: `read`, other methods: `operate`), on
 * orch's server and on the plugin's own listener alike. Neubot's API takes any method, so
 * a run asked by GET still needs `operate`; its config is written with a form post, as
 * Neubot's web UI does (core's gate refuses one from another origin). The speed test
 * server needs no token: it holds no data, and the bundled speedtest test calls it.
 */
export const access: ReadonlyArray<Access.Rule> = [
  { route: "/api/exit", role: "admin" },
  { route: "POST /api/config", role: "admin", accepts: ["application/x-www-form-urlencoded"] },
  { route: "/api/runner", role: "operate" },
  { route: "GET /speedtest/ping", role: "public" },
  { route: "GET /speedtest/download", role: "public" },
  { route: "POST /speedtest/upload", role: "public", accepts: ["application/octet-stream"] }
]

/**
 * The route layers, at the root of wherever they are served: core mounts them under
 * `/scheduler`, the plugin's own listener serves them at the root of its port. `links` is
 * where that is, for the links the status page shows. The scheduler comes from the
 * plugin's services, per request.
 */
export const routes = (config: Settings.SchedulerConfig, links: string) => {
  type Handlers = ReturnType<typeof handlers>
  const serve = (
    pick: (h: Handlers) => Effect.Effect<HttpServerResponse.HttpServerResponse, SchedulerError> | ((request: HttpServerRequest.HttpServerRequest) => Effect.Effect<HttpServerResponse.HttpServerResponse, SchedulerError>)
  ) =>
  (request: HttpServerRequest.HttpServerRequest) =>
    Effect.flatMap(Scheduler, (scheduler) => {
      const chosen = pick(handlers(scheduler.service, config, links))
      const effect = Effect.isEffect(chosen) ? chosen : chosen(request)
      return Effect.catchTag(effect, "SchedulerError", (error) => neubotError(request, error.message))
    })
  return Layer.mergeAll(
    // the router ignores a trailing slash: this route is also `/scheduler` (mounted), and `/api` also `/api/`
    HttpLayerRouter.add("GET", "/", serve((h) => h.status)),
    HttpLayerRouter.add("*", "/api", serve((h) => h.api)),
    HttpLayerRouter.add("*", "/api/config", serve((h) => h.config)),
    HttpLayerRouter.add("*", "/api/data", serve((h) => h.data)),
    HttpLayerRouter.add("*", "/api/debug", serve((h) => h.debug)),
    HttpLayerRouter.add("*", "/api/descriptors", serve((h) => h.descriptors)),
    // any method, as Neubot's command line and scripts use it; a cross-site browser request is refused
    HttpLayerRouter.add("*", "/api/exit", serve((h) => h.exit)),
    HttpLayerRouter.add("*", "/api/index", serve((h) => h.index)),
    HttpLayerRouter.add("*", "/api/results", serve((h) => h.results)),
    HttpLayerRouter.add("*", "/api/log", serve((h) => h.log)),
    HttpLayerRouter.add("*", "/api/runner", serve((h) => h.runner)),
    HttpLayerRouter.add("*", "/api/state", serve((h) => h.state)),
    HttpLayerRouter.add("*", "/api/version", serve((h) => h.version)),
    HttpLayerRouter.add("GET", "/speedtest/ping", SpeedTest.ping),
    HttpLayerRouter.add("GET", "/speedtest/download", SpeedTest.download),
    HttpLayerRouter.add("POST", "/speedtest/upload", SpeedTest.upload)
  )
}
