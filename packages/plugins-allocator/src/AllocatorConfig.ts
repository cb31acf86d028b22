/** The `allocator:` section of orch.yaml. Every key has a default, so `{}` is valid. */
import * as Config from "@orch/core/Config"
import { Schema } from "effect"

const PositiveSeconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))

export const AccessToken = Schema.Struct({
  holder: Schema.String.pipe(Schema.minLength(1)).annotations({
    description: "The holder name this token acts as: it may keep alive and release only that holder's leases"
  }),
  token: Schema.Redacted(Schema.String.pipe(Schema.minLength(8, { message: () => "a token must be at least 8 characters" })))
    .annotations({ description: "The bearer token (use ${ENV} substitution; it is never logged)" }),
  admin: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "May allocate as any holder, touch any lease, drain and undrain"
  })
})
export type AccessToken = typeof AccessToken.Type

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
  cleaningConcurrency: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 4 }).annotations({
    description: "How many devices are cleaned at once by this process"
  }),
  tokens: Schema.optionalWith(Schema.Array(AccessToken), { default: () => [] }).annotations({
    description: "Bearer tokens; when any is given, every /allocator/ request needs one"
  })
})
export type AllocatorConfig = typeof AllocatorConfig.Type
