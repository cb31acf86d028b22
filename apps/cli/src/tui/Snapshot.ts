/** What the TUI shows, asked of the running daemon over its HTTP API. */
import type { OverviewView } from "@orch/core/CoreApi"
import { DaemonClient, DaemonError } from "@orch/core/DaemonClient"
import type { LoopStatus } from "@orch/core/Supervisor"
import { Effect } from "effect"

type Overview = typeof OverviewView.Type

export interface Snapshot {
  readonly at: number
  readonly daemon: { readonly url: string; readonly status: string; readonly loops: ReadonlyArray<LoopStatus> }
  readonly jobs: Overview["jobs"]
  readonly resources: Overview["resources"]
  readonly plugins: Overview["plugins"]
}

/** `/readyz` answers 503 with its body while degraded or draining: that body is the status too. */
const readiness = Effect.flatMap(DaemonClient, (daemon) =>
  daemon.get<{ status: string; loops: ReadonlyArray<LoopStatus> }>("/readyz").pipe(
    Effect.catchIf(
      (error): error is DaemonError => error instanceof DaemonError && error.status === 503 && typeof error.body === "object",
      (error) => Effect.succeed(error.body as { status: string; loops: ReadonlyArray<LoopStatus> })
    )
  ))

export const snapshot = Effect.gen(function*() {
  const daemon = yield* DaemonClient
  const [ready, overview] = yield* Effect.all([readiness, daemon.get<Overview>("/overview")], { concurrency: "unbounded" })
  return {
    at: Date.now(),
    daemon: { url: daemon.url, status: ready.status, loops: ready.loops },
    jobs: overview.jobs,
    resources: overview.resources,
    plugins: overview.plugins
  } satisfies Snapshot
})
