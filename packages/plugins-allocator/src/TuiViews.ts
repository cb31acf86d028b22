/**
 * The allocator's view in the TUI (`Plugin.tui`): its devices with state, holder, expiry and
 * labels; on the selected device, its own routes: release the lease, drain, undrain. And
 * the allocations waiting for a device, as the running allocator holds them.
 */
import type { TuiView } from "@orch/core/Plugin"
import { Resources } from "@orch/core/Resources"
import { Effect } from "effect"
import { Allocator } from "./Allocator.js"
import { Device, infoOf, statusOf } from "./Device.js"

const devices: TuiView<Allocator> = {
  name: "devices",
  title: "Devices",
  read: Effect.gen(function*() {
    const resources = yield* Resources
    const devices = (yield* resources.list({ kind: Device })).filter((d) => d.retiredAt === undefined || d.lease !== undefined)
    return {
      title: `devices (${devices.filter((d) => statusOf(d) === "free").length} free of ${devices.length})`,
      columns: ["NAME", "TYPE", "STATUS", "HOLDER", "EXPIRES", "LABELS"],
      rows: devices.map((d) => {
        const info = infoOf(d)
        return [
          d.name,
          info.type,
          statusOf(d),
          d.lease?.holder ?? "-",
          d.lease ? new Date(d.lease.expiresAt).toISOString() : "-",
          Object.entries(info.labels).map(([k, v]) => `${k}=${v}`).join(",")
        ]
      }),
      keys: devices.map((d) => (d.lease === undefined ? { name: d.name } : { name: d.name, lease: d.lease.id })),
      actions: [
        // an operate token may end only the leases of the holder it is named for; admin any
        { key: "l", label: "release the lease", method: "DELETE", path: "/leases/{lease}", role: "operate" },
        { key: "d", label: "drain device", method: "POST", path: "/devices/{name}/drain", role: "admin" },
        { key: "u", label: "undrain device", method: "POST", path: "/devices/{name}/undrain", role: "admin" }
      ]
    }
  })
}

const waiters: TuiView<Allocator> = {
  name: "waiters",
  title: "Waiters",
  read: Effect.gen(function*() {
    const waiting = yield* (yield* Allocator).waiters
    return {
      title: `waiters (${waiting.length}, first come first served)`,
      columns: ["#", "HOLDER", "WANTS", "GIVES UP AT"],
      rows: waiting.map((w, i) => [
        String(i + 1),
        w.holder,
        Object.entries(w.criteria).map(([k, v]) => `${k}=${v}`).join(","),
        Number.isFinite(w.deadline) ? new Date(w.deadline).toISOString() : "-"
      ])
    }
  })
}

export const views = (): ReadonlyArray<TuiView<Allocator>> => [devices, waiters]
