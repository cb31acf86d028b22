import { expect, it } from "@effect/vitest"
import { Resources } from "@orch/core/Resources"
import { Effect, TestClock } from "effect"
import * as net from "node:net"
import { Allocator } from "../src/Allocator.js"
import { Device, statusOf } from "../src/Device.js"
import { checkDue } from "../src/Health.js"
import { describeBackends } from "@orch/testing/Backends"
import { makeAllocator, servicesLayerOn } from "./support.js"

/** A port on 127.0.0.1 that nothing listens on (taken, then closed). */
const closedPort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
)

describeBackends("health checks", (backend) => {
  it.scoped("a device failing its TCP check is unhealthy and not handed out; passing again brings it back", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const allocator = yield* makeAllocator([
        "types:",
        "  scope:",
        "    health: { tcp: {}, intervalSeconds: 30, timeoutSeconds: 2 }",
        "  probe:",
        "    health: { command: 'test \"$ORCH_DEVICE_SERIAL\" = ok', intervalSeconds: 30 }",
        "devices:",
        `  - { name: scope-0, type: scope, connection: { host: 127.0.0.1, port: ${port} } }`,
        "  - { name: probe-0, type: probe, connection: { serial: ok } }",
        "  - { name: probe-1, type: probe, connection: { serial: broken } }"
      ].join("\n"))
      const resources = yield* Resources
      const status = (name: string) => Effect.map(resources.get(Device, name), statusOf)
      const lastChecked = new Map<string, number>()
      const round = Effect.provideService(checkDue(lastChecked), Allocator, allocator)
      yield* round
      expect([yield* status("scope-0"), yield* status("probe-0"), yield* status("probe-1")]).toEqual(["unhealthy", "free", "unhealthy"])
      expect(yield* Effect.flip(allocator.allocate({ type: "scope", holder: "a", ttlMs: 1000, waitMs: 0 }))).toMatchObject({ reason: "all_unhealthy" })
      const server = yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<net.Server>((resolve) => {
          const s = net.createServer((socket) => socket.destroy()).listen(port, "127.0.0.1", () => resolve(s))
        })),
        (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
      )
      expect(server.listening).toBe(true)
      // not due yet: nothing changes before the interval
      yield* round
      expect(yield* status("scope-0")).toBe("unhealthy")
      yield* TestClock.adjust("30 seconds")
      yield* round
      expect(yield* status("scope-0")).toBe("free")
      expect((yield* allocator.allocate({ type: "scope", holder: "a", ttlMs: 1000, waitMs: 0 })).device.name).toBe("scope-0")
    }).pipe(Effect.provide(servicesLayerOn(backend))))
})
