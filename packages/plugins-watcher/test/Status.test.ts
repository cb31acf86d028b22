/**
 * The status overview at scale's shape: down and failing endpoints first, a page at a time,
 * filtered by state, file or text; each page endpoint's newest results, failures and uptime;
 * the page and the API over HTTP, with a bad query refused.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, it } from "@effect/vitest"
import * as Http from "@orch/core/Http"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { Schedules } from "@orch/core/Schedules"
import { send, tempDir } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { routes } from "../src/Routes.js"
import * as Sinks from "../src/Sinks.js"
import * as Sql from "../src/sql.js"
import * as Status from "../src/Status.js"
import * as StatusPage from "../src/StatusPage.js"
import * as Watcher from "../src/Watcher.js"
import { WatcherConfig } from "../src/WatcherConfig.js"

const servicesLayerOn = (backend: Backend) =>
  Layer.mergeAll(JobQueue.layer([Sinks.SendJob]), Schedules.layer()).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watcher", Sql.migrations)))),
    Layer.provideMerge(backend.database())
  )

const result = (endpoint: string, at: number, success: boolean): Sql.ResultRow => ({
  endpoint,
  scheduled_at: at,
  started_at: at,
  lag_ms: 0,
  duration_ms: at % 1000,
  success: success ? 1 : 0,
  status: success ? 200 : 503,
  reasons: success ? "[]" : JSON.stringify([`failed at ${at}`]),
  extracted: "{}",
  phases: "{}",
  certificate_expires_at: null
})

/** `keys` as endpoints on a yearly schedule (no check runs in a test). */
const endpointsFile = (keys: ReadonlyArray<string>) =>
  keys.map((key) => `${key}:\n  cron_schedule: "0 0 1 1 *"\n  url: http://127.0.0.1:9/${key}\n`).join("")

const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

describeBackends("the status overview", (backend) => {
  const servicesLayer = () => servicesLayerOn(backend)
  it.live("down and failing first, a page at a time, filtered; each page endpoint's results; the page and the API over HTTP", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "a.yml"), endpointsFile(range("a", 150)))
      fs.writeFileSync(path.join(dir, "b.yml"), endpointsFile(range("b", 100)))
      const sql = yield* SqlClient.SqlClient
      // every endpoint up but a7 and b20 (down), b5 (up, its newest check failed) and a3, a4 (never checked)
      for (const key of [...range("a", 150), ...range("b", 100)]) {
        if (key === "a3" || key === "a4") continue
        const down = key === "a7" || key === "b20"
        yield* Sql.putState(sql, { endpoint: key, state: down ? "down" : "up", failures: down ? 3 : key === "b5" ? 1 : 0, successes: down || key === "b5" ? 0 : 2, changed_at: 1000, checked_at: 2000 })
      }
      // 60 results of b20 (every 7th failed) and 10 of other endpoints interleaved
      for (let i = 0; i < 60; i++) {
        yield* Sql.insertResult(sql, result("b20", 10_000 + i, i % 7 !== 0))
        if (i < 10) yield* Sql.insertResult(sql, result("a9", 20_000 + i, true))
      }
      const watcher = yield* Watcher.make(Schema.decodeUnknownSync(WatcherConfig)({ endpoints: dir }))

      const first = yield* Status.overview(watcher)
      expect(first.counts).toEqual({ down: 2, failing: 1, unknown: 2, up: 245 })
      expect(first.total).toBe(250)
      expect(first.endpoints).toHaveLength(100)
      expect(first.endpoints.slice(0, 6).map((e) => e.key)).toEqual(["a7", "b20", "b5", "a3", "a4", "a0"])
      expect(first.files).toEqual([
        { file: "a.yml", endpoints: 150, down: 1, failing: 0, problems: [] },
        { file: "b.yml", endpoints: 100, down: 1, failing: 1, problems: [] }
      ])
      const b20 = first.endpoints[1]!
      expect(b20.history).toHaveLength(40)
      expect(b20.history.map((h) => h.at)).toEqual(range("", 40).map((i) => 10_020 + Number(i)))
      expect(b20.last).toMatchObject({ at: 10_059, success: true })
      expect(b20.recentFailures.map((f) => f.at)).toEqual([10_056, 10_049, 10_042, 10_035, 10_028])
      expect(first.endpoints.find((e) => e.key === "a9")!.history).toHaveLength(10)
      expect(first.endpoints.find((e) => e.key === "a9")!.uptime).toEqual({ "24h": null, "7d": null })

      const query = (params: Record<string, string>) => Schema.decodeUnknownSync(Status.Query)(params)
      const last = yield* Status.overview(watcher, query({ offset: "200" }))
      expect(last.endpoints.map((e) => e.key)).toEqual(range("b", 100).filter((k) => k !== "b5" && k !== "b20").slice(-50))
      expect((yield* Status.overview(watcher, query({ state: "down" }))).endpoints.map((e) => e.key)).toEqual(["a7", "b20"])
      expect((yield* Status.overview(watcher, query({ file: "b.yml", limit: "3" }))).endpoints.map((e) => e.key)).toEqual(["b20", "b5", "b0"])
      const search = yield* Status.overview(watcher, query({ q: "A12" }))
      expect([search.total, search.endpoints.map((e) => e.key)]).toEqual([11, ["a12", ...range("a12", 10)]])

      const page = StatusPage.render(first, 0)
      expect(page).toContain(`<a href="?state=down">2 down</a>`)
      expect(page).toContain(`1–100 of 250 · <a href="?offset=100">next</a>`)
      expect(page).toContain(`<a href="?file=b.yml">b.yml</a>: 100, <span class="down">1 down</span>, 1 failing`)

      // over HTTP: the page and the API take the same query; a bad one is a 400 that says why
      const server = yield* Layer.build(Http.serveOn({ host: "127.0.0.1", port: 0 }, routes).pipe(
        Layer.provide(Layer.succeed(Watcher.Watcher, watcher))
      ))
      const address = (server.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer).address as HttpServer.TcpAddress
      const base = `http://127.0.0.1:${address.port}`
      const api = yield* Effect.promise(() => send(`${base}/api/endpoints?state=failing`))
      expect([api.status, api.body.total, api.body.endpoints.map((e: any) => e.key)]).toEqual([200, 1, ["b5"]])
      const html = yield* Effect.promise(() => send(`${base}/?file=a.yml&offset=100`))
      expect(html.status).toBe(200)
      expect(html.body).toContain(`101–150 of 150 · <a href="?file=a.yml">previous</a>`)
      const bad = yield* Effect.promise(() => send(`${base}/api/endpoints?limit=0`))
      expect([bad.status, bad.body.error]).toEqual([400, expect.stringMatching(/^limit: /)])
      const unknown = yield* Effect.promise(() => send(`${base}/?page=2`))
      expect([unknown.status, unknown.body]).toEqual([400, expect.stringContaining("unknown query parameter page (known: state, file, q, offset, limit)")])
    }).pipe(Effect.scoped, Effect.provide(servicesLayer())), 30_000)
})
