/** The `allocator:` section of orch.yaml. Every key has a default, so `{}` is valid. */
import * as Config from "@orch/core/Config"
import { Schema } from "effect"

const PositiveSeconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))


export const AllocatorConfig = Schema.Struct({
  inventory: Schema.optional(Schema.String).annotations({
    description: "YAML file listing device types and devices; without it the built-in example inventory is served",
    [Config.ExistingPathId]: "file"
  }),
  inventoryPollSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 2 }).annotations({
    description: "How often the inventory file is checked for changes (SIGHUP re-reads it at once)"
  }),
  retryAfterSeconds: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 20 }).annotations({
    description: "Retry-After of a 409 when no matching device is free"
  }),
  maxTtlSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 24 * 3600 }).annotations({
    description: "The longest lease (and keepalive extension) a client may ask for"
  }),
  maxWaitSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 600 }).annotations({
    description: "The longest waitSeconds an allocation may ask for"
  }),
  reclaimIntervalSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 1 }).annotations({
    description: "How often expired leases are ended (their devices go to cleaning or free)"
  }),
  waiterPollSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 1 }).annotations({
    description: "How often waiting allocations look again (another orch process may have freed a device)"
  }),
  waiterTtlSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 10 }).annotations({
    description: "How long other orch processes sharing the database keep serving this one's waiting allocations first after its " +
      "last look (it looks every waiterPollSeconds); after that they are skipped, as a dead process's are"
  }),
  cleaningConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 }).annotations({
    description: "How many devices are cleaned at once by this process"
  }),
  // the allocator's own tokens became core's: a config that still has them is refused, saying where they went
  tokens: Config.retiredKey(
    "allocator.tokens has moved to core.auth.tokens: a list of { name, token, role }, where name is the holder " +
      "(holder: ci → name: ci), admin: true is role: admin, and other tokens are role: operate"
  )
})
export type AllocatorConfig = typeof AllocatorConfig.Type
