/**
 * The allocator's HTTP API (core mounts it under /allocator/): its bodies and answers as
 * Schemas, and its description for core's OpenAPI document. The routes themselves are in Routes.ts.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
import { DeviceInfo, Status } from "./Device.js"

/** Bounds on a request's labels: each is a condition of the device query, so their number is kept to what a query can hold. */
export const maxLabels = 32
export const maxLabelLength = 200

const Labels = Schema.Record({
  key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(maxLabelLength, { message: () => `a label name is at most ${maxLabelLength} characters` })),
  value: Schema.String.pipe(Schema.maxLength(maxLabelLength, { message: () => `a label value is at most ${maxLabelLength} characters` }))
}).pipe(Schema.filter((labels) => Object.keys(labels).length <= maxLabels || `at most ${maxLabels} labels`))
const Seconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))
const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

export const AllocateBody = Schema.Struct({
  type: Schema.optional(NonEmpty).annotations({ description: "Device type wanted" }),
  labels: Schema.optional(Labels).annotations({ description: "Labels the device must have (all of them)" }),
  holder: NonEmpty.pipe(Schema.maxLength(200, { message: () => "must be at most 200 characters" })).annotations({
    description: "Who holds the lease"
  }),
  ttlSeconds: Seconds.annotations({ description: "The lease lasts this long unless kept alive" }),
  waitSeconds: Schema.optional(Schema.Number.pipe(Schema.nonNegative({ message: () => "must be a number of seconds, 0 or more" })))
    .annotations({
    description: "Wait up to this long for a device (first come, first served) instead of a 409 at once"
  })
}).pipe(
  Schema.filter((body) => body.type !== undefined || body.labels !== undefined || { path: ["type"], message: "give a type, labels or both" })
).annotations({ identifier: "AllocateRequest" })

export const KeepaliveBody = Schema.Struct({
  ttlSeconds: Schema.optional(Seconds).annotations({
    description: "New lifetime from now; default: the ttlSeconds the lease was granted with"
  })
}).annotations({ identifier: "KeepaliveRequest" })

export const LeaseGranted = Schema.Struct({
  id: Schema.String,
  token: Schema.Number.annotations({ description: "Fencing token: larger than that of any lease granted before" }),
  holder: Schema.String,
  device: DeviceInfo,
  expiresAt: Schema.String.annotations({ description: "ISO time" })
}).annotations({ identifier: "AllocatorLease" })

export const KeepaliveAnswer = Schema.Struct({ id: Schema.String, expiresAt: Schema.String })

export const LeaseView = Schema.Struct({
  id: Schema.String,
  token: Schema.Number,
  holder: Schema.String,
  device: Schema.String,
  grantedAt: Schema.String,
  expiresAt: Schema.String,
  endedAt: Schema.optional(Schema.String),
  endReason: Schema.optional(Schema.String)
}).annotations({ identifier: "AllocatorLeaseRecord" })

export const DeviceView = Schema.Struct({
  ...DeviceInfo.fields,
  status: Status,
  state: Schema.String.annotations({ description: "Its condition: free, cleaning, quarantined, unhealthy or drained" }),
  lease: Schema.optional(Schema.Struct({ id: Schema.String, holder: Schema.String, token: Schema.Number, expiresAt: Schema.String })),
  removed: Schema.Boolean.annotations({ description: "Left the inventory; shown while still leased" })
}).annotations({ identifier: "AllocatorDeviceStatus" })

const error = (identifier: string, status: number, description: string) =>
  Schema.Struct({ error: Schema.String }).annotations({ identifier, description, ...HttpApiSchema.annotations({ status }) })

export const Denied = Schema.Struct({
  error: Schema.String,
  reason: Schema.Literal("all_leased", "all_unhealthy", "none_free"),
  counts: Schema.Record({ key: Schema.String, value: Schema.Number }),
  retryAfterSeconds: Schema.Number
}).annotations({
  identifier: "AllocationDenied",
  description: "No matching device is free; the Retry-After header says when to ask again",
  ...HttpApiSchema.annotations({ status: 409 })
})

export const NoMatch = Schema.Struct({
  error: Schema.String,
  reason: Schema.Literal("no_match"),
  counts: Schema.Record({ key: Schema.String, value: Schema.Number })
}).annotations({
  identifier: "NoDeviceMatches",
  description: "No device in the inventory has this type and these labels: waiting or asking again would not help (answered at once, waitSeconds or not)",
  ...HttpApiSchema.annotations({ status: 404 })
})

const BadRequest = error("BadRequest", 400, "The body or a parameter is invalid; error names the field")
const Unauthorized = error("Unauthorized", 401, "core.auth.tokens are on and none, or an unknown one, was given")
const Forbidden = error("Forbidden", 403, "The token's role is too weak (read; admin only), or its name is not the lease's holder")
const NotFound = error("NotFound", 404, "No such lease or device")
const Gone = error("LeaseGone", 410, "The lease expired or was released: stop using the device")

const IdPath = Schema.Struct({ id: Schema.String })
const NamePath = Schema.Struct({ name: Schema.String })

export class LeasesGroup extends HttpApiGroup.make("allocator-leases")
  .add(
    HttpApiEndpoint.post("allocate", "/leases").setPayload(AllocateBody).addSuccess(LeaseGranted)
      .addError(BadRequest).addError(Unauthorized).addError(Forbidden).addError(NoMatch).addError(Denied)
  )
  .add(
    HttpApiEndpoint.post("keepalive", "/leases/:id/keepalive").setPath(IdPath).setPayload(KeepaliveBody)
      .addSuccess(KeepaliveAnswer).addError(BadRequest).addError(Unauthorized).addError(Forbidden).addError(NotFound).addError(Gone)
  )
  .add(
    HttpApiEndpoint.del("release", "/leases/:id").setPath(IdPath).addSuccess(LeaseView)
      .addError(Unauthorized).addError(Forbidden).addError(NotFound).addError(Gone)
  )
  .add(
    HttpApiEndpoint.get("list", "/leases")
      .setUrlParams(Schema.Struct({
        all: Schema.optional(Schema.Literal("true", "false")).annotations({ description: "Ended leases too (newest first)" }),
        holder: Schema.optional(Schema.String),
        device: Schema.optional(Schema.String)
      }))
      .addSuccess(Schema.Array(LeaseView)).addError(Unauthorized)
  )
{}

export class DevicesGroup extends HttpApiGroup.make("allocator-devices")
  .add(HttpApiEndpoint.get("list", "/devices").addSuccess(Schema.Array(DeviceView)).addError(Unauthorized))
  .add(
    HttpApiEndpoint.post("drain", "/devices/:name/drain").setPath(NamePath).addSuccess(DeviceView)
      .addError(Unauthorized).addError(Forbidden).addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("undrain", "/devices/:name/undrain").setPath(NamePath).addSuccess(DeviceView)
      .addError(Unauthorized).addError(Forbidden).addError(NotFound)
      .addError(error("NotDrained", 409, "The device is neither drained nor quarantined"))
  )
{}

export class AllocatorApi extends HttpApi.make("allocator").add(LeasesGroup).add(DevicesGroup) {}
