/**
 * The overview's rates (`JobRates`) on a history of 100,000 entries: what a read costs
 * when the past minutes are kept (every read but the first of a minute: the current
 * minute only) and when the whole 30-minute window is read (the first of a minute).
 *
 *   node --import tsx packages/core/bench/rates.ts [--history 100000] [--busy]
 *
 * The history spans two days by default; `--busy` puts all of it in the last 30 minutes
 * (the worst case: a window of 100,000 entries). The last line is
 * `rates: history=<n> current_minute_ms=<p50> window_ms=<p50>`.
 */
import { Effect, Layer, Schema } from "effect"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as JobRates from "../src/JobRates.js"
import { seedJobs, tempDir, testDatabase } from "@orch/testing"

const { values: args } = parseArgs({ options: { history: { type: "string", default: "100000" }, busy: { type: "boolean", default: false } } })
const history = Number(args.history)
const Work = JobKind.simple({ plugin: "demo", name: "work", payload: Schema.Struct({}), result: Schema.Struct({}) })
const now = Date.now()
const span = args.busy ? 29 * 60_000 : 2 * 86_400_000
const step = Math.max(1, Math.floor(span / history))

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const program = Effect.gen(function*() {
  yield* seedJobs({ plugin: "demo", kind: "work", state: "succeeded", count: history, updatedAt: now - span, step, history: 1 })
  const timed = (effect: Effect.Effect<unknown, unknown, any>) =>
    Effect.gen(function*() {
      const started = performance.now()
      yield* effect
      return performance.now() - started
    })
  const window: Array<number> = []
  const current: Array<number> = []
  for (let i = 0; i < 20; i++) {
    // a new reader keeps nothing: its first read is the whole window
    const read = yield* JobRates.make
    window.push(yield* timed(read(now)))
    for (let j = 0; j < 10; j++) current.push(yield* timed(read(now)))
  }
  console.log(`rates: history=${history}${args.busy ? " (all in the window)" : ""} current_minute_ms=${median(current).toFixed(2)} window_ms=${median(window).toFixed(2)}`)
})

await Effect.runPromise(program.pipe(
  Effect.provide(JobQueue.layer([Work]).pipe(Layer.provideMerge(testDatabase(path.join(tempDir("orch-bench-rates-"), "orch.sqlite"))))),
  Effect.scoped
) as Effect.Effect<void>)
