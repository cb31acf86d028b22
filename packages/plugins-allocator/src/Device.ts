/**
 * Devices as resources of core's `Resources`: the kind, its states, and how a device
 * looks to clients. A device's state is its condition; whether it is leased is its
 * open lease, so `status` (what clients and metrics show) combines the two.
 */
import { ResourceKind, type Resource } from "@orch/core/Resources"
import { Schema } from "effect"

export const states = ["free", "cleaning", "quarantined", "unhealthy", "drained"] as const
export type DeviceState = typeof states[number]

/** free: can be leased; cleaning: its type's cleaning command runs; quarantined: cleaning failed;
 * unhealthy: its health check fails; drained: taken out by an operator. */
export const Device = ResourceKind.make({
  plugin: "allocator",
  name: "device",
  states,
  initial: "free",
  leasable: ["free"]
})

/** The label that carries a device's type, so that `type` matches like any label. */
export const typeLabel = "type"

/** What core keeps in the resource's `data`. */
export interface DeviceData {
  readonly type: string
  readonly connection: Readonly<Record<string, unknown>>
}

export const Status = Schema.Literal("free", "leased", "draining", "cleaning", "quarantined", "unhealthy", "drained", "removed")
export type Status = typeof Status.Type

export const statusOf = (resource: Resource): Status => {
  if (resource.lease !== undefined) {
    if (resource.retiredAt !== undefined) return "removed"
    return resource.state === "drained" ? "draining" : "leased"
  }
  if (resource.retiredAt !== undefined) return "removed"
  return resource.state as Status
}

export const dataOf = (resource: Resource): DeviceData => {
  const data = (resource.data ?? {}) as Partial<DeviceData>
  return { type: data.type ?? resource.labels[typeLabel] ?? "", connection: data.connection ?? {} }
}

/** A device's own labels, without the type label core matches on. */
export const labelsOf = (resource: Resource): Record<string, string> => {
  const { [typeLabel]: _type, ...labels } = resource.labels
  return labels
}

export const DeviceInfo = Schema.Struct({
  name: Schema.String,
  type: Schema.String,
  labels: Schema.Record({ key: Schema.String, value: Schema.String }),
  connection: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}).annotations({ identifier: "AllocatorDevice" })
export type DeviceInfo = typeof DeviceInfo.Type

export const infoOf = (resource: Resource): DeviceInfo => {
  const data = dataOf(resource)
  return { name: resource.name, type: data.type, labels: labelsOf(resource), connection: { ...data.connection } }
}
