/** The benchmark process: exit codes, the last lines with their sources, the timeout killing its whole group. */
import { describe, expect, it } from "@effect/vitest"
import { tempDir } from "@orch/testing"
import { type Duration, Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { lineSplitter, OutputBuffer, runProcess, SpawnError } from "../src/worker/Runner.js"

const sh = (script: string, output = new OutputBuffer(100), timeout: Duration.DurationInput = "30 seconds") =>
  runProcess({ command: "/bin/sh", args: ["-c", script], cwd: tempDir(), timeout, output }, "200 millis")

/** Running (a zombie is dead: where PID 1 does not reap, a killed orphan stays one). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, "utf8") : ""
  return !/^\d+ \(.*\) Z/.test(stat)
}

/** Waits (real time, bounded) until `file` has a pid in it. */
const pidIn = (file: string) =>
  Effect.promise(async () => {
    for (let i = 0; i < 400; i++) {
      const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : ""
      if (text !== "") return Number(text)
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`no pid in ${file}`)
  })

describe("runProcess", () => {
  it.live("exit code, stdout kept whole, every line with its source in order", () =>
    Effect.gen(function*() {
      const output = new OutputBuffer(100)
      const outcome = yield* sh("echo one; echo two >&2; printf 'three\\nno newline'; exit 3", output)
      expect(outcome).toMatchObject({ exitCode: 3, signal: null, timedOut: false, stdout: "one\nthree\nno newline" })
      // stdout and stderr are two pipes: each in its order, but not ordered between them
      expect(output.last().filter(([source]) => source === 1)).toEqual([[1, "one"], [1, "three"], [1, "no newline"]])
      expect(output.last().filter(([source]) => source === 2)).toEqual([[2, "two"]])
    }))

  it.live("keeps only the last lines: of 1000 lines the last 10, oldest first", () =>
    Effect.gen(function*() {
      const output = new OutputBuffer(10)
      yield* sh("i=1; while [ $i -le 1000 ]; do echo line $i; i=$((i+1)); done", output)
      expect(output.total).toBe(1000)
      expect(output.last().map(([, text]) => text)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${991 + i}`))
      expect(output.last(3).map(([, text]) => text)).toEqual(["line 998", "line 999", "line 1000"])
    }))

  it.live("a timeout kills the whole process group, the background child too, and says so", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const output = new OutputBuffer(100)
      // the background sleep would keep running (and hold stdout open) if only the shell were killed
      const outcome = yield* sh(`sleep 1000 & echo $! > ${pidFile}; echo started; wait`, output, "300 millis")
      expect(outcome.timedOut).toBe(true)
      expect(outcome.exitCode).toBe(128 + 15)
      const pid = yield* pidIn(pidFile)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10))
      })
      expect(alive(pid)).toBe(false)
      expect(output.last()).toEqual([[1, "started"], [0, "timed out after 300ms: killing its process group"]])
    }))

  it.live("a group that ignores SIGTERM gets SIGKILL after the grace period", () =>
    Effect.gen(function*() {
      const outcome = yield* sh(`trap '' TERM; sleep 1000 & wait; sleep 1000`, new OutputBuffer(10), "200 millis")
      expect(outcome.timedOut).toBe(true)
      expect(outcome.signal === "SIGKILL" || outcome.exitCode === 128 + 9).toBe(true)
    }))

  it.live("interrupting the fiber (an abort, a shutdown) kills the group", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const fiber = yield* Effect.fork(sh(`sleep 1000 & echo $! > ${pidFile}; wait`))
      const pid = yield* pidIn(pidFile)
      expect(alive(pid)).toBe(true)
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10))
      })
      expect(alive(pid)).toBe(false)
    }))

  it.live("a leader that exits leaves no straggler behind", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const pidFile = path.join(dir, "pid")
      const outcome = yield* sh(`(sleep 1000 >/dev/null 2>&1 &  echo $! > ${pidFile}); echo done`)
      expect(outcome.exitCode).toBe(0)
      const pid = yield* pidIn(pidFile)
      // SIGKILL is delivered at once but the kernel reaps a moment later
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10))
      })
      expect(alive(pid)).toBe(false)
    }))

  it.live("a command that cannot start is a SpawnError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(runProcess({ command: "/no/such/bench", args: [], cwd: tempDir(), timeout: "1 second", output: new OutputBuffer(1) }))
      expect(error).toBeInstanceOf(SpawnError)
      expect(error.message).toContain("/no/such/bench")
    }))

  it("splits lines across chunks, \\r\\n too", () => {
    const lines: Array<string> = []
    const split = lineSplitter((line) => lines.push(line))
    split.push("a\r\nb")
    split.push("c\nd")
    split.end()
    expect(lines).toEqual(["a", "bc", "d"])
  })
})
