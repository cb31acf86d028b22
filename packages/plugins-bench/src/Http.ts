/** What the bench plugin's routes share: error answers in core's shape, JSON bodies checked by a Schema. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HotRoutes from "@orch/core/HotRoutes"
import { jsonError } from "@orch/core/Http"
import { Effect, Either, Schema } from "effect"

/** An answer that ends a handler early (a 4xx). */
export class Reply {
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}

export const fail = (status: number, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) =>
  Effect.fail(new Reply(headers === undefined ? jsonError(status, message, details) : HttpServerResponse.setHeaders(jsonError(status, message, details), headers)))

/** Runs a handler: a `Reply` is its answer; anything else is logged and answered 500. */
export const handle = <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R>) =>
  effect.pipe(
    Effect.catchAll((error) =>
      error instanceof Reply
        ? Effect.succeed(error.response)
        : Effect.as(Effect.logError("bench request failed", error), jsonError(500, "internal error: see the daemon's log"))
    ),
    Effect.catchAllDefect((defect) => Effect.as(Effect.logError("bench request failed", defect), jsonError(500, "internal error: see the daemon's log")))
  )

export const param = (name: string) => Effect.map(HttpRouter.RouteContext, (context) => context.params[name] ?? "")

export const query = Effect.map(HttpServerRequest.ParsedSearchParams, (params) => (name: string) => {
  const value = params[name]
  return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined
})

/**
 * The request's JSON body decoded by `schema`: a 400 that names the field otherwise. Unknown
 * fields are refused unless `lenient` (the worker protocol: serde ignores them too).
 */
export const body = <A, I>(schema: Schema.Schema<A, I>, options: { readonly lenient?: boolean } = {}) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: options.lenient ? "ignore" : "error" })
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const text = yield* Effect.mapError(request.text, () => new Reply(jsonError(400, "the body could not be read")))
    const decoded = Either.flatMap(HotRoutes.parseJson(text), (value) => Either.mapLeft(decode(value), HotRoutes.describeParseError))
    if (Either.isLeft(decoded)) {
      const reply = decoded.left
      return yield* Effect.fail(new Reply(HttpServerResponse.unsafeJson(reply.body, { status: reply.status })))
    }
    return decoded.right
  })
}

export const json = (value: unknown, status = 200) => HttpServerResponse.unsafeJson(value, { status })
