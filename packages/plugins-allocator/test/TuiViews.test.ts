/**
 * The allocator's TUI view over real HTTP, in a daemon started in this process: its devices
 * with holder, expiry and labels, and its actions' paths (release the lease, drain, undrain)
 * doing what they say with the roles they declare.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "@orch/core/Config"
import * as Runtime from "@orch/core/Runtime"
import { send, tempDir } from "@orch/testing"
import { Effect, Fiber, Redacted, Schedule } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { plugin } from "../src/index.js"

const tokens = {
  viewer: { token: "allocator-tui-read-token-0123", role: "read" as const },
  ci: { token: "allocator-tui-ci-token-012345", role: "operate" as const },
  ops: { token: "allocator-tui-ops-token-01234", role: "admin" as const }
}

describe("allocator devices view", () => {
  it.scopedLive("lists devices with holder and labels; release, drain and undrain through the actions' paths, under their roles", () =>
    Effect.gen(function*() {
      const dir = tempDir("orch-allocator-tui-")
      const inventory = path.join(dir, "inventory.yaml")
      fs.writeFileSync(inventory, [
        "devices:",
        "  - { name: board-0, type: board, labels: { slot: \"0\" }, connection: { host: 127.0.0.1, port: 30000 } }",
        "  - { name: board-1, type: board, labels: { slot: \"1\" }, connection: { host: 127.0.0.1, port: 30001 } }",
        ""
      ].join("\n"))
      const configFile = path.join(dir, "orch.yaml")
      fs.writeFileSync(configFile, `allocator:\n  inventory: ${inventory}\n`)
      const loaded = yield* Config.load([plugin], { configFile, dataDir: dir, httpHost: "127.0.0.1", httpPort: 0, logLevel: "error" }, {})
      const auth = Object.entries(tokens).map(([name, t]) => ({ name, token: Redacted.make(t.token), role: t.role }))
      const config = { ...loaded, core: { ...loaded.core, auth: { ...loaded.core.auth, tokens: auth } } }
      const { info } = yield* Runtime.start({ config, available: [plugin], selected: [plugin], version: "test" })
      const call = (method: string, p: string, who: keyof typeof tokens, body?: unknown) =>
        Effect.promise(() => send(`${info.url}${p}`, { method, token: tokens[who].token, body }))
      const view = () => Effect.map(call("GET", "/tui/views/allocator/devices", "viewer"), (answer) => answer.body as any)
      const fill = (template: string, row: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(row[k]!))

      expect((yield* call("GET", "/tui/views", "viewer")).body).toEqual([
        { plugin: "allocator", name: "devices", title: "Devices" },
        { plugin: "allocator", name: "waiters", title: "Waiters" }
      ])
      // both devices taken, a third allocation waits: the waiters view shows it, until a device comes free
      const first = (yield* call("POST", "/allocator/leases", "ops", { type: "board", holder: "lab", ttlSeconds: 60 })).body as any
      const second = (yield* call("POST", "/allocator/leases", "ops", { type: "board", holder: "lab", ttlSeconds: 60 })).body as any
      const waiting = yield* Effect.fork(call("POST", "/allocator/leases", "ci", { type: "board", holder: "ci", ttlSeconds: 60, waitSeconds: 30 }))
      const waiters = yield* call("GET", "/tui/views/allocator/waiters", "viewer").pipe(
        Effect.map((answer) => answer.body as any),
        Effect.filterOrFail((v) => v.rows?.length === 1, () => "nobody waits yet"),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
      )
      expect(waiters.rows[0].slice(0, 3)).toEqual(["1", "ci", "type=board"])
      expect(Date.parse(waiters.rows[0][3])).toBeGreaterThan(Date.now())
      expect((yield* call("DELETE", `/allocator/leases/${first.id}`, "ops")).status).toBe(200)
      const lease = (yield* Fiber.join(waiting)).body as any
      expect(lease.holder).toBe("ci")
      expect((yield* call("GET", "/tui/views/allocator/waiters", "viewer")).body.rows).toEqual([])
      expect((yield* call("DELETE", `/allocator/leases/${second.id}`, "ops")).status).toBe(200)
      const before = yield* view()
      expect(before.columns).toEqual(["NAME", "TYPE", "STATUS", "HOLDER", "EXPIRES", "LABELS"])
      const leased = before.rows.findIndex((row: Array<string>) => row[0] === lease.device.name)
      expect(before.rows[leased].slice(2)).toEqual(["leased", "ci", lease.expiresAt, `slot=${lease.device.labels.slot}`])
      expect(before.keys[leased]).toEqual({ name: lease.device.name, lease: lease.id })
      const free = before.keys.find((key: Record<string, string>) => key.lease === undefined)
      const action = (key: string) => before.actions.find((a: any) => a.key === key)
      expect(before.actions.map((a: any) => [a.key, a.method, a.path, a.role])).toEqual([
        ["l", "DELETE", "/allocator/leases/{lease}", "operate"],
        ["d", "POST", "/allocator/devices/{name}/drain", "admin"],
        ["u", "POST", "/allocator/devices/{name}/undrain", "admin"]
      ])

      // release: the holder's own operate token may
      const released = yield* call(action("l").method, fill(action("l").path, before.keys[leased]), "ci")
      expect(released.status).toBe(200)
      expect((yield* view()).rows[leased].slice(2, 4)).toEqual(["free", "-"])
      // drain needs admin, as the action says
      const drainPath = fill(action("d").path, free)
      expect((yield* call("POST", drainPath, "ci")).status).toBe(403)
      expect((yield* call("POST", drainPath, "ops")).status).toBe(200)
      const drained = (yield* view()).rows.find((row: Array<string>) => row[0] === free.name)
      expect(drained[2]).toBe("drained")
      expect((yield* call("POST", fill(action("u").path, free), "ops")).status).toBe(200)
      expect((yield* view()).rows.find((row: Array<string>) => row[0] === free.name)[2]).toBe("free")
    }), 30_000)
})
