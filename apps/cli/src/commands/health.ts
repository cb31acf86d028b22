/**
 * `orch health [--ready]`: asks the daemon's `/healthz` (it answers) or `/readyz` (every loop
 * and plugin well, the database writable) and exits 0 when it is, 1 when not: the probe of a
 * container's HEALTHCHECK or a script, with no token needed and nothing else installed.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { DaemonClient } from "@orch/core/DaemonClient"
import { Effect } from "effect"

export const healthCommand = Cli.command(
  "health",
  {
    ready: Options.boolean("ready").pipe(Options.withDescription("Ask /readyz (503 while a loop fails or the database cannot be written) rather than /healthz"))
  },
  (args) =>
    Effect.gen(function*() {
      const daemon = yield* DaemonClient
      const answer = yield* daemon.get<{ readonly status: string }>(args.ready ? "/readyz" : "/healthz")
      yield* Cli.print(answer.status)
    })
).pipe(Command.withDescription("Exit 0 when the daemon answers /healthz (with --ready: /readyz), else 1; for health checks"))
