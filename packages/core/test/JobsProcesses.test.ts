/**
 * Real processes share one database (a SQLite file, or PostgreSQL in the postgres pass): each claims and completes jobs while the others
 * do (one a job per call, one a batch per call), and one dies holding leases. Every job
 * must end completed exactly once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as path from "node:path"
import * as readline from "node:readline"
import * as Jobs from "../src/Jobs.js"
import { type ClaimerReport, Task } from "./fixtures/claimer.js"
import { bundleFixture, tempDir, testDatabase, testDatabasePlace } from "@orch/testing"

interface Claimer {
  readonly ready: Promise<void>
  readonly go: () => void
  readonly report: Promise<ClaimerReport>
}

const startClaimer = (script: string, filename: string, owner: string, extra: ReadonlyArray<string> = []): Claimer => {
  const child = spawn(process.execPath, [script, filename, owner, ...extra], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr += chunk))
  const lines = readline.createInterface({ input: child.stdout })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  let lastLine = ""
  lines.on("line", (line) => {
    if (line === "ready") markReady()
    else lastLine = line
  })
  const report = new Promise<ClaimerReport>((resolve, reject) => {
    child.on("close", (code) => {
      if (lastLine.startsWith("{")) resolve(JSON.parse(lastLine))
      else reject(new Error(`claimer ${owner} exited with ${code} without a report: ${stderr}`))
    })
  })
  return { ready, go: () => child.stdin.end("go\n"), report }
}

describe("JobQueue across processes", () => {
  it.scopedLive("three processes complete every job exactly once, one batched, one crashing with leases held", () =>
    Effect.gen(function*() {
      const script = yield* bundleFixture(path.join(import.meta.dirname, "fixtures", "claimer.ts"))
      const filename = path.join(tempDir(), "shared.sqlite")
      const jobCount = 300
      const queueLayer = Jobs.JobQueue.layer([Task]).pipe(Layer.provideMerge(testDatabase(filename)))

      yield* Effect.gen(function*() {
        const queue = yield* Jobs.JobQueue
        for (let n = 0; n < jobCount / 2; n++) yield* queue.enqueue(Task, { n })
        yield* queue.enqueueMany(Task, Array.from({ length: jobCount / 2 }, (_, i) => ({ payload: { n: jobCount / 2 + i } })))
      }).pipe(Effect.provide(queueLayer))

      const place = yield* Effect.promise(() => testDatabasePlace(filename))
      const claimers = [
        startClaimer(script, place, "crasher", ["--lease-ms", "300", "--crash-after", "20"]),
        startClaimer(script, place, "a"),
        startClaimer(script, place, "b", ["--batched"])
      ]
      // all start claiming together, once every process has loaded and opened the file
      yield* Effect.promise(() => Promise.all(claimers.map((c) => c.ready)))
      claimers.forEach((c) => c.go())
      const [crasher, ...workers] = yield* Effect.promise(() => Promise.all(claimers.map((c) => c.report)))

      const completed = [...crasher.completed, ...workers.flatMap((w) => w.completed)]
      expect(crasher.completed.length).toBeGreaterThanOrEqual(20)
      expect(crasher.abandoned.length).toBeGreaterThan(0)
      expect(new Set(completed).size).toBe(completed.length)
      expect(completed.length).toBe(jobCount)
      // the work really was shared
      for (const worker of workers) expect(worker.completed.length).toBeGreaterThan(0)
      const tokens = [...crasher.tokens, ...workers.flatMap((w) => w.tokens)]
      expect(new Set(tokens).size).toBe(tokens.length)

      yield* Effect.gen(function*() {
        const queue = yield* Jobs.JobQueue
        expect(yield* queue.countByState()).toEqual([{ plugin: "proc", kind: "task", state: "succeeded", count: jobCount }])
        const jobs = yield* queue.list({ kind: "task", limit: jobCount + 1 })
        expect(jobs).toHaveLength(jobCount)
        for (const job of jobs) {
          const history = yield* queue.history(job.id)
          expect(history.filter((h) => h.to === "succeeded")).toHaveLength(1)
          const done = history.find((h) => h.to === "succeeded")!
          expect(job.result).toEqual({ by: done.owner })
          if (crasher.abandoned.includes(job.id)) {
            // the crashed holder's lease was recorded as a lost attempt before another took the job
            expect(history.map((h) => [h.from, h.to, h.owner])).toEqual([
              [undefined, "queued", undefined],
              ["queued", "queued", "crasher"],
              ["queued", "succeeded", done.owner]
            ])
            expect(history[1].reason).toContain("expired")
            expect(job.attempts).toBe(1)
            expect(done.owner).not.toBe("crasher")
          } else {
            expect(history.map((h) => [h.from, h.to])).toEqual([[undefined, "queued"], ["queued", "succeeded"]])
          }
        }
      }).pipe(Effect.provide(queueLayer))
    }), { timeout: 60_000 })
})
