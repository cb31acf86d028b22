/**
 * The watchdog's TUI views over real HTTP, in a daemon started in this process with the fake
 * WPT server and fake Compute Engine: the instances view lists an instance with its actions,
 * and those actions' paths start and stop it at the provider; a read token may not.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "@orch/core/Config"
import * as Runtime from "@orch/core/Runtime"
import { tempDir, waitFor } from "@orch/testing"
import { Effect, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { plugin } from "../src/index.js"
import { Fleet } from "./fakes/Fleet.js"

const zone = "us-central1-a"
const name = `${zone}--tor--agent1`
const operateToken = "watchdog-tui-operate-token-0123"
const readToken = "watchdog-tui-read-token-0123456"

describe("watchdog views and their actions", () => {
  it.scopedLive("instances: the view's start and stop paths reach the provider; a read token is refused", () =>
    Effect.gen(function*() {
      const fleet = yield* Effect.acquireRelease(
        Effect.promise(() => new Fleet({ wpt: { locations: [{ id: name, browsers: ["Tor Browser"] }] }, agents: false, waitMs: 50, bootMs: 20, stopMs: 20 }).start()),
        (fleet) => Effect.promise(() => fleet.close())
      )
      fleet.gce.seed({ name, zone, status: "TERMINATED" })
      const dir = tempDir("orch-watchdog-tui-")
      const configFile = path.join(dir, "orch.yaml")
      fs.writeFileSync(configFile, `
watchdog:
  wpt: { server: ${fleet.wpt.url} }
  provider: gce
  controller: { intervalMs: 100, idleStopMs: 3600000 }
  gce: { project: test-project, zones: [${zone}], image: wptagent, apiEndpoint: 127.0.0.1, port: ${fleet.gce.port}, protocol: http, credentials: none }
`)
      const loaded = yield* Config.load([plugin], { configFile, dataDir: dir, httpHost: "127.0.0.1", httpPort: 0, logLevel: "error" }, {})
      const tokens = [
        { name: "hand", token: Redacted.make(operateToken), role: "operate" as const },
        { name: "viewer", token: Redacted.make(readToken), role: "read" as const }
      ]
      const config = { ...loaded, core: { ...loaded.core, auth: { ...loaded.core.auth, tokens } } }
      const { info } = yield* Runtime.start({ config, available: [plugin], selected: [plugin], version: "test" })
      const call = (method: string, p: string, token: string) =>
        Effect.promise(() =>
          fetch(`${info.url}${p}`, { method, headers: { authorization: `Bearer ${token}` } })
            .then(async (r) => ({ status: r.status, body: await r.json() as any }), (e) => { throw new Error(`${method} ${p}: ${e.cause}`) })
        )

      const list = yield* call("GET", "/tui/views", readToken)
      expect(list.body).toEqual([
        { plugin: "watchdog", name: "locations", title: "WPT jobs by location" },
        { plugin: "watchdog", name: "instances", title: "Instances" }
      ])
      // the location with WPT's own figures (no agent has polled: offline, none idle)
      const locations = yield* call("GET", "/tui/views/watchdog/locations", readToken).pipe(
        Effect.map((answer) => answer.body),
        Effect.filterOrFail((v) => v.rows?.length === 1, () => "WPT not asked yet"),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 })
      )
      expect(locations.columns.slice(0, 5)).toEqual(["LOCATION", "WPT", "AGENTS IDLE", "WPT QUEUE", "TESTING"])
      expect(locations.rows.map((row: Array<string>) => row.slice(0, 2))).toEqual([[name, expect.not.stringMatching(/^(\?|not at WPT)$/)]])
      // instance_controller records the instance it finds at the provider
      const view = yield* call("GET", "/tui/views/watchdog/instances", readToken).pipe(
        Effect.filterOrFail((v) => v.body.rows?.length === 1, () => "not yet"),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }),
        Effect.map((v) => v.body)
      )
      expect(view.rows[0]).toEqual(expect.arrayContaining([name, zone, "TERMINATED"]))
      expect(view.keys).toEqual([{ name }])
      const pathOf = (key: string) => view.actions.find((a: any) => a.key === key).path.replace("{name}", encodeURIComponent(name))
      expect(view.actions.map((a: any) => [a.key, a.method, a.role])).toEqual([["s", "POST", "operate"], ["t", "POST", "operate"]])

      expect((yield* call("POST", pathOf("s"), readToken)).status).toBe(403)
      expect(fleet.gce.callsOf("start", name)).toHaveLength(0)
      const started = yield* call("POST", pathOf("s"), operateToken)
      expect(started.status).toBe(200)
      expect(started.body).toMatchObject({ name, decision: "start" })
      expect(fleet.gce.callsOf("start", name)).toHaveLength(1)
      yield* waitFor("the instance running", Effect.sync(() => fleet.gce.instances.get(`${zone}/${name}`)?.status === "RUNNING" || undefined), 10_000)
      const stopped = yield* call("POST", pathOf("t"), operateToken)
      expect(stopped.status).toBe(200)
      expect(fleet.gce.callsOf("stop", name)).toHaveLength(1)
      expect((yield* call("POST", "/watchdog/instances/bad/start", operateToken)).body.message).toContain("is not an instance name")
      const missing = yield* call("POST", `/watchdog/instances/${zone}--tor--nobody/start`, operateToken)
      expect(missing.status).toBe(404)
    }), 30_000)
})
