/**
 * The status page and its JSON API at scale: `--endpoints` endpoints (20,000 by default)
 * with `--results` stored results (1,000,000 by default: 2% of the endpoints down, 3%
 * failing but not yet down), 48 hours of hourly uptime counts, served by the watcher's
 * routes over a real SQLite file. No check runs (the endpoints' schedule is yearly).
 *
 *   npm run bench -- watcher        (or: node --import tsx packages/plugins-watcher/bench/status.ts)
 *
 * Prints, last:
 *   watcher-status: endpoints=<n> page_ms=<n> api_ms=<n> bytes=<n>
 * page_ms and api_ms are the time to the last byte of `GET /watcher/` and
 * `GET /watcher/api/endpoints` (each the second of two requests); bytes is the page's size.
 */
import * as Http from "@orch/core/Http"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { Schedules } from "@orch/core/Schedules"
import { tempDir, testDatabase } from "@orch/testing"
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { routes } from "../src/Routes.js"
import * as Sinks from "../src/Sinks.js"
import * as Sql from "../src/sql.js"
import { migrations } from "../src/sql.js"
import * as Status from "../src/Status.js"
import * as StatusPage from "../src/StatusPage.js"
import * as Watcher from "../src/Watcher.js"
import { WatcherConfig } from "../src/WatcherConfig.js"

const { values: args } = parseArgs({
  options: {
    endpoints: { type: "string", default: "20000" },
    results: { type: "string", default: "1000000" }
  }
})
const endpointCount = Number(args.endpoints)
const perEndpoint = Math.max(1, Math.round(Number(args.results) / endpointCount))

const main = Effect.gen(function*() {
  const dir = tempDir("orch-watcher-status-bench-")
  fs.mkdirSync(path.join(dir, "endpoints"))
  const lines: Array<string> = []
  for (let i = 0; i < endpointCount; i++) {
    lines.push(`e${i}:`, `  cron_schedule: "0 0 1 1 *"`, `  url: http://127.0.0.1:9/health?e=${i}`, `  success_test: { key: status, value: ok }`)
  }
  fs.writeFileSync(path.join(dir, "endpoints", `bench.yml`), lines.join("\n") + "\n")
  const sql = yield* SqlClient.SqlClient
  const now = Date.now()
  const seedStart = Date.now()
  // endpoint i: down when i % 50 = 0, failing (up, 1 failure in a row) when i % 50 in 1..1, else up
  yield* sql.unsafe(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${endpointCount})
    INSERT INTO watcher_states (endpoint, state, failures, successes, changed_at, checked_at)
    SELECT 'e' || i, CASE WHEN i % 50 = 0 THEN 'down' ELSE 'up' END, CASE WHEN i % 50 = 0 THEN 5 WHEN i % 50 = 1 THEN 1 ELSE 0 END,
      CASE WHEN i % 50 < 2 THEN 0 ELSE 7 END, ${now - 3_600_000}, ${now} FROM n`)
  // results: per endpoint, oldest first (ids grow with time); the newest of a down endpoint failed
  yield* sql.unsafe(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${endpointCount * perEndpoint})
    INSERT INTO watcher_results (endpoint, scheduled_at, started_at, lag_ms, duration_ms, success, status, reasons, extracted, phases)
    SELECT 'e' || (i % ${endpointCount}), ${now} - (${perEndpoint} - i / ${endpointCount}) * 60000, ${now} - (${perEndpoint} - i / ${endpointCount}) * 60000 + 12,
      12, 3.5 + (i % 17), ok, CASE WHEN ok THEN 200 ELSE 503 END,
      CASE WHEN ok THEN '[]' ELSE '["[STATUS] (503) == 200"]' END, '{"status":"ok"}', '{"connect":0.4,"firstByte":2.1}'
    FROM (SELECT i, CASE WHEN (i % ${endpointCount}) % 50 = 0 AND i / ${endpointCount} >= ${perEndpoint - 5} THEN 0
      WHEN (i % ${endpointCount}) % 50 = 1 AND i / ${endpointCount} = ${perEndpoint - 1} THEN 0 WHEN i % 97 = 0 THEN 0 ELSE 1 END AS ok FROM n)`)
  yield* sql.unsafe(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ${endpointCount * 48})
    INSERT INTO watcher_uptime (endpoint, hour, checks, successes)
    SELECT 'e' || (i % ${endpointCount}), (${Math.floor(now / 3_600_000)} - i / ${endpointCount}) * 3600000, 60, 59 FROM n`)
  const [{ n }] = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM watcher_results`
  console.log(`(seeded ${n} results, ${endpointCount} states, ${endpointCount * 48} hourly counts in ${Date.now() - seedStart} ms)`)

  const config = Schema.decodeUnknownSync(WatcherConfig)({ endpoints: path.join(dir, "endpoints") })
  const watcher = yield* Watcher.make(config)
  const server = yield* Layer.build(Http.serveOn({ host: "127.0.0.1", port: 0 }, routes).pipe(
    Layer.provide(Layer.succeed(Watcher.Watcher, watcher))
  ))
  const address = (server.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer).address
  const base = `http://127.0.0.1:${(address as HttpServer.TcpAddress).port}`
  const get = (url: string) =>
    Effect.promise(async () => {
      const start = performance.now()
      const response = await fetch(url)
      const body = await response.text()
      return { ms: Math.round(performance.now() - start), bytes: Buffer.byteLength(body), status: response.status }
    })
  const api1 = yield* get(`${base}/api/endpoints`)
  const api = yield* get(`${base}/api/endpoints`)
  const page1 = yield* get(`${base}/`)
  const page = yield* get(`${base}/`)
  if (process.env.STATUS_PHASES) {
    for (let i = 0; i < 3; i++) {
      let t = performance.now()
      yield* Sql.listStates(sql)
      const states = performance.now() - t
      t = performance.now()
      const keys = Array.from({ length: 100 }, (_, i) => `e${i}`)
      yield* Effect.all([Sql.newestResultsOf(sql, keys, 40), Sql.newestFailuresOf(sql, keys, 5)])
      const details = performance.now() - t
      t = performance.now()
      const overview = yield* Status.overview(watcher)
      const overviewMs = performance.now() - t
      t = performance.now()
      StatusPage.render(overview, Date.now())
      console.log(`(states ${states.toFixed(0)} ms, details ${details.toFixed(0)} ms, overview ${overviewMs.toFixed(0)} ms, render ${(performance.now() - t).toFixed(0)} ms)`)
    }
  }
  console.log(`(first requests: page ${page1.ms} ms, api ${api1.ms} ms; api ${api.bytes} bytes; statuses ${page.status} ${api.status})`)
  console.log(`watcher-status: endpoints=${endpointCount} page_ms=${page.ms} api_ms=${api.ms} bytes=${page.bytes}`)
})

const layer = Layer.mergeAll(JobQueue.layer([Sinks.SendJob]), Schedules.layer()).pipe(
  Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", migrations)))),
  Layer.provideMerge(testDatabase())
)

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(layer))).then(() => process.exit(0), (error) => {
  console.error(error)
  process.exit(1)
})
