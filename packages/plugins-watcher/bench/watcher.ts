/**
 * The watcher under load: `--endpoints` endpoints (20,000 by default) on one-minute cron
 * schedules against a local HTTP target (a process of its own, so its CPU is not counted),
 * the watcher in this process over a real SQLite file, for `--seconds` (180 by default).
 *
 *   npm run bench -- watcher        (or: node --import tsx packages/plugins-watcher/bench/watcher.ts --endpoints 2000 --seconds 70)
 *
 * Prints, last:
 *   watcher-load: endpoints=<n> load_ms=<n> max_stall_ms=<n> max_slice_ms=<n> unchanged_ms=<n> in_flight=<n>
 *   watcher: endpoints=<n> checks/s=<n> lag_p50_ms=<n> lag_p99_ms=<n> missed=<n> cpu_us_per_check=<n>
 * load_ms is a re-read of the changed file while the checks run (at a third of the run),
 * max_stall_ms the longest the event loop was blocked meanwhile (perf_hooks'
 * monitorEventLoopDelay: by anything, the checks' own work and GC too), max_slice_ms the
 * longest of those blocks that was the read's own work, unchanged_ms a re-read of the
 * directory with nothing changed, in_flight the checks running or waiting at the re-read.
 * lag is start − scheduled time of every check started in the run; missed counts runs not
 * made (busy or behind); cpu is this process's user+system time after the endpoints were
 * read, over the checks made.
 * Each endpoint's offset spreads the minute's checks over `--jitter` seconds (54 by default).
 * The goal (issue 13): lag p99 < 1,000 ms and missed = 0 at 20,000 endpoints.
 */
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { Schedules } from "@orch/core/Schedules"
import { tempDir, testDatabase } from "@orch/testing"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Metric, Schema } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as readline from "node:readline"
import { parseArgs } from "node:util"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as Sinks from "../src/Sinks.js"
import { migrations } from "../src/sql.js"
import * as Watcher from "../src/Watcher.js"
import { WatcherConfig } from "../src/WatcherConfig.js"

const { values: args } = parseArgs({
  options: {
    endpoints: { type: "string", default: "20000" },
    seconds: { type: "string", default: "180" },
    concurrency: { type: "string", default: "256" },
    jitter: { type: "string", default: "54" }
  }
})
const endpointCount = Number(args.endpoints)
const seconds = Number(args.seconds)

/** The target: a plain node:http server answering `{"status":"ok"}`, in a child process. */
const startTarget = () =>
  new Promise<{ port: number; stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", `
      const http = require("node:http")
      const server = http.createServer((req, res) => { res.setHeader("content-type", "application/json"); res.end('{"status":"ok"}') })
      server.listen(0, "127.0.0.1", () => console.log(server.address().port))
    `], { stdio: ["ignore", "pipe", "inherit"] })
    readline.createInterface({ input: child.stdout! }).once("line", (line) => resolve({ port: Number(line), stop: () => child.kill("SIGKILL") }))
    child.once("error", reject)
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const main = Effect.gen(function*() {
  const target = yield* Effect.promise(startTarget)
  yield* Effect.addFinalizer(() => Effect.sync(target.stop))
  const dir = tempDir("orch-watcher-bench-")
  fs.mkdirSync(path.join(dir, "endpoints"))
  const lines: Array<string> = []
  for (let i = 0; i < endpointCount; i++) {
    lines.push(`e${i}:`, `  cron_schedule: "* * * * *"`, `  url: http://127.0.0.1:${target.port}/health?e=${i}`, `  success_test: { key: status, value: ok }`)
  }
  fs.writeFileSync(path.join(dir, "endpoints", "bench.yml"), lines.join("\n") + "\n")
  const config = Schema.decodeUnknownSync(WatcherConfig)({
    endpoints: path.join(dir, "endpoints"),
    concurrency: Number(args.concurrency),
    maxJitterSeconds: Number(args.jitter),
    keepResults: Math.ceil(seconds / 60) + 2,
    timeoutSeconds: 10
  })
  const sql = yield* SqlClient.SqlClient
  const startedAt = Date.now()
  const missedBefore = (yield* Metric.value(Watcher.missedRuns)).count
  const watcher = yield* Watcher.make(config)
  const loaded = Date.now()
  // from here: reading the file is paid once, not per check
  const cpuBefore = process.cpuUsage()
  // progress, so a run that falls behind shows where
  yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
    yield* Effect.sleep("30 seconds")
    const done = (yield* Metric.value(Watcher.checks.pipe(Metric.tagged("result", "success")))).count +
      (yield* Metric.value(Watcher.checks.pipe(Metric.tagged("result", "failure")))).count
    console.log(`  after ${Math.round((Date.now() - loaded) / 1000)} s: ${done} checks, ${yield* watcher.timetable.inFlight} in flight, ${(yield* Metric.value(Watcher.missedRuns)).count - missedBefore} missed`)
  })))
  // a re-read of the whole file while the checks run: how long, and the event loop's longest stall
  yield* Effect.sleep(`${Math.round(seconds / 3)} seconds`)
  fs.appendFileSync(path.join(dir, "endpoints", "bench.yml"), "# changed\n")
  const inFlightAtReRead = yield* watcher.timetable.inFlight
  const stalls = monitorEventLoopDelay({ resolution: 5 })
  stalls.enable()
  const reReadStart = Date.now()
  const reRead = yield* watcher.refresh
  const reReadMs = Date.now() - reReadStart
  stalls.disable()
  const unchangedStart = Date.now()
  const again = yield* EndpointFiles.loadDirectory(watcher.directory, {
    timeoutMs: 10_000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC"
  }, process.env, yield* watcher.load)
  const unchangedMs = Date.now() - unchangedStart
  const longestSlice = (yield* Metric.value(EndpointFiles.longestSlice)).value
  const loadLine = `watcher-load: endpoints=${EndpointFiles.endpointsOf(again).length} load_ms=${reRead ? reReadMs : NaN} max_stall_ms=${Math.round(stalls.max / 1e6)} max_slice_ms=${Math.round(longestSlice * 1000)} unchanged_ms=${unchangedMs} in_flight=${inFlightAtReRead}`
  console.log(`  ${loadLine}`)
  yield* Effect.sleep(`${seconds - Math.round(seconds / 3)} seconds`)
  const cpu = process.cpuUsage(cpuBefore)
  const missed = (yield* Metric.value(Watcher.missedRuns)).count - missedBefore
  const rows = yield* sql<{ lag_ms: number; success: number }>`SELECT lag_ms, success FROM watcher_results`
  const lags = rows.map((row) => Number(row.lag_ms)).sort((a, b) => a - b)
  const checks = rows.length
  const failures = rows.filter((row) => Number(row.success) !== 1).length
  console.log(loadLine)
  console.log(`(endpoints loaded in ${loaded - startedAt} ms; ${failures} failed checks; ${yield* watcher.timetable.inFlight} in flight at the end)`)
  console.log(
    `watcher: endpoints=${endpointCount} checks/s=${(checks / seconds).toFixed(1)} lag_p50_ms=${percentile(lags, 0.5)} lag_p99_ms=${percentile(lags, 0.99)} missed=${missed} cpu_us_per_check=${Math.round((cpu.user + cpu.system) / Math.max(1, checks))}`
  )
})

const layer = Layer.mergeAll(JobQueue.layer([Sinks.SendJob]), Schedules.layer()).pipe(
  Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
  Layer.provideMerge(testDatabase())
)

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(layer))).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
