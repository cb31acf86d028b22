/**
 * Where the agents run: an `InstanceProvider` manages one instance per location, named
 * as the location (`<zone>--<browser>--<agent>`). `gce` is Compute Engine; `static`
 * stands for agents that are always on and manages nothing. Instances are also a
 * resource kind of core, so `orch resources list` and the TUI show them.
 */
import { ResourceKind } from "@orch/core/Resources"
import { Context, Data, type Effect } from "effect"

/** Compute Engine's statuses, and DELETED for an instance the controller saw go. */
export const statuses = [
  "PROVISIONING",
  "STAGING",
  "RUNNING",
  "STOPPING",
  "SUSPENDING",
  "SUSPENDED",
  "REPAIRING",
  "TERMINATED",
  "DELETED"
] as const
export type Status = typeof statuses[number]

export const InstanceKind = ResourceKind.make({
  plugin: "watchdog",
  name: "instance",
  states: statuses,
  initial: "PROVISIONING",
  // instances are managed, never leased
  leasable: []
})

export interface Instance {
  readonly name: string
  readonly zone: string
  readonly status: Status
  /** The provider's id (Compute Engine's numeric id), which agents report as `ec2`. */
  readonly id: string
}

/** A call to the provider failed; the controller logs it, counts it and tries again next round. */
export class ProviderError extends Data.TaggedError("ProviderError")<{
  readonly operation: string
  readonly instance: string | undefined
  readonly message: string
  /** The provider says the instance does not exist. */
  readonly notFound?: boolean | undefined
}> {}

/** What an operation came to within the wait: done, or still pending (the next round looks again). */
export type OperationState = "done" | "pending"

export interface CreateRequest {
  readonly name: string
  readonly zone: string
  /** Metadata items, `wpt_data` among them. */
  readonly metadata: Readonly<Record<string, string>>
}

export interface InstanceProviderService {
  readonly name: "gce" | "static"
  /** Every instance in these zones (the controller picks those of its naming scheme). */
  readonly list: (zones: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<Instance>, ProviderError>
  readonly create: (request: CreateRequest) => Effect.Effect<OperationState, ProviderError>
  readonly start: (instance: Instance) => Effect.Effect<OperationState, ProviderError>
  readonly stop: (instance: Instance) => Effect.Effect<OperationState, ProviderError>
  readonly reset: (instance: Instance) => Effect.Effect<OperationState, ProviderError>
  readonly resume: (instance: Instance) => Effect.Effect<OperationState, ProviderError>
  readonly remove: (instance: Instance) => Effect.Effect<OperationState, ProviderError>
  /** Closes the provider's connections. */
  readonly close: Effect.Effect<void>
}

export class InstanceProvider extends Context.Tag("@orch/plugins-watchdog/InstanceProvider")<
  InstanceProvider,
  InstanceProviderService
>() {}

const known = new Set<string>(statuses)

/** A provider's status text as one of ours; an unknown one reads as REPAIRING (wait and see). */
export const toStatus = (text: string | null | undefined): Status =>
  text !== null && text !== undefined && known.has(text) ? (text as Status) : "REPAIRING"
