/**
 * Job workers in three processes share one database (a SQLite file, or PostgreSQL in the
 * postgres pass); one is SIGKILLed while it holds a batch of leases and outcomes not yet
 * committed. After its leases expire the others take its jobs over: every job must end
 * succeeded, completed exactly once (one completion row in its history), none lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as path from "node:path"
import * as readline from "node:readline"
import * as Jobs from "../src/Jobs.js"
import { Chore, type WorkerReport } from "./fixtures/jobWorker.js"
import { bundleFixture, tempDir, testDatabase, testDatabasePlace } from "@orch/testing"

interface WorkerProcess {
  readonly ready: Promise<void>
  readonly go: () => void
  /** Resolves once the process has started this many handler calls. */
  readonly handledAtLeast: (n: number) => Promise<void>
  readonly kill: () => void
  readonly handled: () => ReadonlyArray<number>
  /** The report, or undefined if the process was killed. */
  readonly exit: Promise<WorkerReport | undefined>
}

const startWorker = (script: string, filename: string, owner: string, total: number): WorkerProcess => {
  const child = spawn(process.execPath, [script, filename, owner, String(total)], { stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += chunk))
  const lines = readline.createInterface({ input: child.stdout })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const handled: Array<number> = []
  const waiting: Array<[number, () => void]> = []
  let report: WorkerReport | undefined
  lines.on("line", (line) => {
    if (line === "ready") markReady()
    else if (line.startsWith("handled ")) {
      handled.push(Number(line.slice("handled ".length)))
      for (const [n, resolve] of waiting) if (handled.length >= n) resolve()
    } else if (line.startsWith("{")) report = JSON.parse(line)
  })
  const exit = new Promise<WorkerReport | undefined>((resolve, reject) => {
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve(undefined)
      else if (code === 0 && report !== undefined) resolve(report)
      else reject(new Error(`worker ${owner} exited with ${code ?? signal}: ${stderr}`))
    })
  })
  return {
    ready,
    go: () => child.stdin.end("go\n"),
    handledAtLeast: (n) => new Promise((resolve) => (handled.length >= n ? resolve() : waiting.push([n, resolve]))),
    kill: () => child.kill("SIGKILL"),
    handled: () => handled,
    exit
  }
}

describe("JobWorker across processes", () => {
  it.scopedLive("a process SIGKILLed mid-batch loses and duplicates no job", () =>
    Effect.gen(function*() {
      const script = yield* bundleFixture(path.join(import.meta.dirname, "fixtures", "jobWorker.ts"))
      const filename = path.join(tempDir(), "shared.sqlite")
      const jobCount = 400
      const queueLayer = Jobs.JobQueue.layer([Chore]).pipe(Layer.provideMerge(testDatabase(filename)))

      yield* Effect.gen(function*() {
        const queue = yield* Jobs.JobQueue
        yield* queue.enqueueMany(Chore, Array.from({ length: jobCount }, (_, n) => ({ payload: { n } })))
      }).pipe(Effect.provide(queueLayer))

      const place = yield* Effect.promise(() => testDatabasePlace(filename))
      const [victim, ...survivors] = ["victim", "a", "b"].map((owner) => startWorker(script, place, owner, jobCount))
      yield* Effect.promise(() => Promise.all([victim, ...survivors].map((w) => w.ready)))
      for (const w of [victim, ...survivors]) w.go()
      yield* Effect.promise(() => victim.handledAtLeast(30))
      victim.kill()
      expect(yield* Effect.promise(() => victim.exit)).toBeUndefined()
      const reports = (yield* Effect.promise(() => Promise.all(survivors.map((w) => w.exit)))) as Array<WorkerReport>

      // the survivors did the work, and between all three every job was handled
      for (const report of reports) expect(report.handled.length).toBeGreaterThan(0)
      const handled = new Set([...victim.handled(), ...reports.flatMap((r) => r.handled)])
      expect(handled.size).toBe(jobCount)

      yield* Effect.gen(function*() {
        const queue = yield* Jobs.JobQueue
        expect(yield* queue.countByState()).toEqual([{ plugin: "proc", kind: "chore", state: "succeeded", count: jobCount }])
        const jobs = yield* queue.list({ kind: "chore", limit: jobCount + 1 })
        expect(jobs).toHaveLength(jobCount)
        let takenOver = 0
        for (const job of jobs) {
          const history = yield* queue.history(job.id)
          const completions = history.filter((h) => h.to === "succeeded")
          expect(completions).toHaveLength(1)
          expect(job.result).toEqual({ by: completions[0].owner })
          const expired = history.filter((h) => h.reason.includes("expired"))
          if (expired.length > 0) {
            takenOver++
            // the dead process's lease was counted as a lost attempt, and someone else finished the job
            expect(expired.map((h) => h.owner)).toEqual(["victim"])
            expect(completions[0].owner).not.toBe("victim")
            expect(job.attempts).toBe(1)
          }
        }
        // it died holding leases
        expect(takenOver).toBeGreaterThan(0)
      }).pipe(Effect.provide(queueLayer))
    }), { timeout: 60_000 })
})
