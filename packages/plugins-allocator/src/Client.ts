/**
 * How the CLI reaches the running daemon: over HTTP, at `--url`, else $ORCH_URL, else
 * the address in the config (core.http), with the bearer token from `--token` or
 * $ORCH_ALLOCATOR_TOKEN.
 */
import * as Cli from "@orch/core/Cli"
import { Data, Effect, Option } from "effect"

export class ClientError extends Data.TaggedError("ClientError")<{
  readonly status: number | undefined
  readonly message: string
  readonly body: unknown
}> {}

export interface Client {
  readonly url: string
  readonly request: (method: string, path: string, body?: unknown) => Effect.Effect<any, ClientError>
}

export const make = (options: { readonly url: Option.Option<string>; readonly token: Option.Option<string> }) =>
  Effect.gen(function*() {
    const url = yield* Cli.daemonUrl(options.url)
    const token = Option.getOrUndefined(options.token)
    const request = (method: string, path: string, body?: unknown) =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(`${url}${path}`, {
            method,
            signal,
            headers: {
              ...(body === undefined ? {} : { "content-type": "application/json" }),
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          })
          const text = await response.text()
          let parsed: unknown = text
          try {
            parsed = JSON.parse(text)
          } catch {
            // not JSON: keep the text
          }
          return { status: response.status, body: parsed, retryAfter: response.headers.get("retry-after") }
        },
        catch: (cause) =>
          new ClientError({ status: undefined, message: `cannot reach the orch daemon at ${url}: ${String((cause as Error).cause ?? cause)} (start it with orch run, or pass --url)`, body: undefined })
      }).pipe(
        Effect.flatMap(({ body, retryAfter, status }) =>
          status >= 200 && status < 300
            ? Effect.succeed(body)
            : Effect.fail(
              new ClientError({
                status,
                body,
                message: `${method} ${path}: ${status} ${typeof body === "object" && body !== null && "error" in body ? String(body.error) : String(body)}${retryAfter ? ` (retry after ${retryAfter} s)` : ""}`
              })
            )
        )
      )
    return { url, request } satisfies Client
  })
