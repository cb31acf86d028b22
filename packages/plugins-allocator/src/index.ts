/**
 * The allocator plugin: leases hardware devices from a YAML inventory to test jobs, with
 * keepalives, fencing tokens, expiry, cleaning, health checks, draining, core's bearer tokens (a token's name is its lease holder),
 * metrics, an HTTP API under /allocator/ and `orch allocator …` commands.
 */
import * as Plugin from "@orch/core/Plugin"
import { CleanJob } from "./Allocator.js"
import { AllocatorConfig } from "./AllocatorConfig.js"
import { AllocatorApi } from "./Api.js"
import { commands } from "./Commands.js"
import * as Daemon from "./Daemon.js"
import { Resources } from "@orch/core/Resources"
import { Effect } from "effect"
import { Device, infoOf, statusOf } from "./Device.js"
import { access, routes } from "./Routes.js"
import { migrations } from "./sql.js"

export { Allocator, AllocationDenied, CleanJob, DeviceNotDrained } from "./Allocator.js"
export type { AllocateRequest, AllocatorService, Grant } from "./Allocator.js"
export { AllocatorConfig } from "./AllocatorConfig.js"
export { AllocatorApi } from "./Api.js"
export { Device } from "./Device.js"
export * as Inventory from "./Inventory.js"

export const plugin = Plugin.make({
  name: "allocator",
  description: "Lease hardware devices to test jobs: keepalives, fencing, cleaning, health checks",
  config: AllocatorConfig,
  migrations,
  jobKinds: [CleanJob],
  resourceKinds: [Device],
  // a lease's TTL goes with the lease when retention removes it
  retention: [{ table: "allocator_lease_ttls", column: "lease_id", belongsTo: "lease" }],
  services: Daemon.services,
  loops: Daemon.loops,
  workers: Daemon.workers,
  http: (config) => ({ api: AllocatorApi, routes: routes(config), access }),
  commands,
  tui: () =>
    Effect.gen(function*() {
      const resources = yield* Resources
      const devices = (yield* resources.list({ kind: Device })).filter((d) => d.retiredAt === undefined || d.lease !== undefined)
      return [{
        title: `devices (${devices.filter((d) => statusOf(d) === "free").length} free of ${devices.length})`,
        columns: ["NAME", "TYPE", "STATUS", "HOLDER", "EXPIRES"],
        rows: devices.map((d) => [d.name, infoOf(d).type, statusOf(d), d.lease?.holder ?? "-", d.lease ? new Date(d.lease.expiresAt).toISOString() : "-"])
      }]
    })
})
