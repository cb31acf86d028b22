/**
 * What the interactive TUI reads and does, over the daemon's HTTP API only: a promise-based
 * face of `DaemonClient` for React, and `watch`, the daemon's `/events` stream followed
 * with reconnection (the daemon going away and coming back).
 */
import type { JobHistoryView, JobView, OverviewView, ResourceView } from "@orch/core/CoreApi"
import { type DaemonClientError, DaemonClient, DaemonError } from "@orch/core/DaemonClient"
import type { LoopStatus } from "@orch/core/Supervisor"
import type { Action, View, ViewSummary } from "@orch/core/TuiViews"
import { type Duration, Effect, Either, Fiber, Option, Runtime, Schedule, Stream } from "effect"

export type Job = typeof JobView.Type
export type JobHistoryEntry = typeof JobHistoryView.Type
export type Resource = typeof ResourceView.Type
export type PluginView = typeof View.Type
export type PluginViewSummary = typeof ViewSummary.Type
/** An action on a row, as a view declares it (`path` from the daemon's root, `{x}` the row's `x`). */
export type ViewAction = typeof Action.Type
/** A row's hidden values by name. */
export type RowKey = Readonly<Record<string, string>>

export interface Overview extends Omit<typeof OverviewView.Type, "plugins"> {
  readonly status: string
  readonly loops: ReadonlyArray<LoopStatus>
}

export interface JobFilter {
  readonly plugin?: string | undefined
  readonly kind?: string | undefined
  readonly state?: string | undefined
}

/** A failed request: `status` is the HTTP status when the daemon answered (403: the token may not), `reason` its own words. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number | undefined, readonly reason?: string | undefined) {
    super(message)
  }
}

/** The live connection's news: a change in the daemon, or the daemon lost or found again. */
export type LiveEvent = { readonly _tag: "change" } | { readonly _tag: "down"; readonly reason: string } | { readonly _tag: "up" }

export interface TuiApi {
  readonly url: string
  readonly overview: () => Promise<Overview>
  /** `/readyz`'s status (ready, degraded, draining), for the header. */
  readonly health: () => Promise<string>
  readonly jobs: (filter: JobFilter) => Promise<ReadonlyArray<Job>>
  readonly job: (id: number) => Promise<{ readonly job: Job; readonly history: ReadonlyArray<JobHistoryEntry> }>
  readonly resources: () => Promise<ReadonlyArray<Resource>>
  readonly views: () => Promise<ReadonlyArray<PluginViewSummary>>
  readonly view: (plugin: string, name: string) => Promise<PluginView>
  /** One action's request, its path and body filled already (see `Content.requestOf`): the daemon's answer. */
  readonly perform: (request: { readonly method: string; readonly path: string; readonly body?: unknown }) => Promise<unknown>
  /** Follows `/events` until the returned function is called; reconnects every `retryMs` while the daemon is away. */
  readonly watch: (listener: (event: LiveEvent) => void, retryMs?: number) => () => void
}

/** `/readyz` answers 503 with its body while degraded or draining: that body is the status too. */
const readiness = (daemon: DaemonClient["Type"]) =>
  daemon.get<{ status: string; loops: ReadonlyArray<LoopStatus> }>("/readyz").pipe(
    Effect.catchIf(
      (error): error is DaemonError => error instanceof DaemonError && error.status === 503 && typeof error.body === "object",
      (error) => Effect.succeed(error.body as { status: string; loops: ReadonlyArray<LoopStatus> })
    )
  )

const toApiError = (error: DaemonClientError) =>
  error._tag === "DaemonError" ? new ApiError(error.message, error.status, error.error) : new ApiError(error.message, undefined)

/** The `event:` names of a server-sent events text stream; it fails when even heartbeats stop for `silentFor`. */
export const eventNames = <E>(bytes: Stream.Stream<Uint8Array, E>, silentFor: Duration.DurationInput = "45 seconds") =>
  bytes.pipe(
    Stream.timeoutFail(() => new Error("the daemon went silent"), silentFor),
    Stream.decodeText(),
    Stream.splitLines,
    Stream.filterMap((line) => (line.startsWith("event: ") ? Option.some(line.slice(7)) : Option.none()))
  )

export const make = Effect.gen(function*() {
  const daemon = yield* DaemonClient
  const runtime = yield* Effect.runtime<never>()
  // rejects with the ApiError itself (runPromise would wrap it in a FiberFailure)
  const run = <A>(effect: Effect.Effect<A, DaemonClientError>) =>
    Runtime.runPromise(runtime)(Effect.either(effect)).then((result) =>
      Either.isLeft(result) ? Promise.reject(toApiError(result.left)) : result.right
    )
  const query = (filter: JobFilter) => ({ plugin: filter.plugin, kind: filter.kind, state: filter.state, limit: 1000 })
  const api: TuiApi = {
    url: daemon.url,
    overview: () =>
      run(Effect.map(
        Effect.all([readiness(daemon), daemon.get<typeof OverviewView.Type>("/overview")], { concurrency: 2 }),
        ([ready, overview]) => ({ status: ready.status, loops: ready.loops, jobs: overview.jobs, resources: overview.resources, rates: overview.rates })
      )),
    health: () => run(Effect.map(readiness(daemon), (ready) => ready.status)),
    jobs: (filter) => run(daemon.get("/jobs", query(filter))),
    job: (id) => run(daemon.get(`/jobs/${id}`)),
    resources: () => run(daemon.get("/resources")),
    views: () => run(daemon.get("/tui/views")),
    view: (plugin, name) => run(daemon.get(`/tui/views/${encodeURIComponent(plugin)}/${encodeURIComponent(name)}`)),
    perform: (request) => run(daemon.request(request.method, request.path, request.body === undefined ? {} : { body: request.body })),
    watch: (listener, retryMs = 1000) => {
      let down = false
      const connect = Effect.gen(function*() {
        const response = yield* daemon.stream("GET", "/events", { timeout: "10 seconds" })
        if (down) listener({ _tag: "up" })
        down = false
        yield* eventNames(response.stream).pipe(
          Stream.runForEach((name) => Effect.sync(() => name === "change" && listener({ _tag: "change" })))
        )
        return yield* Effect.fail(new Error("the daemon closed the event stream"))
      }).pipe(
        Effect.tapError((error) =>
          Effect.sync(() => {
            down = true
            listener({ _tag: "down", reason: error instanceof Error ? error.message : String(error) })
          })
        ),
        Effect.retry(Schedule.spaced(`${retryMs} millis`))
      )
      const fiber = Runtime.runFork(runtime)(Effect.scoped(connect))
      return () => Runtime.runFork(runtime)(Fiber.interrupt(fiber))
    }
  }
  return api
})
