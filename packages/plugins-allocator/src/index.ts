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
import { Device } from "./Device.js"
import { access, routes } from "./Routes.js"
import { migrations } from "./sql.js"
import * as TuiViews from "./TuiViews.js"

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
  tui: TuiViews.views
})
