/**
 * The allocator plugin: leases hardware devices from a YAML inventory to test jobs, with
 * keepalives, fencing tokens, expiry, cleaning, health checks, draining, bearer tokens,
 * metrics, an HTTP API under /allocator/ and `orch allocator …` commands.
 */
import * as Plugin from "@orch/core/Plugin"
import { CleanJob } from "./Allocator.js"
import { AllocatorConfig } from "./AllocatorConfig.js"
import { AllocatorApi } from "./Api.js"
import { commands } from "./Commands.js"
import * as Daemon from "./Daemon.js"
import { Device } from "./Device.js"
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
  http: (config) => ({ api: AllocatorApi, routes: Daemon.layer(config) }),
  commands
})
