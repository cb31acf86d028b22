/**
 * How a command reaches the running daemon: its HTTP API at one base URL, with the
 * bearer token when one is given, JSON bodies, a timeout, and every failure as a tagged
 * error whose message is one readable line. The one client of the CLI, the TUI and the
 * plugins' commands; no command opens the daemon's database instead.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Context, Data, Duration, Effect, Layer } from "effect"

/** Nothing answers at the URL: no daemon runs there, or it cannot be reached. */
export class DaemonUnreachable extends Data.TaggedError("DaemonUnreachable")<{
  readonly url: string
  readonly reason: string
}> {
  override get message() {
    return `no orch daemon answers at ${this.url} (${this.reason}); start one with \`orch run\`, or give its address with --url or ORCH_URL`
  }
}

/** The daemon took longer than the client's timeout. */
export class DaemonTimeout extends Data.TaggedError("DaemonTimeout")<{
  readonly url: string
  readonly method: string
  readonly path: string
  readonly timeout: Duration.Duration
}> {
  override get message() {
    return `the orch daemon at ${this.url} did not answer ${this.method} ${this.path} within ${Duration.format(this.timeout)}`
  }
}

/** The daemon answered with an error status; `error` (and `field`) as its body says them. */
export class DaemonError extends Data.TaggedError("DaemonError")<{
  readonly method: string
  readonly path: string
  readonly status: number
  readonly error: string
  readonly field?: string | undefined
  readonly retryAfter?: string | undefined
  readonly body: unknown
}> {
  override get message() {
    const field = this.field !== undefined && !this.error.startsWith(this.field) ? `${this.field}: ` : ""
    const retry = this.retryAfter !== undefined ? ` (retry after ${this.retryAfter} s)` : ""
    return `${this.method} ${this.path}: ${this.status} ${field}${this.error}${retry}`
  }
}

export type DaemonClientError = DaemonUnreachable | DaemonTimeout | DaemonError

export type Query = Readonly<Record<string, string | number | boolean | undefined>>

export interface RequestOptions {
  readonly query?: Query | undefined
  /** Sent as JSON (`content-type: application/json`). */
  readonly body?: unknown
  /** Sent as `application/x-www-form-urlencoded` (Neubot's API takes its settings so). */
  readonly form?: ReadonlyArray<readonly [string, string]> | undefined
  /** Overrides the client's timeout; "none" for a request that lasts as long as its work. */
  readonly timeout?: Duration.DurationInput | "none" | undefined
}

export interface DaemonClientService {
  /** The daemon's base URL, without a trailing slash. */
  readonly url: string
  /** One request; the JSON body of a 2xx answer (its text when not JSON, undefined when empty). */
  readonly request: <A = unknown>(method: string, path: string, options?: RequestOptions) => Effect.Effect<A, DaemonClientError>
  readonly get: <A = unknown>(path: string, query?: Query) => Effect.Effect<A, DaemonClientError>
  readonly post: <A = unknown>(path: string, body?: unknown) => Effect.Effect<A, DaemonClientError>
  /** The response of a 2xx answer as it comes, for a body read as a stream (the timeout bounds its headers). */
  readonly stream: (
    method: string,
    path: string,
    options?: RequestOptions
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, DaemonClientError>
}

export class DaemonClient extends Context.Tag("@orch/core/DaemonClient")<DaemonClient, DaemonClientService>() {}

export interface Options {
  /** The daemon's base URL (`Cli.daemonUrl` finds it from --url, ORCH_URL and the config). */
  readonly url: string
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined
  /** For every request unless it says otherwise; 30 seconds by default. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** The reason a request never got an answer: the innermost code (ECONNREFUSED …) or message of the transport's error. */
const transportReason = (cause: unknown): string => {
  let reason = String((cause as Error)?.message ?? cause)
  let current: any = cause
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (typeof current.code === "string") {
      return current.code === "ECONNREFUSED" ? "connection refused" : current.code === "ENOTFOUND" ? "unknown host" : current.code
    }
    if (typeof current.message === "string" && current.message !== "") reason = current.message
    current = current.cause
  }
  return reason
}

/**
 * The message of an error body: `{ error, field }` from core, the first of `issues` from
 * an API's schema check (the path is the field), `{ message }` from an API's tagged
 * error, else its text.
 */
const describeBody = (body: unknown, statusText: string): { error: string; field?: string | undefined } => {
  const oneLine = (text: string) => text.replace(/\s*\n\s*/g, "; ").trim()
  if (typeof body === "object" && body !== null) {
    const record = body as Record<string, unknown>
    const issues = Array.isArray(record.issues) ? record.issues as Array<{ path?: unknown; message?: unknown }> : []
    if (issues.length > 0 && typeof issues[0]!.message === "string") {
      const path = Array.isArray(issues[0]!.path) ? issues[0]!.path.join(".") : ""
      // the first issue is the one to read: the others are mostly the same value against `undefined`
      return { error: oneLine(issues[0]!.message as string), field: path === "" ? undefined : path }
    }
    const text = typeof record.error === "string" ? record.error : typeof record.message === "string" ? record.message : undefined
    if (text !== undefined) return { error: oneLine(text), field: typeof record.field === "string" ? record.field : undefined }
    return { error: oneLine(JSON.stringify(body)) }
  }
  return { error: typeof body === "string" && body !== "" ? oneLine(body).slice(0, 300) : statusText }
}

const parse = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The client over `fetch`, for a daemon at `options.url`. */
export const make = (options: Options): Effect.Effect<DaemonClientService, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const url = options.url.replace(/\/+$/, "")
    const defaultTimeout = options.timeout ?? Duration.seconds(30)
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((request) =>
        options.token === undefined ? request : HttpClientRequest.bearerToken(request, options.token)
      )
    )

    const build = (method: string, path: string, opts: RequestOptions) => {
      let request = HttpClientRequest.make(method.toUpperCase() as "GET")(url + path).pipe(
        HttpClientRequest.acceptJson
      )
      const query = Object.entries(opts.query ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)] as [string, string]]))
      if (query.length > 0) request = HttpClientRequest.setUrlParams(request, query)
      if (opts.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, opts.body)
      if (opts.form !== undefined) request = HttpClientRequest.bodyUrlParams(request, opts.form as Array<[string, string]>)
      return request
    }

    /** The answer of a request, failures said plainly; a non-2xx answer is a `DaemonError`. */
    const send = (method: string, path: string, opts: RequestOptions) =>
      client.execute(build(method, path, opts)).pipe(
        Effect.mapError((error) =>
          new DaemonUnreachable({ url, reason: error._tag === "RequestError" ? transportReason(error.cause) : error.message })
        ),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? Effect.succeed(response)
            : Effect.flatMap(Effect.orElseSucceed(response.text, () => ""), (text) => {
              const body = parse(text)
              return Effect.fail(
                new DaemonError({
                  method,
                  path,
                  status: response.status,
                  ...describeBody(body, String(response.status)),
                  retryAfter: response.headers["retry-after"],
                  body
                })
              )
            })
        )
      )

    const bounded = <A, E>(method: string, path: string, opts: RequestOptions, effect: Effect.Effect<A, E>) => {
      const timeout = opts.timeout ?? defaultTimeout
      return timeout === "none" ? effect : effect.pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new DaemonTimeout({ url, method, path, timeout: Duration.decode(timeout) })
        })
      )
    }

    const request = <A>(method: string, path: string, opts: RequestOptions = {}) =>
      bounded(
        method,
        path,
        opts,
        Effect.flatMap(send(method, path, opts), (response) =>
          Effect.map(Effect.orElseSucceed(response.text, () => ""), (text) => parse(text) as A))
      )

    return {
      url,
      request,
      get: (path, query) => request("GET", path, { query }),
      post: (path, body) => request("POST", path, { body: body ?? {} }),
      stream: (method, path, opts = {}) => bounded(method, path, opts, send(method, path, opts))
    } satisfies DaemonClientService
  })

/** The client as a service, over the platform's `fetch`. */
export const layer = (options: Options): Layer.Layer<DaemonClient> =>
  Layer.effect(DaemonClient, make(options)).pipe(Layer.provide(FetchHttpClient.layer))
