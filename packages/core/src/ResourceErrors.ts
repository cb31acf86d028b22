/**
 * The errors `Resources` reports: a resource or lease that is not there, a lease its
 * caller no longer holds, a state the kind does not know or that changed meanwhile.
 */
import { Data } from "effect"

export class ResourceNotFound extends Data.TaggedError("ResourceNotFound")<{
  readonly plugin: string
  readonly kind: string
  readonly name: string
  readonly message: string
}> {}

/** `remove` of a resource that a lease still holds. */
export class ResourceLeased extends Data.TaggedError("ResourceLeased")<{
  readonly plugin: string
  readonly kind: string
  readonly name: string
  readonly leaseId: string
  readonly holder: string
  readonly message: string
}> {}

/** `setState` found the resource in a state other than the ones it allowed. */
export class ResourceStateConflict extends Data.TaggedError("ResourceStateConflict")<{
  readonly plugin: string
  readonly kind: string
  readonly name: string
  readonly expected: ReadonlyArray<string>
  readonly actual: string
  readonly message: string
}> {}

/** A state the kind does not declare. */
export class UnknownResourceState extends Data.TaggedError("UnknownResourceState")<{
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly message: string
}> {}

export class LeaseNotFound extends Data.TaggedError("LeaseNotFound")<{
  readonly leaseId: string
  readonly message: string
}> {}

/** The lease expired or ended: its holder no longer holds anything (HTTP 410). */
export class LeaseGone extends Data.TaggedError("LeaseGone")<{
  readonly leaseId: string
  readonly expiresAt: number
  readonly endedAt: number | undefined
  readonly endReason: string | undefined
  readonly message: string
}> {}

/** The caller named a holder other than the lease's (HTTP 403). */
export class LeaseHolderMismatch extends Data.TaggedError("LeaseHolderMismatch")<{
  readonly leaseId: string
  readonly holder: string
  readonly requestedBy: string
  readonly message: string
}> {}
