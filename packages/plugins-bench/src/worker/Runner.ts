/**
 * Runs one benchmark process: in a process group of its own, so that a timeout or an abort kills
 * everything it started (a shell's children, a build's compilers), with its output split into
 * lines as they come (each with its source, for the status's last lines) and its whole stdout
 * kept (up to a bound) for the measurements.
 */
import { Data, Duration, Effect, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as os from "node:os"
import { type OutputLineValue as OutputLine, Source } from "./Protocol.js"

/** The process could not be started (no such file, not executable …). */
export class SpawnError extends Data.TaggedError("SpawnError")<{ readonly command: string; readonly reason: string }> {
  override get message() {
    return `could not start ${this.command}: ${this.reason}`
  }
}

/** The last `capacity` lines of output, each with where it came from; older lines are dropped. */
export class OutputBuffer {
  private lines: Array<OutputLine> = []
  private start = 0
  /** Lines added in all, dropped ones included. */
  total = 0

  constructor(readonly capacity: number, readonly maxLineLength = 4096) {}

  add(source: OutputLine[0], text: string): void {
    const line: OutputLine = [source, text.length > this.maxLineLength ? `${text.slice(0, this.maxLineLength)}…` : text]
    this.total++
    if (this.lines.length < this.capacity) this.lines.push(line)
    else {
      this.lines[this.start] = line
      this.start = (this.start + 1) % this.capacity
    }
  }

  /** The last `n` lines (all kept ones by default), oldest first. */
  last(n = this.capacity): ReadonlyArray<OutputLine> {
    const ordered = [...this.lines.slice(this.start), ...this.lines.slice(0, this.start)]
    return n >= ordered.length ? ordered : ordered.slice(ordered.length - n)
  }
}

/** Splits a stream's chunks into lines (`\n` or `\r\n`), handing each to `emit`; `end` flushes the rest. */
export const lineSplitter = (emit: (line: string) => void) => {
  let pending = ""
  return {
    push(chunk: string) {
      pending += chunk
      let newline: number
      while ((newline = pending.indexOf("\n")) >= 0) {
        emit(pending.slice(0, newline).replace(/\r$/, ""))
        pending = pending.slice(newline + 1)
      }
    },
    end() {
      if (pending !== "") emit(pending.replace(/\r$/, ""))
      pending = ""
    }
  }
}

export interface ProcessSpec {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Killed (the whole group) when it runs longer. */
  readonly timeout: Duration.DurationInput
  /** Where its lines go as they come. */
  readonly output: OutputBuffer
  /** Stdout kept for the measurements, at most this many bytes (16 MiB by default); more is dropped and said. */
  readonly maxStdoutBytes?: number | undefined
}

export interface ProcessOutcome {
  /** The exit code; for a process ended by a signal, 128 + its number (as a shell says it). */
  readonly exitCode: number
  readonly signal: NodeJS.Signals | null
  readonly timedOut: boolean
  readonly stdout: string
}

const killGroup = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.pid === undefined) return
  try {
    // a negative pid is the process group the child leads (it was spawned detached)
    process.kill(-child.pid, signal)
  } catch {
    // the group is gone already
  }
}

const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : -1)

/**
 * Runs `spec` to its end or its timeout. On timeout the group gets SIGTERM, then SIGKILL after
 * `killGrace`; when the fiber is interrupted (an abort, a shutdown) it gets SIGKILL at once.
 * After the leader exits, whatever is left of the group is killed too, so nothing outlives a run.
 */
export const runProcess = (spec: ProcessSpec, killGrace: Duration.DurationInput = "2 seconds") =>
  Effect.acquireUseRelease(
    Effect.async<{ child: ChildProcess; exited: Promise<ProcessOutcome>; stdout: () => string }, SpawnError>((resume) => {
      const child = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      const maxStdout = spec.maxStdoutBytes ?? 16 * 1024 * 1024
      const stdoutChunks: Array<string> = []
      let stdoutBytes = 0
      let stdoutCut = false
      const stdoutLines = lineSplitter((line) => spec.output.add(Source.stdout, line))
      const stderrLines = lineSplitter((line) => spec.output.add(Source.stderr, line))
      child.stdout!.setEncoding("utf8")
      child.stderr!.setEncoding("utf8")
      child.stdout!.on("data", (chunk: string) => {
        stdoutLines.push(chunk)
        if (stdoutBytes + chunk.length <= maxStdout) {
          stdoutChunks.push(chunk)
          stdoutBytes += chunk.length
        } else stdoutCut = true
      })
      child.stderr!.on("data", (chunk: string) => stderrLines.push(chunk))
      const exited = new Promise<ProcessOutcome>((done) => {
        child.once("close", (code, signal) => {
          stdoutLines.end()
          stderrLines.end()
          if (stdoutCut) spec.output.add(Source.internal, `stdout was longer than ${maxStdout} bytes: only its start is parsed`)
          done({ exitCode: exitCodeOf(code, signal), signal, timedOut: false, stdout: stdoutChunks.join("") })
        })
        // the leader is gone but a straggler of its group may hold the pipes open: end it
        child.once("exit", () => killGroup(child, "SIGKILL"))
      })
      child.once("spawn", () => resume(Effect.succeed({ child, exited, stdout: () => stdoutChunks.join("") })))
      child.once("error", (error) => resume(Effect.fail(new SpawnError({ command: spec.command, reason: error.message }))))
    }),
    ({ child, exited }) =>
      Effect.promise(() => exited).pipe(
        Effect.timeoutTo({ duration: spec.timeout, onSuccess: Option.some, onTimeout: () => Option.none<ProcessOutcome>() }),
        Effect.flatMap(Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            Effect.gen(function*() {
              spec.output.add(Source.internal, `timed out after ${Duration.format(spec.timeout)}: killing its process group`)
              killGroup(child, "SIGTERM")
              const ended = yield* Effect.promise(() => exited).pipe(Effect.timeoutOption(killGrace))
              if (Option.isNone(ended)) killGroup(child, "SIGKILL")
              const outcome = Option.isSome(ended) ? ended.value : yield* Effect.promise(() => exited)
              return { ...outcome, timedOut: true }
            })
        }))
      ),
    ({ child, exited }) =>
      Effect.gen(function*() {
        if (child.exitCode === null && child.signalCode === null) killGroup(child, "SIGKILL")
        yield* Effect.promise(() => exited)
      })
  )
