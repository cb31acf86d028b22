/**
 * Health checks: a device whose type declares one (a TCP connect or a command) is
 * checked every `intervalSeconds` while it is free or unhealthy and not leased. A failed
 * check takes a free device out of service (unhealthy); a passing one brings it back.
 */
import { Resources } from "@orch/core/Resources"
import { Clock, Effect } from "effect"
import * as net from "node:net"
import { Allocator } from "./Allocator.js"
import { Device, infoOf } from "./Device.js"
import type { DeviceInfo } from "./Device.js"
import { deviceEnvironment } from "./Environment.js"
import type { DeviceType } from "./Inventory.js"
import * as AllocatorMetrics from "./Metrics.js"
import * as Process from "./Process.js"

type Check = NonNullable<DeviceType["health"]>

const tcpConnect = (host: string, port: number, timeoutMs: number) =>
  Effect.async<string | undefined>((resume) => {
    const socket = net.connect({ host, port })
    const done = (problem: string | undefined) => {
      socket.destroy()
      resume(Effect.succeed(problem))
    }
    socket.setTimeout(timeoutMs, () => done(`no connection to ${host}:${port} within ${timeoutMs} ms`))
    socket.once("connect", () => done(undefined))
    socket.once("error", (error) => done(`cannot connect to ${host}:${port}: ${error.message}`))
    return Effect.sync(() => socket.destroy())
  })

/** undefined when healthy, else what is wrong. */
export const runCheck = (check: Check, device: DeviceInfo): Effect.Effect<string | undefined> => {
  const timeoutMs = check.timeoutSeconds * 1000
  if (check.tcp !== undefined) {
    const host = check.tcp.host ?? device.connection.host
    const port = check.tcp.port ?? Number(device.connection.port)
    if (typeof host !== "string" || !Number.isInteger(port)) {
      return Effect.succeed("a tcp check needs a host and port (in the check or the device's connection)")
    }
    return tcpConnect(host, port, timeoutMs)
  }
  return Effect.map(
    Process.run(check.command!, { env: deviceEnvironment(device), timeoutMs }),
    (outcome) => outcome.exitCode === 0 ? undefined : `check ${Process.describe(outcome, timeoutMs)}: ${outcome.output.trim().slice(-500)}`
  )
}

/** One round: checks every due device (concurrently, a few at a time). `lastChecked` persists between rounds. */
export const checkDue = (lastChecked: Map<string, number>) =>
  Effect.gen(function*() {
    const allocator = yield* Allocator
    const resources = yield* Resources
    const now = yield* Clock.currentTimeMillis
    const inventory = yield* allocator.inventory
    const devices = yield* resources.list({ kind: Device, retired: false })
    const due = devices.flatMap((device) => {
      const info = infoOf(device)
      const check = inventory.types[info.type]?.health
      if (check === undefined || device.lease !== undefined) return []
      if (device.state !== "free" && device.state !== "unhealthy") return []
      if (now - (lastChecked.get(device.name) ?? -Infinity) < check.intervalSeconds * 1000) return []
      return [{ device, info, check }]
    })
    yield* Effect.forEach(due, ({ check, device, info }) =>
      Effect.gen(function*() {
        lastChecked.set(device.name, now)
        const problem = yield* runCheck(check, info)
        yield* AllocatorMetrics.count(AllocatorMetrics.healthChecks, { type: info.type, result: problem === undefined ? "healthy" : "unhealthy" })
        if (problem !== undefined && device.state === "free") {
          yield* resources.setState(Device, device.name, "unhealthy", { from: "free", reason: problem }).pipe(Effect.ignore)
          yield* Effect.logWarning(`device ${device.name} is unhealthy: ${problem}`).pipe(Effect.annotateLogs({ device: device.name }))
        } else if (problem === undefined && device.state === "unhealthy") {
          yield* resources.setState(Device, device.name, "free", { from: "unhealthy", reason: "health check passed" }).pipe(Effect.ignore)
          yield* Effect.logInfo(`device ${device.name} is healthy again`).pipe(Effect.annotateLogs({ device: device.name }))
          yield* allocator.wake
        }
      }), { concurrency: 8, discard: true })
  })
