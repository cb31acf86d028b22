/** What the TUI shows, read from the shared database and the running daemon. */
import type { JobCount } from "@orch/core/Jobs"
import { JobQueue } from "@orch/core/Jobs"
import { Config } from "@orch/core/Config"
import { Plugins, type TuiPanel } from "@orch/core/Plugin"
import { type ResourceCount, Resources } from "@orch/core/Resources"
import type { LoopStatus } from "@orch/core/Supervisor"
import { Effect } from "effect"

export interface Snapshot {
  readonly at: number
  readonly database: string
  readonly daemon: { readonly url: string; readonly status: string; readonly loops: ReadonlyArray<LoopStatus> }
  readonly jobs: ReadonlyArray<JobCount>
  readonly resources: ReadonlyArray<ResourceCount>
  readonly plugins: ReadonlyArray<{ readonly name: string; readonly panels: ReadonlyArray<TuiPanel> }>
}

const daemonStatus = (url: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(800) })
    const body = await response.json() as { status: string; loops: ReadonlyArray<LoopStatus> }
    return { url, status: body.status, loops: body.loops }
  }).pipe(Effect.orElseSucceed(() => ({ url, status: "not running", loops: [] as ReadonlyArray<LoopStatus> })))

export const snapshot = (daemonUrl: string) =>
  Effect.gen(function*() {
    const config = yield* Config
    const queue = yield* JobQueue
    const resources = yield* Resources
    const plugins = yield* Plugins
    const [jobs, resourceCounts, daemon] = yield* Effect.all(
      [queue.countByState(), resources.countByState(), daemonStatus(daemonUrl)],
      { concurrency: "unbounded" }
    )
    const panels = yield* Effect.forEach(plugins, (plugin) =>
      plugin.tui
        ? plugin.tui(config.plugins[plugin.name]).pipe(
          Effect.map((panels) => ({ name: plugin.name, panels })),
          Effect.catchAllCause(() =>
            Effect.succeed({ name: plugin.name, panels: [{ title: "unavailable", columns: [], rows: [] }] })
          )
        )
        : Effect.succeed({ name: plugin.name, panels: [] }))
    return {
      at: Date.now(),
      database: config.databaseFile,
      daemon,
      jobs,
      resources: resourceCounts,
      plugins: panels.filter((p) => p.panels.length > 0)
    } satisfies Snapshot
  })
