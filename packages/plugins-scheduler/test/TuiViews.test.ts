/**
 * The scheduler's TUI view over real HTTP, in a daemon started in this process: each test
 * with its next run and newest result; its "run now" action's path runs the test (Neubot's
 * runner, operate role) and the view then shows the result.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "@orch/core/Config"
import * as Runtime from "@orch/core/Runtime"
import { send, tempDir } from "@orch/testing"
import { Effect, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { plugin } from "../src/index.js"
import { isRoot, nodeScript, writeDescriptor } from "./helpers.js"

const operate = "scheduler-tui-operate-token-01"
const read = "scheduler-tui-read-token-012345"

describe.skipIf(!isRoot)("scheduler tests view (runs tests as an unprivileged user: needs root)", () => {
  it.scopedLive("lists each test with its next run; run now through the action's path, then its result shows", () =>
    Effect.gen(function*() {
      const dir = tempDir("orch-scheduler-tui-")
      const descriptors = path.join(dir, "descriptors")
      writeDescriptor(descriptors, "echo", {
        command: nodeScript(`console.log(JSON.stringify({ latency: 0.012, download_speed: 1250000, upload_speed: 125000 }))`),
        schedule: { every: 86_400 }
      })
      const configFile = path.join(dir, "orch.yaml")
      fs.writeFileSync(configFile, `scheduler:\n  descriptors: ${descriptors}\n  apiPort: 0\n  apiHosts: ["127.0.0.1"]\n  speedtest:\n    firstDelaySeconds: 3600\n`)
      const loaded = yield* Config.load([plugin], { configFile, dataDir: path.join(dir, "data"), httpHost: "127.0.0.1", httpPort: 0, logLevel: "error" }, {})
      const tokens = [
        { name: "hand", token: Redacted.make(operate), role: "operate" as const },
        { name: "viewer", token: Redacted.make(read), role: "read" as const }
      ]
      const config = { ...loaded, core: { ...loaded.core, auth: { ...loaded.core.auth, tokens } } }
      const { info, running } = yield* Runtime.start({ config, available: [plugin], selected: [plugin], version: "test" })
      yield* Effect.forEach(running, (p) => p.started, { discard: true })
      const call = (method: string, p: string, token: string) => Effect.promise(() => send(`${info.url}${p}`, { method, token }))
      const echoRow = (view: any) => view.rows.find((row: Array<string>) => row[0] === "echo")

      const view = yield* call("GET", "/tui/views/scheduler/tests", read).pipe(
        Effect.map((answer) => answer.body as any),
        Effect.filterOrFail((v) => echoRow(v) !== undefined && echoRow(v)[1] !== "-", () => "no schedule yet"),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 })
      )
      expect(view.columns.slice(0, 2)).toEqual(["TEST", "NEXT RUN (UTC)"])
      expect(echoRow(view).at(-1)).toBe("-")
      expect(view.keys[view.rows.indexOf(echoRow(view))]).toEqual({ test: "echo" })
      expect(view.actions).toEqual([
        { key: "n", label: "run the test now", method: "POST", path: "/scheduler/api/runner?test={test}", role: "operate", confirm: true }
      ])
      const runNow = view.actions[0].path.replace("{test}", "echo")
      expect((yield* call("POST", runNow, read)).status).toBe(403)
      expect((yield* call("POST", runNow, operate)).status).toBe(200)
      const after = yield* call("GET", "/tui/views/scheduler/tests", read).pipe(
        Effect.map((answer) => answer.body as any),
        Effect.filterOrFail((v) => echoRow(v).at(-1) !== "-", () => "no result yet"),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 150 })
      )
      expect(echoRow(after).at(-1)).toBe("ok")
      expect(echoRow(after)[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)
    }), 30_000)
})
