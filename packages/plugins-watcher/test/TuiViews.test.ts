/**
 * The watcher's TUI view over real HTTP, in a daemon started in this process: its endpoints
 * view, and its "check now" action's path checking an endpoint out of its schedule (a yearly
 * cron here, so no scheduled check interferes) and recording it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "@orch/core/Config"
import * as Runtime from "@orch/core/Runtime"
import { send, tempDir } from "@orch/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { plugin } from "../src/index.js"
import { startHealthTarget } from "./healthTarget.js"

describe("watcher endpoints view", () => {
  it.scopedLive("check now through the action's path: recorded and shown; an unknown endpoint is a 404", () =>
    Effect.gen(function*() {
      const target = yield* Effect.acquireRelease(Effect.promise(() => startHealthTarget(500)), (t) => Effect.promise(() => t.close()))
      const dir = tempDir("orch-watcher-tui-")
      fs.mkdirSync(path.join(dir, "endpoints"))
      fs.writeFileSync(path.join(dir, "endpoints", "web.yml"), [
        "good:",
        "  cron_schedule: \"0 0 1 1 *\"",
        `  url: ${target.url}/health`,
        "bad:",
        "  cron_schedule: \"0 0 1 1 *\"",
        `  url: ${target.url}/other`,
        "  conditions: ['[STATUS] == 200']"
      ].join("\n") + "\n")
      const configFile = path.join(dir, "orch.yaml")
      fs.writeFileSync(configFile, `watcher:\n  endpoints: ${path.join(dir, "endpoints")}\n`)
      const config = yield* Config.load([plugin], { configFile, dataDir: path.join(dir, "data"), httpHost: "127.0.0.1", httpPort: 0, logLevel: "error" }, {})
      const { info, running } = yield* Runtime.start({ config, available: [plugin], selected: [plugin], version: "test" })
      yield* Effect.forEach(running, (p) => p.started, { discard: true })
      const call = (method: string, p: string) => Effect.promise(() => send(`${info.url}${p}`, { method }))
      const view = () => Effect.map(call("GET", "/tui/views/watcher/endpoints"), (answer) => answer.body as any)

      const before = yield* view()
      expect(before.rows).toEqual([])
      expect(before.actions).toEqual([
        { key: "n", label: "check now", method: "POST", path: "/watcher/api/endpoints/{endpoint}/check", role: "operate", confirm: true }
      ])
      const checkPath = (endpoint: string) => before.actions[0].path.replace("{endpoint}", encodeURIComponent(endpoint))
      const good = yield* call("POST", checkPath("good"))
      expect(good.status).toBe(200)
      expect(good.body).toMatchObject({ endpoint: "good", success: true })
      const bad = yield* call("POST", checkPath("bad"))
      expect(bad.body).toMatchObject({ endpoint: "bad", success: false, reasons: ["[STATUS] (500) == 200"] })

      const after = yield* view()
      // one check each: recorded (failures in a row counted), the state still unknown until the thresholds are met
      const rows = (v: any) => Object.fromEntries(v.rows.map((row: Array<string>) => [row[0], [row[1], row[4]]]))
      expect(rows(after)).toEqual({ good: ["unknown", "0"], bad: ["unknown", "1"] })
      expect(after.keys.map((k: any) => k.endpoint).sort()).toEqual(["bad", "good"])
      yield* call("POST", checkPath("bad"))
      expect(rows(yield* view()).bad).toEqual(["unknown", "2"])
      expect((yield* call("POST", checkPath("nobody"))).status).toBe(404)
    }), 30_000)
})
