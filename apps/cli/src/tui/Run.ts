/**
 * How `orch tui` runs once its daemon client is known: one frame for scripts (`--once`,
 * or without a terminal), else the interactive TUI on the terminal's alternate screen.
 * Shared by the `tui` command of the full CLI and by the TUI's own light entry (`Main.ts`).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type DaemonClient, type DaemonClientError, layer as daemonClient } from "@orch/core/DaemonClient"
import { Cause, Effect } from "effect"
import { describeFailure } from "../Failure.js"
import type { TuiArgs } from "./Args.js"

// the terminal's alternate screen: entered on start, left on exit, so the scrollback stays as it was
const enterAlternateScreen = "\x1b[?1049h\x1b[H"
const leaveAlternateScreen = "\x1b[?1049l"

export interface TuiOptions {
  readonly once: boolean
  /** The view to open: overview, jobs, resources or <plugin>/<view>. */
  readonly view: string | undefined
}

/** One frame, 120 columns wide, on stdout. */
export const once: Effect.Effect<void, DaemonClientError, DaemonClient> = Effect.gen(function*() {
  const [{ snapshot }, ink, React, view] = yield* Effect.promise(() =>
    Promise.all([import("./Snapshot.js"), import("ink"), import("react"), import("./View.js")])
  )
  const first = yield* snapshot
  const text = ink.renderToString(React.createElement(view.View, { snapshot: first }), { columns: 120 })
  yield* Effect.sync(() => process.stdout.write(text.endsWith("\n") ? text : text + "\n"))
})

/**
 * Ink decides once, when it is first imported (`is-in-ci`: `CI` or `CONTINUOUS_INTEGRATION`
 * set and not 0 or false), that it runs in CI, and then draws only the last frame and
 * ignores resizes. The interactive TUI runs only on a terminal, so it is interactive
 * whatever CI says: its modules are imported with those two hidden, then put back.
 */
const importOnTerminal = async <A>(load: () => Promise<A>): Promise<A> => {
  const hidden = ["CI", "CONTINUOUS_INTEGRATION"].flatMap((name) => {
    const value = process.env[name]
    delete process.env[name]
    return value === undefined ? [] : [[name, value] as const]
  })
  try {
    return await load()
  } finally {
    for (const [name, value] of hidden) process.env[name] = value
  }
}

/** The interactive TUI until `q` (or the fiber is interrupted: a signal); the screen is restored either way. */
export const interactive = (initialView: string | undefined): Effect.Effect<void, never, DaemonClient> =>
  Effect.gen(function*() {
    const [Api, ink, React, { App }] = yield* Effect.promise(() =>
      importOnTerminal(() => Promise.all([import("./Api.js"), import("ink"), import("react"), import("./App.js")]))
    )
    const api = yield* Api.make
    yield* Effect.acquireUseRelease(
      Effect.sync(() => {
        process.stdout.write(enterAlternateScreen)
        // Ink draws at most 30 times a second by default: a change that comes just after a
        // draw (the view's new content right after the tick that asked for it) waited up to
        // 33 ms. It draws only when something changed, so allowing 60 costs nothing while idle.
        return ink.render(React.createElement(App, { api, view: initialView }), { exitOnCtrlC: false, maxFps: 60 })
      }),
      (app) => Effect.promise(() => app.waitUntilExit()),
      (app) =>
        Effect.sync(() => {
          app.unmount()
          process.stdout.write(leaveAlternateScreen)
        })
    )
  })

/** `--once`, or no terminal on either side: one frame; else the interactive TUI. */
export const run = (options: TuiOptions) =>
  options.once || !process.stdout.isTTY || !process.stdin.isTTY ? once : interactive(options.view)

/** The light entry's run (`Main.ts`): the TUI with its own client of the daemon, a failure printed as the full CLI prints it. */
export const main = (args: TuiArgs) =>
  run(args).pipe(
    Effect.provide(daemonClient({ url: args.url, token: args.token })),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() => {
        process.stderr.write(`orch: ${describeFailure(cause)}\n`)
        process.exitCode = 1
      })
    ),
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
