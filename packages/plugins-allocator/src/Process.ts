/** Runs a device's command (cleaning, health check) with a time limit, keeping the tail of its output. */
import { spawn } from "node:child_process"
import { Effect } from "effect"
import type { CommandLine } from "./Inventory.js"

export interface Outcome {
  /** null when it was killed (time limit) or could not start. */
  readonly exitCode: number | null
  /** stdout and stderr interleaved, the last `maxOutput` characters. */
  readonly output: string
  readonly timedOut: boolean
}

const maxOutput = 16 * 1024

export const run = (
  command: CommandLine,
  options: { readonly env: Readonly<Record<string, string>>; readonly timeoutMs: number }
): Effect.Effect<Outcome> =>
  Effect.async<Outcome>((resume) => {
    const [file, args] = typeof command === "string" ? ["/bin/sh", ["-c", command]] : [command[0], command.slice(1)]
    let output = ""
    let timedOut = false
    let settled = false
    const append = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-maxOutput)
    }
    // its own process group, so a time limit kills what it started too
    const child = spawn(file, args, { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"], detached: true })
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        child.kill("SIGKILL")
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, options.timeoutMs)
    child.stdout!.on("data", append)
    child.stderr!.on("data", append)
    const finish = (outcome: Outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(Effect.succeed(outcome))
    }
    child.once("error", (error) => finish({ exitCode: null, output: `${output}cannot run ${file}: ${error.message}`, timedOut }))
    child.once("close", (code) => finish({ exitCode: timedOut ? null : code, output, timedOut }))
    return Effect.sync(() => {
      clearTimeout(timer)
      if (!settled && child.pid !== undefined) kill()
    })
  })

export const describe = (outcome: Outcome, timeoutMs: number) =>
  outcome.timedOut
    ? `timed out after ${timeoutMs / 1000} s`
    : outcome.exitCode === null
    ? "could not start"
    : `exited with code ${outcome.exitCode}`
