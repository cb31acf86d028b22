/**
 * Resources: things a plugin leases or manages (devices, instances, runners, workers),
 * each of a kind that declares its states. A lease hands one free resource to one holder
 * until it is released or expires; every grant carries a fencing token larger than any
 * before it, so a holder that lost its lease can be told apart from the one that has it.
 *
 * A lease is open from its grant until it is released or reclaimed. An open lease past
 * its expiry no longer belongs to its holder (keepalive and release answer `LeaseGone`),
 * but it keeps the resource from being leased again until `reclaimExpired` ends it: the
 * owner of the kind sees every expiry and decides what the resource needs next.
 *
 * This module is the public face: the models, the service's contract and its tag, with
 * `ResourceKind` and the errors re-exported. The service is made in `internal/resources.ts`
 * (rows decoded in `internal/resourceCodec.ts`); its SQL is in `sql/resources.ts`.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, type Effect, type Either, Layer, type Option } from "effect"
import { make } from "./internal/resources.js"
import type {
  LeaseGone,
  LeaseHolderMismatch,
  LeaseNotFound,
  ResourceLeased,
  ResourceNotFound,
  ResourceStateConflict,
  UnknownResourceState
} from "./ResourceErrors.js"
import type { ResourceKind } from "./ResourceKind.js"

export * from "./ResourceErrors.js"
export * from "./ResourceKind.js"
export { make }

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/** A lease's grant: who holds what since when, until when. */
export interface LeaseTerms {
  readonly id: string
  readonly holder: string
  /** Larger than the token of any lease granted before it, across processes and restarts. */
  readonly token: number
  readonly grantedAt: number
  readonly expiresAt: number
}

export interface Resource<State extends string = string> {
  readonly plugin: string
  readonly kind: string
  readonly name: string
  readonly state: State
  readonly labels: Readonly<Record<string, string>>
  /** The JSON value given at upsert; undefined when none was. */
  readonly data: unknown
  readonly createdAt: number
  readonly updatedAt: number
  readonly stateChangedAt: number
  /** The last heartbeat; how "stuck" and "abandoned" are told. */
  readonly lastSeenAt: number | undefined
  /** When its last lease ended; undefined if it never had one. */
  readonly lastReleasedAt: number | undefined
  /** Set by `retire`: it is never leased again until an upsert brings it back. */
  readonly retiredAt: number | undefined
  /** The open lease on it, which may have expired and await reclaiming; undefined when free. */
  readonly lease: LeaseTerms | undefined
}

export interface Lease<State extends string = string> extends LeaseTerms {
  readonly plugin: string
  readonly kind: string
  /** When it was released or reclaimed; undefined while open. */
  readonly endedAt: number | undefined
  /** The reason given at release, or "expired" when reclaimed. */
  readonly endReason: string | undefined
  /** The leased resource as it is now. */
  readonly resource: Resource<State>
}

/** One change of a resource's state. */
export interface ResourceEvent {
  readonly at: number
  /** undefined for the event that created the resource */
  readonly from: string | undefined
  readonly to: string
  readonly reason: string
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

export interface UpsertInput<State extends string> {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** Any JSON value; omitted keeps the stored one. */
  readonly data?: unknown
  /** Omitted keeps the current state (or `initial` for a new resource). */
  readonly state?: State | undefined
  /** Recorded with a state change; "upsert" by default. */
  readonly reason?: string | undefined
}

export interface ListFilter {
  readonly plugin?: string | undefined
  /** A kind's name (with `plugin`), or the kind itself. */
  readonly kind?: string | ResourceKind | undefined
  readonly state?: string | undefined
  /** Every one must be on the resource. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** true: only resources with an open lease; false: only those without. */
  readonly leased?: boolean | undefined
  /** true: only retired ones; false: only those not retired; omitted: both. */
  readonly retired?: boolean | undefined
}

export interface LeaseRequest {
  readonly holder: string
  readonly ttlMs: number
  /** Lease this resource and no other. */
  readonly name?: string | undefined
  /** Every one must be on the resource. */
  readonly labels?: Readonly<Record<string, string>> | undefined
}

export interface LeasesFilter {
  readonly plugin?: string | undefined
  readonly kind?: string | ResourceKind | undefined
  /** The resource's name. */
  readonly resource?: string | undefined
  readonly holder?: string | undefined
  /** true: open leases (expired ones included until reclaimed); false: ended ones. */
  readonly active?: boolean | undefined
  /** Newest first; 100 by default. */
  readonly limit?: number | undefined
}

/** How many resources of a kind are in a state, and how many of those hold an open lease. */
export interface ResourceCount {
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly count: number
  readonly leased: number
}

export interface ResourcesService {
  /** The kinds the plugins of this build declare (for listings and metrics; any kind may be used). */
  readonly kinds: ReadonlyArray<ResourceKind.Any>

  /** Registers a resource or updates its labels and data, keeping its state and lease unless `state` is given. */
  readonly upsert: <S extends string>(
    kind: ResourceKind<S>,
    input: UpsertInput<S>
  ) => Effect.Effect<Resource<S>, UnknownResourceState | SqlError>

  /** Deletes a resource with its history; refused while a lease is open on it (see `retire`). */
  readonly remove: <S extends string>(
    kind: ResourceKind<S>,
    name: string
  ) => Effect.Effect<void, ResourceNotFound | ResourceLeased | SqlError>

  /**
   * Takes a resource out of service, leased or not: it is never leased again until an
   * upsert brings it back, while a lease open on it runs its course. For a device that
   * left the inventory while in use; `remove` it once the lease has ended.
   */
  readonly retire: <S extends string>(
    kind: ResourceKind<S>,
    name: string
  ) => Effect.Effect<Resource<S>, ResourceNotFound | SqlError>

  readonly get: <S extends string>(
    kind: ResourceKind<S>,
    name: string
  ) => Effect.Effect<Resource<S>, ResourceNotFound | SqlError>

  readonly list: (filter?: ListFilter) => Effect.Effect<ReadonlyArray<Resource>, SqlError>

  /**
   * Compare-and-set of the state: refused when `from` is given and does not hold the
   * current state. Setting the current state again changes nothing and records nothing.
   */
  readonly setState: <S extends string>(
    kind: ResourceKind<S>,
    name: string,
    to: S,
    options: { readonly from?: S | ReadonlyArray<S> | undefined; readonly reason: string }
  ) => Effect.Effect<Resource<S>, ResourceNotFound | ResourceStateConflict | UnknownResourceState | SqlError>

  /** State changes, newest first; the first one created the resource. */
  readonly history: <S extends string>(
    kind: ResourceKind<S>,
    name: string,
    options?: { readonly limit?: number | undefined }
  ) => Effect.Effect<ReadonlyArray<ResourceEvent>, SqlError>

  /** Records that the resource was seen now (`lastSeenAt`). */
  readonly heartbeat: <S extends string>(
    kind: ResourceKind<S>,
    name: string
  ) => Effect.Effect<void, ResourceNotFound | SqlError>

  /**
   * Leases one free matching resource to `holder` for `ttlMs`, or None when none is
   * free. Free: not retired, in a leasable state, no open lease. The never-leased and
   * then the least recently released go first, so wear spreads.
   */
  readonly lease: <S extends string>(
    kind: ResourceKind<S>,
    request: LeaseRequest
  ) => Effect.Effect<Option.Option<Lease<S>>, SqlError>

  /**
   * `lease` for a batch in one transaction: requests alike share one query for free
   * resources, and all grants one token reservation and one insert. One outcome per
   * request, in order; earlier requests are served first, as one by one.
   */
  readonly leaseMany: <S extends string>(
    kind: ResourceKind<S>,
    requests: ReadonlyArray<LeaseRequest>
  ) => Effect.Effect<ReadonlyArray<Option.Option<Lease<S>>>, SqlError>

  /** Extends a live lease to now + `ttlMs` and returns the new expiry. */
  readonly keepalive: (
    leaseId: string,
    ttlMs: number,
    options?: { readonly holder?: string | undefined }
  ) => Effect.Effect<number, LeaseNotFound | LeaseGone | LeaseHolderMismatch | SqlError>

  /**
   * `keepalive` for a batch in one transaction with one read and one update: one outcome
   * per item, in order (the new expiry, or why that lease was not extended).
   */
  readonly keepaliveMany: (
    items: ReadonlyArray<{ readonly leaseId: string; readonly ttlMs: number; readonly holder?: string | undefined }>
  ) => Effect.Effect<ReadonlyArray<Either.Either<number, LeaseNotFound | LeaseGone | LeaseHolderMismatch>>, SqlError>

  /**
   * Ends a live lease and returns it with its resource, now free; the caller decides
   * what the resource needs next (e.g. a device goes to cleaning).
   */
  readonly release: (
    leaseId: string,
    options: { readonly holder?: string | undefined; readonly reason: string }
  ) => Effect.Effect<Lease, LeaseNotFound | LeaseGone | LeaseHolderMismatch | SqlError>

  /** `release` for a batch in one transaction: one outcome per item, in order. */
  readonly releaseMany: (
    items: ReadonlyArray<{ readonly leaseId: string; readonly holder?: string | undefined; readonly reason: string }>
  ) => Effect.Effect<ReadonlyArray<Either.Either<Lease, LeaseNotFound | LeaseGone | LeaseHolderMismatch>>, SqlError>

  /**
   * Ends every open lease past its expiry (reason "expired") and returns them with
   * their resources, free again unless the caller now changes their state.
   */
  readonly reclaimExpired: <S extends string = string>(
    kind?: ResourceKind<S>
  ) => Effect.Effect<ReadonlyArray<Lease<S>>, SqlError>

  /** Lease records, open and ended, newest grant first. */
  readonly leases: (filter?: LeasesFilter) => Effect.Effect<ReadonlyArray<Lease>, SqlError>

  /** Resources by plugin, kind and state (not retired ones), for metrics. */
  readonly countByState: () => Effect.Effect<ReadonlyArray<ResourceCount>, SqlError>
}

export class Resources extends Context.Tag("@orch/core/Resources")<Resources, ResourcesService>() {
  /** The service over the current `SqlClient`; its tables come from core's migration 0003_resources. */
  static readonly layer = (kinds: ReadonlyArray<ResourceKind.Any> = []): Layer.Layer<Resources, never, SqlClient.SqlClient> =>
    Layer.effect(Resources, make(kinds))
}

export const layer = Resources.layer
