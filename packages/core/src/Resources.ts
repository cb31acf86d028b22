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
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Context, Data, Effect, Either, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import * as Database from "./Database.js"
import * as Fencing from "./sql/fencing.js"
import * as Sql from "./sql/resources.js"

// -----------------------------------------------------------------------------
// kinds
// -----------------------------------------------------------------------------

/** What a plugin declares about one kind of resource. */
export interface ResourceKind<State extends string = string> {
  readonly plugin: string
  readonly name: string
  readonly states: ReadonlyArray<State>
  /** The state of a resource registered without one. */
  readonly initial: State
  /** A resource is leased only in one of these states (and only when no lease is open on it). */
  readonly leasable: ReadonlyArray<State>
}

export declare namespace ResourceKind {
  export type Any = ResourceKind<any>
  export type State<K> = K extends ResourceKind<infer S> ? S : never

  export interface Definition<State extends string> {
    readonly plugin: string
    readonly name: string
    readonly states: ReadonlyArray<State>
    readonly initial: NoInfer<State>
    readonly leasable: ReadonlyArray<NoInfer<State>>
  }
}

const identifier = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/

const makeKind = <const State extends string>(kind: ResourceKind.Definition<State>): ResourceKind<State> => {
  const where = `resource kind ${JSON.stringify(kind.plugin)}/${JSON.stringify(kind.name)}`
  const fail = (problem: string): never => {
    throw new Error(`${where}: ${problem}`)
  }
  if (typeof kind.plugin !== "string" || !identifier.test(kind.plugin)) fail("plugin must be a non-empty name without spaces")
  if (typeof kind.name !== "string" || !identifier.test(kind.name)) fail("name must be a non-empty name without spaces")
  if (!Array.isArray(kind.states) || kind.states.length === 0) fail("declares no states")
  for (const state of kind.states) {
    if (typeof state !== "string" || state.length === 0) fail(`has a state that is not a non-empty string: ${JSON.stringify(state)}`)
  }
  const repeated = kind.states.filter((state, i) => kind.states.indexOf(state) !== i)
  if (repeated.length > 0) fail(`declares ${JSON.stringify(repeated[0])} twice`)
  if (!kind.states.includes(kind.initial)) {
    fail(`initial state ${JSON.stringify(kind.initial)} is not one of its states ${JSON.stringify(kind.states)}`)
  }
  if (!Array.isArray(kind.leasable)) fail("leasable must be a list of states")
  for (const state of kind.leasable) {
    if (!kind.states.includes(state)) {
      fail(`leasable state ${JSON.stringify(state)} is not one of its states ${JSON.stringify(kind.states)}`)
    }
  }
  return Object.freeze({
    plugin: kind.plugin,
    name: kind.name,
    states: Object.freeze([...kind.states]),
    initial: kind.initial,
    leasable: Object.freeze([...new Set(kind.leasable)])
  })
}

/** Building resource kinds. An invalid definition throws at once: it is a programming error. */
export const ResourceKind = {
  /**
   * Declares a kind; throws on empty or repeated states, or an `initial` or `leasable`
   * state it does not declare.
   *
   * ```ts
   * const Device = ResourceKind.make({
   *   plugin: "lab", name: "device",
   *   states: ["ready", "cleaning", "broken"], initial: "cleaning", leasable: ["ready"]
   * })
   * ```
   */
  make: makeKind
}

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
// errors
// -----------------------------------------------------------------------------

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

// -----------------------------------------------------------------------------
// implementation
// -----------------------------------------------------------------------------

const keyOf = (kind: ResourceKind, name: string): Sql.ResourceKey => ({ plugin: kind.plugin, kind: kind.name, name })

const describe = (key: Sql.ResourceKey) => `${key.plugin}/${key.kind} ${JSON.stringify(key.name)}`

const notFound = (key: Sql.ResourceKey) =>
  new ResourceNotFound({ ...key, message: `no resource ${describe(key)}` })

/** Labels as stored: keys sorted, so equal label sets compare equal as text. */
const encodeLabels = (labels: Readonly<Record<string, string>>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))

const checkLabels = (labels: Readonly<Record<string, string>>): Effect.Effect<void> => {
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.length === 0 || typeof value !== "string") {
      return Effect.dieMessage(`resource labels must map non-empty keys to strings, got ${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    }
  }
  return Effect.void
}

const checkTtl = (ttlMs: number): Effect.Effect<number> =>
  Number.isFinite(ttlMs) && ttlMs > 0
    ? Effect.succeed(Math.ceil(ttlMs))
    : Effect.dieMessage(`a lease's ttlMs must be a positive number of milliseconds, got ${ttlMs}`)

const checkState = <S extends string>(kind: ResourceKind<S>, state: string): Effect.Effect<void, UnknownResourceState> =>
  (kind.states as ReadonlyArray<string>).includes(state)
    ? Effect.void
    : Effect.fail(
      new UnknownResourceState({
        plugin: kind.plugin,
        kind: kind.name,
        state,
        message: `resource kind ${kind.plugin}/${kind.name} has no state ${JSON.stringify(state)} (its states: ${kind.states.join(", ")})`
      })
    )

const toResource = <S extends string>(row: Sql.ResourceRow): Resource<S> => ({
  plugin: row.plugin,
  kind: row.kind,
  name: row.name,
  state: row.state as S,
  labels: JSON.parse(row.labels),
  data: row.data === null ? undefined : JSON.parse(row.data),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  stateChangedAt: row.state_changed_at,
  lastSeenAt: row.last_seen_at ?? undefined,
  lastReleasedAt: row.last_released_at ?? undefined,
  retiredAt: row.retired_at ?? undefined,
  lease: row.open_id === null ? undefined : {
    id: row.open_id,
    holder: row.open_holder!,
    token: row.open_token!,
    grantedAt: row.open_granted_at!,
    expiresAt: row.open_expires_at!
  }
})

const toLease = <S extends string>(row: Sql.LeaseWithResourceRow): Lease<S> => ({
  id: row.lease_id,
  plugin: row.plugin,
  kind: row.kind,
  holder: row.lease_holder,
  token: row.lease_token,
  grantedAt: row.lease_granted_at,
  expiresAt: row.lease_expires_at,
  endedAt: row.lease_ended_at ?? undefined,
  endReason: row.lease_end_reason ?? undefined,
  resource: toResource<S>(row)
})

const kindFilter = (plugin: string | undefined, kind: string | ResourceKind | undefined) =>
  typeof kind === "object" ? { plugin: kind.plugin, kind: kind.name } : { plugin, kind }

export const make = (kinds: ReadonlyArray<ResourceKind.Any>): Effect.Effect<ResourcesService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const registry = new Map<string, ResourceKind.Any>()
    for (const kind of kinds) {
      const key = `${kind.plugin}/${kind.name}`
      if (registry.has(key) && registry.get(key) !== kind) {
        return yield* Effect.dieMessage(`resource kind ${key} is declared twice with different definitions`)
      }
      registry.set(key, kind)
    }
    const transaction = <A, E>(effect: Effect.Effect<A, E>) =>
      Database.transaction(effect).pipe(Effect.provideService(SqlClient.SqlClient, sql))

    const mustGet = (key: Sql.ResourceKey) =>
      Effect.flatMap(Sql.getResource(sql, key), (row) => row === undefined ? Effect.fail(notFound(key)) : Effect.succeed(row))

    const leaseById = (id: string) =>
      Effect.map(Sql.listLeases(sql, { ids: [id], limit: 1 }), (rows) => rows[0])

    /** The lease, if `holder` (when given) holds it and it is still live at `now`. */
    const liveLease = (leaseId: string, holder: string | undefined, now: number) =>
      Effect.flatMap(Sql.getLease(sql, leaseId), (lease) => checkLive(leaseId, lease, holder, now))

    const checkLive = (leaseId: string, lease: Sql.LeaseRow | undefined, holder: string | undefined, now: number) =>
      Effect.gen(function*() {
        if (lease === undefined) {
          return yield* new LeaseNotFound({ leaseId, message: `no lease ${leaseId}` })
        }
        if (holder !== undefined && holder !== lease.holder) {
          return yield* new LeaseHolderMismatch({
            leaseId,
            holder: lease.holder,
            requestedBy: holder,
            message: `lease ${leaseId} is held by ${JSON.stringify(lease.holder)}, not ${JSON.stringify(holder)}`
          })
        }
        if (lease.ended_at !== null || lease.expires_at <= now) {
          return yield* new LeaseGone({
            leaseId,
            expiresAt: lease.expires_at,
            endedAt: lease.ended_at ?? undefined,
            endReason: lease.end_reason ?? undefined,
            message: lease.ended_at !== null
              ? `lease ${leaseId} ended (${lease.end_reason ?? "no reason"})`
              : `lease ${leaseId} expired ${now - lease.expires_at} ms ago`
          })
        }
        return lease
      })

    const upsert = <S extends string>(kind: ResourceKind<S>, input: UpsertInput<S>) =>
      Effect.gen(function*() {
        if (input.state !== undefined) yield* checkState(kind, input.state)
        yield* checkLabels(input.labels)
        const key = keyOf(kind, input.name)
        const labels = encodeLabels(input.labels)
        const data = input.data === undefined ? undefined : JSON.stringify(input.data)
        return yield* transaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const existing = yield* Sql.getResource(sql, key)
          if (existing === undefined) {
            const state = input.state ?? kind.initial
            yield* Sql.insertResource(sql, { ...key, state, labels, data: data ?? null, now })
            yield* Sql.insertEvent(sql, key, { at: now, from: null, to: state, reason: input.reason ?? "created" })
          } else {
            yield* Sql.updateResource(sql, { ...key, labels, data: data === undefined ? existing.data : data, now })
            if (input.state !== undefined && input.state !== existing.state) {
              yield* Sql.setState(sql, key, { from: existing.state, to: input.state, now })
              yield* Sql.insertEvent(sql, key, { at: now, from: existing.state, to: input.state, reason: input.reason ?? "upsert" })
            }
          }
          yield* Sql.replaceLabels(sql, key, input.labels)
          return toResource<S>(yield* mustGet(key).pipe(Effect.catchTag("ResourceNotFound", Effect.die)))
        }))
      })

    const remove = <S extends string>(kind: ResourceKind<S>, name: string) => {
      const key = keyOf(kind, name)
      return transaction(Effect.gen(function*() {
        const row = yield* mustGet(key)
        if (row.open_id !== null) {
          return yield* new ResourceLeased({
            ...key,
            leaseId: row.open_id,
            holder: row.open_holder!,
            message: `resource ${describe(key)} is leased to ${JSON.stringify(row.open_holder)} (lease ${row.open_id}): retire it, and remove it once the lease has ended`
          })
        }
        yield* Sql.deleteResource(sql, key)
      }))
    }

    const retire = <S extends string>(kind: ResourceKind<S>, name: string) => {
      const key = keyOf(kind, name)
      return transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (!(yield* Sql.retireResource(sql, key, now))) return yield* notFound(key)
        return toResource<S>(yield* mustGet(key))
      }))
    }

    const get = <S extends string>(kind: ResourceKind<S>, name: string) =>
      Effect.map(mustGet(keyOf(kind, name)), (row) => toResource<S>(row))

    const list = (filter: ListFilter = {}) =>
      Effect.map(
        Sql.listResources(sql, { ...filter, ...kindFilter(filter.plugin, filter.kind) }),
        (rows) => rows.map((row) => toResource(row))
      )

    const setState = <S extends string>(
      kind: ResourceKind<S>,
      name: string,
      to: S,
      options: { readonly from?: S | ReadonlyArray<S> | undefined; readonly reason: string }
    ) =>
      Effect.gen(function*() {
        yield* checkState(kind, to)
        const from: ReadonlyArray<string> | undefined = options.from === undefined
          ? undefined
          : typeof options.from === "string" ? [options.from] : options.from
        for (const state of from ?? []) yield* checkState(kind, state)
        const key = keyOf(kind, name)
        return yield* transaction(Effect.gen(function*() {
          const row = yield* mustGet(key)
          const conflict = () =>
            new ResourceStateConflict({
              ...key,
              expected: from ?? [],
              actual: row.state,
              message: `resource ${describe(key)} is ${row.state}, not ${from!.join(" or ")}: not moved to ${to}`
            })
          if (from !== undefined && !from.includes(row.state)) return yield* conflict()
          if (row.state === to) return toResource<S>(row)
          const now = yield* Clock.currentTimeMillis
          if (!(yield* Sql.setState(sql, key, { from: row.state, to, now }))) return yield* conflict()
          yield* Sql.insertEvent(sql, key, { at: now, from: row.state, to, reason: options.reason })
          return toResource<S>(yield* mustGet(key))
        }))
      })

    const history = <S extends string>(kind: ResourceKind<S>, name: string, options?: { readonly limit?: number | undefined }) =>
      Effect.map(
        Sql.listEvents(sql, keyOf(kind, name), options?.limit ?? 100),
        (rows) => rows.map((row): ResourceEvent => ({ at: row.at, from: row.from_state ?? undefined, to: row.to_state, reason: row.reason }))
      )

    const heartbeat = <S extends string>(kind: ResourceKind<S>, name: string) =>
      Effect.gen(function*() {
        const key = keyOf(kind, name)
        const now = yield* Clock.currentTimeMillis
        if (!(yield* Sql.touchResource(sql, key, now))) return yield* notFound(key)
      })

    const lease = <S extends string>(kind: ResourceKind<S>, request: LeaseRequest) =>
      Effect.gen(function*() {
        const ttlMs = yield* checkTtl(request.ttlMs)
        yield* checkLabels(request.labels ?? {})
        // unique across processes, so from the OS rather than the seeded `Random`
        const id = randomUUID()
        return yield* transaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const free = yield* Sql.findLeasable(sql, {
            plugin: kind.plugin,
            kind: kind.name,
            states: kind.leasable,
            name: request.name,
            labels: request.labels ?? {}
          })
          if (free === undefined) return Option.none<Lease<S>>()
          const token = yield* Fencing.nextToken(sql, "resources")
          yield* Sql.insertLease(sql, {
            id,
            plugin: free.plugin,
            kind: free.kind,
            resource: free.name,
            holder: request.holder,
            token,
            granted_at: now,
            expires_at: now + ttlMs,
            ended_at: null,
            end_reason: null
          })
          const granted = yield* leaseById(id)
          return Option.some(toLease<S>(granted!))
        }))
      })

    const leaseMany = <S extends string>(kind: ResourceKind<S>, requests: ReadonlyArray<LeaseRequest>) =>
      Effect.gen(function*() {
        const ttls = yield* Effect.forEach(requests, (request) => Effect.zipLeft(checkTtl(request.ttlMs), checkLabels(request.labels ?? {})))
        // requests alike (same name and labels) are served together, in order
        const groups = new Map<string, Array<number>>()
        requests.forEach((request, i) => {
          const key = JSON.stringify([request.name ?? null, encodeLabels(request.labels ?? {})])
          groups.set(key, [...(groups.get(key) ?? []), i])
        })
        return yield* transaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const granted: Array<Sql.LeaseRow | undefined> = requests.map(() => undefined)
          for (const members of groups.values()) {
            const sample = requests[members[0]!]!
            const free = yield* Sql.findLeasableUpTo(sql, {
              plugin: kind.plugin,
              kind: kind.name,
              states: kind.leasable,
              name: sample.name,
              labels: sample.labels ?? {}
            }, members.length)
            if (free.length === 0) continue
            const tokens = yield* Fencing.nextTokens(sql, "resources", free.length)
            const rows = free.map((resource, j): Sql.LeaseRow => {
              const i = members[j]!
              return {
                id: randomUUID(),
                plugin: resource.plugin,
                kind: resource.kind,
                resource: resource.name,
                holder: requests[i]!.holder,
                token: tokens[j]!,
                granted_at: now,
                expires_at: now + ttls[i]!,
                ended_at: null,
                end_reason: null
              }
            })
            yield* Sql.insertLeases(sql, rows)
            rows.forEach((row, j) => (granted[members[j]!] = row))
          }
          const ids = granted.flatMap((row) => (row === undefined ? [] : [row.id]))
          const byId = new Map((yield* Sql.listLeases(sql, { ids, limit: ids.length })).map((row) => [row.lease_id, row]))
          return granted.map((row) => row === undefined ? Option.none<Lease<S>>() : Option.some(toLease<S>(byId.get(row.id)!)))
        }))
      })

    const keepalive = (leaseId: string, ttlMs: number, options?: { readonly holder?: string | undefined }) =>
      Effect.flatMap(checkTtl(ttlMs), (ttl) =>
        transaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* liveLease(leaseId, options?.holder, now)
          const expiresAt = now + ttl
          if (!(yield* Sql.extendLease(sql, leaseId, { now, expiresAt }))) {
            return yield* Effect.dieMessage(`lease ${leaseId} changed under the write lock`)
          }
          return expiresAt
        })))

    const keepaliveMany: ResourcesService["keepaliveMany"] = (items) =>
      Effect.forEach(items, (item) => checkTtl(item.ttlMs)).pipe(
        Effect.flatMap((ttls) =>
          transaction(Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const rows = new Map((yield* Sql.getLeases(sql, [...new Set(items.map((item) => item.leaseId))])).map((row) => [row.id, row]))
            const outcomes = yield* Effect.forEach(items, (item, i) =>
              Effect.either(Effect.as(checkLive(item.leaseId, rows.get(item.leaseId), item.holder, now), now + ttls[i]!)))
            // the last of several keepalives of one lease in a batch wins, as it would one at a time
            const latest = new Map<string, number>()
            items.forEach((item, i) => {
              const outcome = outcomes[i]!
              if (Either.isRight(outcome)) latest.set(item.leaseId, outcome.right)
            })
            const extended = new Set(yield* Sql.extendLeases(sql, [...latest].map(([id, expiresAt]) => ({ id, expiresAt })), now))
            for (const id of latest.keys()) {
              if (!extended.has(id)) return yield* Effect.dieMessage(`lease ${id} changed under the write lock`)
            }
            return outcomes
          }))
        )
      )

    const release = (leaseId: string, options: { readonly holder?: string | undefined; readonly reason: string }) =>
      transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const lease = yield* liveLease(leaseId, options.holder, now)
        if (!(yield* Sql.endLease(sql, lease, { now, reason: options.reason }))) {
          return yield* Effect.dieMessage(`lease ${leaseId} changed under the write lock`)
        }
        return toLease((yield* leaseById(leaseId))!)
      }))

    const releaseMany: ResourcesService["releaseMany"] = (items) =>
      transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = new Map((yield* Sql.getLeases(sql, [...new Set(items.map((item) => item.leaseId))])).map((row) => [row.id, row]))
        const checked = yield* Effect.forEach(items, (item) => Effect.either(checkLive(item.leaseId, rows.get(item.leaseId), item.holder, now)))
        // a lease named twice in one batch is released by the first and gone for the second
        const ending = new Map<string, { lease: Sql.LeaseRow; reason: string }>()
        const outcomes = checked.map((outcome, i): Either.Either<string, LeaseNotFound | LeaseGone | LeaseHolderMismatch> => {
          if (Either.isLeft(outcome)) return Either.left(outcome.left)
          if (ending.has(outcome.right.id)) {
            return Either.left(new LeaseGone({ leaseId: outcome.right.id, expiresAt: outcome.right.expires_at, endedAt: now, endReason: ending.get(outcome.right.id)!.reason, message: `lease ${outcome.right.id} ended (${ending.get(outcome.right.id)!.reason})` }))
          }
          ending.set(outcome.right.id, { lease: outcome.right, reason: items[i]!.reason })
          return Either.right(outcome.right.id)
        })
        const ended = new Set(yield* Sql.endLeases(sql, [...ending.values()], now))
        for (const id of ending.keys()) {
          if (!ended.has(id)) return yield* Effect.dieMessage(`lease ${id} changed under the write lock`)
        }
        const ids = [...ending.keys()]
        const byId = new Map((yield* Sql.listLeases(sql, { ids, limit: ids.length })).map((row) => [row.lease_id, row]))
        return outcomes.map((outcome) => Either.map(outcome, (id) => toLease(byId.get(id)!)))
      }))

    const reclaimExpired = <S extends string = string>(kind?: ResourceKind<S>) =>
      transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expired = yield* Sql.expiredLeases(sql, { now, plugin: kind?.plugin, kind: kind?.name })
        const ended: Array<string> = []
        for (const lease of expired) {
          if (yield* Sql.endLease(sql, lease, { now, reason: "expired" })) ended.push(lease.id)
        }
        const rows = yield* Sql.listLeases(sql, { ids: ended, limit: ended.length })
        return rows.map((row) => toLease<S>(row)).sort((a, b) => a.token - b.token)
      }))

    const leases = (filter: LeasesFilter = {}) =>
      Effect.map(
        Sql.listLeases(sql, { ...filter, ...kindFilter(filter.plugin, filter.kind), limit: filter.limit ?? 100 }),
        (rows) => rows.map((row) => toLease(row))
      )

    const countByState = () =>
      Effect.map(Sql.countByState(sql), (rows) =>
        rows.map((row): ResourceCount => ({
          plugin: row.plugin,
          kind: row.kind,
          state: row.state,
          count: Number(row.count),
          leased: Number(row.leased)
        })))

    return {
      kinds: [...registry.values()],
      upsert,
      remove,
      retire,
      get,
      list,
      setState,
      history,
      heartbeat,
      lease,
      leaseMany,
      keepalive,
      keepaliveMany,
      release,
      releaseMany,
      reclaimExpired,
      leases,
      countByState
    } satisfies ResourcesService
  })

export const layer = Resources.layer
