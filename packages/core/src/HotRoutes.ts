/**
 * Hot routes: the few routes that carry most of the traffic (a lease's keepalive, the
 * health check) served straight from Node's `request` event, before the Effect router.
 * Effect's HTTP stack (request wrapper, router, middleware, response conversion) cost about
 * 150 µs a request here, more than the SQLite commit a keepalive makes; a hot route keeps
 * what a route owes its callers and drops the rest:
 *
 * - the body size limit (413, for a Content-Length and for chunked bodies alike);
 * - the JSON body decoded by a `Schema` (400 naming the field);
 * - the server's gate (`Access`: Host, origin, bearer token and role, content type), run
 *   before the body is read, for hot routes and every other request alike;
 * - the request metrics of every route (`orch_http_requests_total`, `…_duration_seconds`);
 * - JSON errors in core's `{ "error": … }` shape, a logged 500 for anything unexpected;
 * - 503 once shutdown has begun (for every request on the server, not only hot routes).
 *
 * A handler is an Effect run on the runtime its route layer was built in, so it reaches
 * the services that layer had. Requests no hot route matches go to the Effect router as
 * they are. A plugin declares its hot routes next to its other routes with `add`, a layer
 * whose route goes away when the layer's scope closes.
 */
import { Cause, Context, Effect, Either, Exit, Layer, Option, ParseResult, Runtime, Schema, type Scope } from "effect"
import * as http from "node:http"
import { performance } from "node:perf_hooks"
import * as Access from "./Access.js"
import type * as Auth from "./Auth.js"
import * as HttpMetrics from "./internal/httpMetrics.js"
import { Supervisor } from "./Supervisor.js"

/** An answer: a status, a JSON body and extra headers. Handlers succeed or fail with one. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers?: Readonly<Record<string, string>> | undefined
  ) {}
}

/** A JSON answer. */
export const json = (body: unknown, options?: { readonly status?: number; readonly headers?: Record<string, string> }) =>
  new Reply(options?.status ?? 200, body, options?.headers)

/** A JSON error in core's shape (`{ "error": message, …details }`), as `Http.jsonError`. */
export const error = (status: number, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) =>
  new Reply(status, details === undefined ? { error: message } : { error: message, ...details }, headers)

/** Fails a handler with an error answer. */
export const fail = (status: number, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) =>
  Effect.fail(error(status, message, details, headers))

export interface Request<B> {
  readonly params: Readonly<Record<string, string>>
  readonly body: B
  /** Who the gate admitted the request as (`Auth.anonymous` when no tokens are configured). */
  readonly caller: Auth.Caller
  readonly incoming: http.IncomingMessage
}

export interface Route<B, R> {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** Absolute path; `:name` segments are parameters: `/allocator/leases/:id/keepalive`. */
  readonly path: string
  /** The JSON body's schema; `optional`: an empty body decodes as `{}`. Without it, the body is not read. */
  readonly body?: { readonly schema: Schema.Schema<B, any>; readonly optional?: boolean } | undefined
  readonly handle: (request: Request<B>) => Effect.Effect<Reply, Reply, R>
}

interface Registered {
  readonly method: string
  readonly path: string
  readonly segments: ReadonlyArray<{ readonly literal: string } | { readonly param: string }>
  /** The `/<plugin>` label of its metrics: the first segment of its path. */
  readonly prefix: string
  readonly serve: (incoming: http.IncomingMessage, response: http.ServerResponse, params: Record<string, string>, done: (reply: Reply) => void) => void
}

export interface HotRoutesService {
  readonly maxBodyBytes: number
  /** Adds a route until the scope closes. */
  readonly register: <B, R>(route: Route<B, R>, runtime: Runtime.Runtime<R>) => Effect.Effect<void, never, Scope.Scope>
  /** Answers the request when a hot route matches it, or any request once shutdown has begun: true then, false to leave it to the Effect router. */
  readonly offer: (incoming: http.IncomingMessage, response: http.ServerResponse) => boolean
}

export class HotRoutes extends Context.Tag("@orch/core/HotRoutes")<HotRoutes, HotRoutesService>() {}

const jsonHeaders = (length: number, extra: Readonly<Record<string, string>> | undefined): http.OutgoingHttpHeaders =>
  extra === undefined
    ? { "content-type": "application/json", "content-length": length }
    : { "content-type": "application/json", "content-length": length, ...extra }

const write = (response: http.ServerResponse, reply: Reply) => {
  const text = JSON.stringify(reply.body)
  response.writeHead(reply.status, jsonHeaders(Buffer.byteLength(text), reply.headers))
  response.end(text)
}

/** What is wrong with a body, in one line that names the field: `ttlSeconds: Expected number, actual "x"`. */
export const describeParseError = (parseError: ParseResult.ParseError): Reply => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(parseError)[0]
  const field = issue?.path.map(String).join(".") ?? ""
  const problem = issue?._tag === "Unexpected" ? "unknown field" : issue?._tag === "Missing" ? "is required" : issue?.message ?? "is invalid"
  return error(400, field === "" ? `the body ${problem}` : `${field}: ${problem}`, field === "" ? {} : { field })
}

/** How deeply a JSON body may nest its arrays and objects; deeper ones are refused before parsing. */
export const maxJsonDepth = 64

/**
 * Whether JSON text nests arrays and objects deeper than `max`: a scan of its brackets
 * outside strings, cheap enough for every body, so that a 5,000-deep body is refused
 * before `JSON.parse` and the recursive schema decoders and encoders see it.
 */
export const nestsDeeperThan = (text: string, max: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash: the next character is escaped
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}

/** The 400 for a body nested deeper than `maxJsonDepth`. */
export const tooDeep = () => error(400, `the body nests arrays and objects deeper than ${maxJsonDepth} levels`)

/** JSON text parsed, with the depth limit: the one way core reads a JSON body. */
export const parseJson = (text: string): Either.Either<unknown, Reply> => {
  if (nestsDeeperThan(text, maxJsonDepth)) return Either.left(tooDeep())
  try {
    return Either.right(JSON.parse(text))
  } catch (cause) {
    return Either.left(error(400, `the body is not JSON: ${(cause as Error).message}`))
  }
}

/** Decodes a body's text: JSON (depth-limited), then `schema` (unknown fields refused). Compiled once per route. */
export const bodyDecoder = <B>(schema: Schema.Schema<B, any>, options: { readonly optional?: boolean | undefined } = {}) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  return (text: string): Either.Either<B, Reply> => {
    if (options.optional && text.trim() === "") return Either.mapLeft(decode({}), describeParseError)
    return Either.flatMap(parseJson(text), (value) => Either.mapLeft(decode(value), describeParseError))
  }
}

const noCleanup = () => {}

/** How many times the limit an over-limit chunked body may still send, discarded, before its connection is cut. */
const discardFactor = 16

/**
 * Reads a body up to `max` bytes; over it, the answer is 413 and the rest is discarded.
 * Returns what stops the reading early (its listeners removed).
 */
const readBody = (
  incoming: http.IncomingMessage,
  max: number,
  onBody: (text: string) => void,
  onRefused: (reply: Reply) => void
): () => void => {
  const declared = Number(incoming.headers["content-length"] ?? 0)
  if (declared > max) {
    // discarded as it comes, so the client finishes sending and reads the 413 (a connection
    // closed mid-upload resets: its client sees EPIPE, not the answer); past the bound, cut
    incoming.resume()
    const message = `request body of ${declared} bytes is over the limit of ${max} bytes`
    onRefused(declared > max * discardFactor ? error(413, message, undefined, { connection: "close" }) : error(413, message))
    return noCleanup
  }
  if (incoming.readableEnded) {
    onBody("")
    return noCleanup
  }
  const chunks: Array<Buffer> = []
  let size = 0
  let refused = false
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (refused) {
      // the answer is out; past a bound of discarded bytes, the connection is cut
      if (size > max * discardFactor) incoming.socket?.destroy()
    } else if (size <= max) chunks.push(chunk)
    else {
      // A body without a declared length: the client is still sending it, and a connection
      // closed now would reset before it reads the 413 (its next write meets an RST), so the
      // rest is read and discarded, up to a bound, and the connection stays usable.
      refused = true
      chunks.length = 0
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      onRefused(error(413, `request body is over the limit of ${max} bytes`))
    }
  }
  const onEnd = () => {
    cleanup()
    onBody(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"))
  }
  const onError = () => {
    cleanup()
    onRefused(error(400, "cannot read the request body"))
  }
  const cleanup = () => {
    incoming.off("data", onData)
    incoming.off("end", onEnd)
    incoming.off("error", onError)
  }
  incoming.on("data", onData)
  incoming.on("end", onEnd)
  incoming.on("error", onError)
  return cleanup
}

/**
 * A request body as text, read straight from Node's request up to `max` bytes (413 over
 * it, chunked or not): for routes on the Effect router whose body reading is hot too,
 * where the platform's stream reader costs more than the request's own work.
 */
export const bodyText = (incoming: http.IncomingMessage, max: number): Effect.Effect<string, Reply> =>
  Effect.async<string, Reply>((resume) => {
    const stop = readBody(incoming, max, (text) => resume(Effect.succeed(text)), (reply) => resume(Effect.fail(reply)))
    return Effect.sync(stop)
  })

const internalError = error(500, "internal error: see the daemon's log")

const compile = <B, R>(route: Route<B, R>, runtime: Runtime.Runtime<R>, maxBodyBytes: number): Registered => {
  const segments = route.path.split("/").map((segment) => segment.startsWith(":") ? { param: segment.slice(1) } : { literal: segment })
  const decode = route.body === undefined ? undefined : bodyDecoder(route.body.schema, { optional: route.body.optional })
  const run = Runtime.runFork(runtime)
  const handle = (request: Request<B>, done: (reply: Reply) => void) => {
    let effect: Effect.Effect<Reply, Reply, R>
    try {
      effect = route.handle(request)
    } catch (defect) {
      // thrown out of a request or body listener, it would end the process
      return done(replyOf(Cause.die(defect)))
    }
    // an answer known without running anything (`Effect.succeed(reply)`) needs no fiber
    if (Exit.isExit(effect)) {
      const exit = effect as Exit.Exit<Reply, Reply>
      return done(Exit.isSuccess(exit) ? exit.value : replyOf(exit.cause))
    }
    run(effect).addObserver((exit) => done(Exit.isSuccess(exit) ? exit.value : replyOf(exit.cause)))
  }
  const replyOf = (cause: Cause.Cause<Reply>): Reply => {
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure) && Cause.isFailType(cause)) return failure.value
    run(Effect.logError(`${route.method} ${route.path} failed`, cause))
    return internalError
  }
  const serve = (incoming: http.IncomingMessage, params: Record<string, string>, done: (reply: Reply) => void) => {
    const caller = Access.callerOf(incoming)
    if (decode === undefined) return handle({ params, body: undefined as B, caller, incoming }, done)
    readBody(incoming, maxBodyBytes, (text) => {
      const body = decode(text)
      if (Either.isLeft(body)) return done(body.left)
      handle({ params, body: body.right, caller, incoming }, done)
    }, done)
  }
  return {
    method: route.method,
    path: route.path,
    segments,
    prefix: "/" + (route.path.split("/")[1] ?? ""),
    serve: (incoming, response, params, done) => {
      try {
        serve(incoming, params, done)
      } catch (defect) {
        // thrown out of a request listener, it would end the process
        if (!response.headersSent) done(replyOf(Cause.die(defect)))
      }
    }
  }
}

const match = (route: Registered, parts: ReadonlyArray<string>): Record<string, string> | undefined => {
  if (parts.length !== route.segments.length) return undefined
  let params: Record<string, string> | undefined
  for (let i = 0; i < parts.length; i++) {
    const segment = route.segments[i]!
    if ("literal" in segment) {
      if (segment.literal !== parts[i]) return undefined
    } else {
      if (parts[i] === "") return undefined
      try {
        ;(params ??= {})[segment.param] = decodeURIComponent(parts[i]!)
      } catch {
        // a malformed escape: not this route's; the Effect router answers it
        return undefined
      }
    }
  }
  return params ?? {}
}

/** A table of hot routes with the body limit and the gate of the server they answer on. */
export const make = (options: {
  readonly maxBodyBytes: number
  readonly gate?: Access.Gate | undefined
  /** The `/<plugin>` prefixes the metrics of refused requests are labelled with; others are "other". */
  readonly known?: ReadonlySet<string> | undefined
}) =>
  Effect.gen(function*() {
    const byMethod = new Map<string, Array<Registered>>()
    const record = HttpMetrics.recorder()
    const known = options.known ?? new Set<string>()
    let draining = false
    // shutdown begins: hot routes answer 503 from then on, as the daemon stops taking new work
    const supervisor = yield* Effect.serviceOption(Supervisor)
    if (Option.isSome(supervisor)) {
      yield* Effect.forkScoped(Effect.zipRight(supervisor.value.drained, Effect.sync(() => draining = true)))
    }

    const register: HotRoutesService["register"] = (route, runtime) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          const routes = byMethod.get(route.method) ?? []
          if (routes.some((other) => other.path === route.path)) {
            return Effect.dieMessage(`hot route ${route.method} ${route.path} is registered twice`)
          }
          const registered = compile(route, runtime, options.maxBodyBytes)
          byMethod.set(route.method, [...routes, registered])
          return Effect.succeed(registered)
        }),
        (registered) =>
          Effect.sync(() => byMethod.set(registered.method, (byMethod.get(registered.method) ?? []).filter((r) => r !== registered)))
      ).pipe(Effect.asVoid)

    const offer: HotRoutesService["offer"] = (incoming, response) => {
      if (draining) {
        // every request, hot or not: the Effect routes' services are stopping and would answer 500
        write(response, error(503, "the daemon is shutting down", undefined, { connection: "close", "retry-after": "5" }))
        return true
      }
      if (options.gate !== undefined) {
        const admitted = options.gate(incoming)
        if (Either.isLeft(admitted)) {
          // refused before its body is read (Node discards what the client still sends)
          write(response, admitted.left)
          record(incoming.method ?? "GET", HttpMetrics.pathPrefix(incoming.url ?? "/", known), admitted.left.status, 0)
          return true
        }
        Access.admit(incoming, admitted.right)
      }
      const routes = byMethod.get(incoming.method ?? "")
      if (routes === undefined || routes.length === 0) return false
      const url = incoming.url ?? "/"
      const query = url.indexOf("?")
      const parts = (query < 0 ? url : url.slice(0, query)).split("/")
      for (const route of routes) {
        const params = match(route, parts)
        if (params === undefined) continue
        const started = performance.now()
        const done = (reply: Reply) => {
          write(response, reply)
          record(route.method, route.prefix, reply.status, (performance.now() - started) / 1000)
        }
        route.serve(incoming, response, params, done)
        return true
      }
      return false
    }

    return HotRoutes.of({ maxBodyBytes: options.maxBodyBytes, register, offer })
  })

/** The table for core's server; with a `Supervisor` in context, it answers 503 once shutdown begins. */
export const layer = (options: Parameters<typeof make>[0]): Layer.Layer<HotRoutes> => Layer.scoped(HotRoutes, make(options))

/** A Node HTTP server that offers every request to `hot` first, then (unmatched) to its `request` listeners. */
export const server = (hot: HotRoutesService, options: http.ServerOptions): http.Server => new HotServer(hot, options)

class HotServer extends http.Server {
  constructor(readonly hot: HotRoutesService, options: http.ServerOptions) {
    super(options)
  }
  override emit(event: string | symbol, ...args: Array<any>): boolean {
    if (event === "request" && this.hot.offer(args[0], args[1])) return true
    return super.emit(event as string, ...args)
  }
}

/**
 * A hot route, registered while this layer lives (declare it beside the plugin's other
 * routes). Its handler runs on the runtime this layer was built in, so it reaches `R`.
 */
export const add = <B, R>(route: Route<B, R>): Layer.Layer<never, never, HotRoutes | R> =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const hot = yield* HotRoutes
    const runtime = yield* Effect.runtime<R>()
    yield* hot.register(route, runtime)
  }))

/**
 * A view of `HotRoutes` that puts `prefix` in front of every path registered through it,
 * for routes declared relative to where they are mounted (a plugin's routes under `/<name>`).
 */
export const prefixed = (prefix: string): Layer.Layer<HotRoutes, never, HotRoutes> =>
  Layer.effect(
    HotRoutes,
    Effect.map(HotRoutes, (hot) =>
      HotRoutes.of({
        ...hot,
        register: (route, runtime) => hot.register({ ...route, path: prefix + route.path }, runtime)
      }))
  )
