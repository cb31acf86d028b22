/**
 * The one HTTP server. Core serves `/` (an index page), `/healthz`, `/readyz`, `/metrics`, `/docs`,
 * `/openapi.json` and `/events` (server-sent change notifications); each plugin mounts its routes under `/<plugin>/`. Around every route:
 * core's gate (`Access`: Host, origin, bearer token and role, JSON content type) before
 * anything is read, a body size limit (413), JSON 404s, and request count and latency metrics.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { Clock, Effect, Either, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import { createRequire } from "node:module"
import * as Access from "./Access.js"
import * as Auth from "./Auth.js"
import * as CoreApi from "./CoreApi.js"
import * as Events from "./Events.js"
import * as TuiViews from "./TuiViews.js"
import { Config } from "./Config.js"
import { HttpListenError } from "./Errors.js"
import * as HotRoutes from "./HotRoutes.js"
import * as Metrics from "./Metrics.js"
import * as DecodeError from "./internal/decodeError.js"
import * as HttpMetrics from "./internal/httpMetrics.js"
import { DaemonInfo, reservedNames } from "./Plugin.js"
import { isFailing, Supervisor } from "./Supervisor.js"

export interface HttpOptions {
  readonly host: string
  readonly port: number
  readonly maxBodyBytes: number
  /** More names the daemon is reached by (behind a proxy): `core.http.allowedHosts`. */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
}

/** Core's routes that need no token: the probes of load balancers, supervisors and Prometheus. */
export const coreRules: ReadonlyArray<Access.Rule> = [
  { route: "GET /healthz", role: "public" },
  { route: "GET /readyz", role: "public" },
  { route: "GET /metrics", role: "public" }
]

/** A JSON error body, the same shape everywhere core answers an error itself. */
export const jsonError = (status: number, message: string, details?: Record<string, unknown>) =>
  HttpServerResponse.unsafeJson({ error: message, ...details }, { status })

/** A hot route's answer (`HotRoutes.Reply`) as the Effect router's response, for routes that share its checks. */
export const replyResponse = (reply: HotRoutes.Reply) =>
  HttpServerResponse.setHeaders(HttpServerResponse.unsafeJson(reply.body, { status: reply.status }), reply.headers ?? {})


/** Bodies read as a stream by their route (a speed test's upload), not held in memory by `readBody`. */
const streamed = (contentType: string) => contentType.startsWith("application/octet-stream") || contentType.startsWith("multipart/")

/**
 * Reads a request's body before its route runs, with the server's limit (413, chunked
 * bodies too, rather than a reset connection) and, for JSON, the depth limit (400):
 * the route then reads the same text through the request it is given.
 */
const readBody = (request: HttpServerRequest.HttpServerRequest, max: number) => {
  const headers = request.headers
  const hasBody = headers["transfer-encoding"] !== undefined || Number(headers["content-length"] ?? 0) > 0
  if (!hasBody || streamed(headers["content-type"] ?? "")) return Effect.succeed(Either.right(request))
  return HotRoutes.bodyText(NodeHttpServerRequest.toIncomingMessage(request), max).pipe(
    Effect.map((text) => {
      const trimmed = text.trimStart()
      if ((trimmed.startsWith("{") || trimmed.startsWith("[")) && HotRoutes.nestsDeeperThan(text, HotRoutes.maxJsonDepth)) {
        return Either.left(replyResponse(HotRoutes.tooDeep()))
      }
      return Either.right(withText(request, text))
    }),
    Effect.catchAll((reply) => Effect.succeed(Either.left(replyResponse(reply))))
  )
}

/** The request with its body already read: its `text`, `json`, `urlParamsBody` and `arrayBuffer` answer from `text`. */
const withText = (request: HttpServerRequest.HttpServerRequest, text: string): HttpServerRequest.HttpServerRequest => {
  const read = Object.create(request) as HttpServerRequest.HttpServerRequest
  const textEffect = Effect.succeed(text)
  Object.defineProperty(read, "text", { value: textEffect })
  Object.defineProperty(read, "arrayBuffer", { get: () => Effect.sync(() => new TextEncoder().encode(text).buffer) })
  // a mounted plugin's router strips its prefix with `modify`, which would read the body anew
  Object.defineProperty(read, "modify", { value: (options: Parameters<typeof request.modify>[0]) => withText(request.modify(options), text) })
  return read
}

const guard = (options: HttpOptions, known: ReadonlySet<string>) => {
  const record = HttpMetrics.recorder()
  return HttpLayerRouter.middleware(
    (handler: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const started = yield* Clock.currentTimeNanos
        const read = yield* readBody(request, options.maxBodyBytes)
        const response = read._tag === "Left"
          ? read.left
          : yield* handler.pipe(
            Effect.provideService(HttpServerRequest.HttpServerRequest, read.right),
            // who the server's gate admitted the request as, for the route (`Auth.caller`)
            Effect.locally(Auth.currentCaller, Access.callerOf(NodeHttpServerRequest.toIncomingMessage(request))),
            Effect.catchIf(
              (error): error is HttpServerError.RouteNotFound =>
                typeof error === "object" && error !== null && (error as { _tag?: string })._tag === "RouteNotFound",
              () => Effect.succeed(jsonError(404, `no route for ${request.method} ${request.url.split("?")[0]}`))
            ),
            Effect.map(DecodeError.readable)
          )
        const seconds = Number((yield* Clock.currentTimeNanos) - started) / 1e9
        record(request.method, HttpMetrics.pathPrefix(request.url, known), response.status, seconds)
        return response
      }),
    { global: true }
  )
}

// The API reference page's viewer (RapiDoc, one 850 KB script) is served by orch itself, so
// /docs works without internet. It is read from node_modules at the first request for it,
// never imported: the CLI's bundle stays small and only a reader of /docs pays for it.
export const docsPage = `<!doctype html>
<html>
  <head>
    <title>orch API</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <script type="module" src="/docs/rapidoc-min.js"></script>
  </head>
  <body>
    <noscript>The API description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
    <rapi-doc spec-url="/openapi.json" render-style="read" show-header="false"></rapi-doc>
  </body>
</html>
`

/** The viewer's script, from the installed `rapidoc` package (its `main`). */
const docsViewer = Effect.cached(Effect.try({
  try: () => fs.readFileSync(createRequire(import.meta.url).resolve("rapidoc")),
  catch: (error) => error
}))

/** The merged OpenAPI document of every mounted plugin's JSON API. */
export const openApiDocument = (apis: ReadonlyArray<HttpApi.HttpApi.Any>, version: string) => {
  let merged: HttpApi.HttpApi.Any = HttpApi.make("orch")
  for (const api of apis) merged = (merged as any).addHttpApi(api)
  const spec = DecodeError.documented(OpenApi.fromApi(merged as any))
  // core.auth.tokens: every route takes a bearer token (the probes need none)
  return {
    ...spec,
    info: { ...spec.info, title: "orch", version },
    components: { ...spec.components, securitySchemes: { ...spec.components?.securitySchemes, bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }]
  }
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** `GET /`: what a person finds at the daemon's address, links to core's pages and each plugin's. */
export const indexPage = (version: string, plugins: ReadonlyArray<string>) => {
  const link = (href: string, text: string, note: string) =>
    `      <li><a href="${escapeHtml(href)}">${escapeHtml(text)}</a> ${escapeHtml(note)}</li>\n`
  return `<!doctype html>
<html>
  <head>
    <title>orch</title>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <h1>orch ${escapeHtml(version)}</h1>
    <ul>
${link("docs", "/docs", "API reference")}${link("openapi.json", "/openapi.json", "OpenAPI document")}${
    link("metrics", "/metrics", "Prometheus metrics")
  }${link("readyz", "/readyz", "readiness")}    </ul>
    <h2>Plugins</h2>
    <ul>
${plugins.map((name) => link(`${name}/`, name, "")).join("")}    </ul>
  </body>
</html>
`
}

const coreRoutes = (
  apis: ReadonlyArray<HttpApi.HttpApi.Any>,
  version: string,
  plugins: ReadonlyArray<string>,
  panels: ReadonlyArray<CoreApi.PluginViews>
) =>
  Layer.mergeAll(
    // served before the Effect router: the probe of every load balancer and supervisor
    HotRoutes.add({ method: "GET", path: "/healthz", handle: () => Effect.succeed(HotRoutes.json({ status: "ok" })) }),
    HttpLayerRouter.add(
      "GET",
      "/readyz",
      Effect.gen(function*() {
        const supervisor = yield* Supervisor
        const loops = yield* supervisor.status
        const failing = loops.filter(isFailing)
        const draining = yield* supervisor.isDraining
        const ready = failing.length === 0 && !draining
        return HttpServerResponse.unsafeJson({ status: ready ? "ready" : draining ? "draining" : "degraded", loops }, {
          status: ready ? 200 : 503
        })
      })
    ),
    Layer.unwrapScoped(Effect.map(Metrics.processSamples(version), (standard) =>
      HttpLayerRouter.add(
        "GET",
        "/metrics",
        Effect.map(
          Metrics.scrapeWith(standard),
          (body) => HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        )
      ))),
    HttpLayerRouter.add("GET", "/", HttpServerResponse.html(indexPage(version, plugins))),
    HttpLayerRouter.add("GET", "/openapi.json", HttpServerResponse.unsafeJson(openApiDocument(apis, version))),
    HttpLayerRouter.add("GET", "/docs", HttpServerResponse.html(docsPage)),
    Layer.unwrapEffect(Effect.map(docsViewer, (viewer) =>
      HttpLayerRouter.add(
        "GET",
        "/docs/rapidoc-min.js",
        viewer.pipe(
          Effect.map((script) =>
            HttpServerResponse.uint8Array(script, {
              contentType: "text/javascript; charset=utf-8",
              headers: { "cache-control": "public, max-age=86400" }
            })
          ),
          Effect.catchAll((error) => Effect.succeed(jsonError(404, `the API viewer is not installed: ${String(error)}`)))
        )
      ))),
    CoreApi.routes(panels),
    TuiViews.routes(panels),
    Events.route()
  )

/**
 * The listening socket and `DaemonInfo` (its real address: port 0 picks a free one).
 * Kept separate from the routes so plugins' services can read the address too. The daemon
 * logs "orch listening on <url>" once its plugins' services have had a first go.
 */
export const listen = (
  options: HttpOptions,
  meta: {
    readonly startedAt: number
    readonly plugins: ReadonlyArray<string>
    /** From when shutdown begins, how long a connection may stay open; then it is cut. */
    readonly shutdownGraceMs?: number | undefined
    /** The tokens, and what the mounted routes need (core's `coreRules` are added). */
    readonly access?: { readonly tokens: ReadonlyArray<Auth.Token>; readonly rules: ReadonlyArray<Access.Rule> } | undefined
  }
) =>
  Layer.effect(
    DaemonInfo,
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const address = server.address
      const port = address._tag === "TcpAddress" ? address.port : 0
      const host = address._tag === "TcpAddress" ? address.hostname : options.host
      const shown = host.includes(":") ? `[${host}]` : host
      const url = `http://${shown}:${port}`
      return { url, host, port, pid: process.pid, startedAt: meta.startedAt, plugins: meta.plugins }
    })
  ).pipe(
    // hot routes answer from Node's request event; the rest goes on to the Effect router
    Layer.provideMerge(Layer.unwrapEffect(Effect.map(HotRoutes.HotRoutes, (hot) => {
      let server: http.Server | undefined
      return Layer.merge(
        nodeServer(options, () => server = HotRoutes.server(hot, { keepAliveTimeout: 5_000 })),
        Layer.scopedDiscard(closeOnDrain(() => server, meta.shutdownGraceMs ?? 10_000))
      )
    }))),
    Layer.provideMerge(HotRoutes.layer({
      maxBodyBytes: options.maxBodyBytes,
      known: new Set([...reservedNames, ...meta.plugins].map((name) => `/${name}`)),
      gate: Access.gate({
        tokens: meta.access?.tokens ?? [],
        host: options.host,
        allowedHosts: options.allowedHosts ?? [],
        rules: [...coreRules, ...(meta.access?.rules ?? [])]
      })
    }))
  )

/**
 * Bounds shutdown by the connections: when drain begins, idle keep-alive connections
 * are closed (busy ones close after their answer, which says `connection: close`); at
 * the grace whatever is left — a half-sent request, a slow client — is cut, so
 * `server.close()` cannot wait on a client. A Node timer, not a fiber: this layer's
 * scope closes before the server's, and the cut must outlive it.
 */
const closeOnDrain = (server: () => http.Server | undefined, graceMs: number) =>
  Effect.gen(function*() {
    const supervisor = yield* Effect.serviceOption(Supervisor)
    if (Option.isNone(supervisor)) return
    yield* Effect.forkScoped(Effect.zipRight(
      supervisor.value.drained,
      Effect.sync(() => {
        const current = server()
        if (current === undefined) return
        current.closeIdleConnections()
        setTimeout(() => current.closeAllConnections(), graceMs).unref()
      })
    ))
  })

/** A Node HTTP server on host:port, its failure to listen said plainly. */
const nodeServer = (
  options: { readonly host: string; readonly port: number },
  create: () => http.Server = () => http.createServer({ keepAliveTimeout: 5_000 })
) =>
  NodeHttpServer.layer(create, {
    host: options.host,
    port: options.port,
    // Node's default (511) drops the connections of a burst (2,000 waiting allocations at
    // once): their clients retry after 1, 3, 7 s. The kernel caps it at net.core.somaxconn.
    backlog: 4096
  }).pipe(Layer.mapError((error) => {
    const cause = (error as { cause?: NodeJS.ErrnoException }).cause
    const reason = cause?.code === "EADDRINUSE"
      ? "the port is already in use (EADDRINUSE)"
      : cause?.code === "EADDRNOTAVAIL"
      ? "the address is not one of this machine's (EADDRNOTAVAIL)"
      : cause?.message ?? String(error)
    return new HttpListenError({ message: `cannot listen on ${options.host}:${options.port}: ${reason}`, cause: error })
  }))

/**
 * A listener of a plugin's own, for a protocol that needs the root of its own port
 * (a legacy API that clients expect on a fixed port): `routes` are served there as they are, with the same
 * body limit, JSON 404s and metrics as the main server, and the same gate: the tokens
 * and allowed hosts of `core` (from `Config`, when there is one), with `access` for its
 * routes (relative to its root). Run it as one of the plugin's loops,
 * `{ daemon: Layer.launch(Http.serveOn(…)) }`: its routes then have the plugin's services,
 * and it stops and starts with them.
 */
export const serveOn = <E, R>(
  options: {
    readonly host: string
    readonly port: number
    readonly maxBodyBytes?: number | undefined
    readonly access?: ReadonlyArray<Access.Rule> | undefined
  },
  routes: Layer.Layer<never, E, R>
) => {
  const limits = { host: options.host, port: options.port, maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 }
  const logAddress = Layer.effectDiscard(Effect.flatMap(HttpServer.HttpServer, (server) =>
    Effect.logInfo(`also listening on ${HttpServer.formatAddress(server.address)}`)))
  const gated = Layer.unwrapScoped(Effect.gen(function*() {
    const config = yield* Effect.serviceOption(Config)
    const core = Option.getOrUndefined(config)?.core
    const hot = yield* HotRoutes.make({
      maxBodyBytes: limits.maxBodyBytes,
      gate: Access.gate({
        tokens: core?.auth.tokens ?? [],
        host: options.host,
        allowedHosts: core?.http.allowedHosts ?? [],
        rules: options.access ?? []
      })
    })
    return nodeServer(options, () => HotRoutes.server(hot, { keepAliveTimeout: 5_000 }))
  }))
  return Layer.mergeAll(
    HttpLayerRouter.serve(Layer.provide(routes, guard(limits, new Set<string>())), {
      disableLogger: true,
      disableListenLog: true
    }).pipe(withoutRequestSpans, Layer.provide(bodyLimit(limits.maxBodyBytes))),
    logAddress
  ).pipe(Layer.provideMerge(gated))
}

/** A plugin's routes as core mounts them (see `PluginRuntime.routes`), and its API prefixed the same way. */
export interface Mounted {
  readonly name: string
  readonly api?: HttpApi.HttpApi.Any | undefined
  readonly routes: Layer.Layer<never, unknown, any>
  /** What its routes need (`PluginHttp.access`), with absolute paths. */
  readonly access?: ReadonlyArray<Access.Rule> | undefined
}

/** Serves core's routes and every plugin's mounted routes on the server from `listen`; `panels`: the plugins' views, for the TUI and `/overview`. */
export const serve = (
  options: HttpOptions,
  mounted: ReadonlyArray<Mounted>,
  version: string,
  panels: ReadonlyArray<CoreApi.PluginViews> = []
) => {
  const known = new Set([...reservedNames.map((name) => `/${name}`), ...mounted.map((p) => `/${p.name}`)])
  const apis = [CoreApi.CoreApi, TuiViews.TuiApi, ...mounted.flatMap((p) => (p.api ? [p.api] : []))]
  const routes = Layer.mergeAll(coreRoutes(apis, version, mounted.map((p) => p.name), panels), ...mounted.map((p) => p.routes))
  return HttpLayerRouter.serve(Layer.provide(routes, guard(options, known)), { disableLogger: true, disableListenLog: true })
    .pipe(withoutRequestSpans, Layer.provide(bodyLimit(options.maxBodyBytes)))
}

// The platform's body readers stop at this size; set once for the server rather than per request.
const bodyLimit = (maxBodyBytes: number) =>
  Layer.succeed(HttpIncomingMessage.MaxBodySize, Option.some(FileSystem.Size(maxBodyBytes)))

// orch exports no traces, and a span per request (with its parsed URL and redacted headers) cost
// about a tenth of a keepalive's CPU under load.
const withoutRequestSpans = HttpMiddleware.withTracerDisabledWhen(() => true)
