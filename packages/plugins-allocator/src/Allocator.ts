/**
 * The allocator: leases devices to holders over core's `Resources`, with waiting
 * allocations served first come first served, keepalives, releases and expiry, and what
 * follows the end of a lease (cleaning or free). Lease changes go through a group commit,
 * so each is committed before its caller hears of it while concurrent ones share commits.
 *
 * Nothing here can lease a device twice: every grant is core's `Resources.lease`, a
 * write transaction that finds a free device and inserts its lease, backed by the unique
 * index on open leases, across restarts and processes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import * as GroupCommit from "@orch/core/GroupCommit"
import { JobKind, JobQueue } from "@orch/core/Jobs"
import * as Notifications from "@orch/core/Notifications"
import { ownerId } from "@orch/core/Plugin"
import {
  type Lease,
  type LeaseGone,
  type LeaseHolderMismatch,
  type LeaseNotFound,
  type Resource,
  Resources,
  type ResourceNotFound
} from "@orch/core/Resources"
import { Cause, Clock, Context, Data, Effect, Either, Metric, Option, Queue, Ref, Schema, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import type { AllocatorConfig } from "./AllocatorConfig.js"
import { Device, type DeviceData, type DeviceInfo, infoOf, type Status, statusOf, typeLabel } from "./Device.js"
import type { DeviceType, Inventory } from "./Inventory.js"
import * as AllocatorMetrics from "./Metrics.js"
import * as Sql from "./sql.js"
import * as Waiting from "./Waiting.js"

/** A device to clean after a lease ended; worked by the cleaning job worker (see Cleaning.ts). */
export const CleanJob = JobKind.make({
  plugin: "allocator",
  name: "clean",
  payload: Schema.Struct({ device: Schema.String, afterLease: Schema.optional(Schema.String) }),
  result: Schema.Struct({ exitCode: Schema.Number, output: Schema.String }),
  states: ["queued", "cleaned", "failed", "dead", "cancelled"],
  initial: "queued",
  transitions: { queued: ["cleaned", "failed", "dead", "cancelled"] },
  // an attempt is lost only when its process dies mid-run: try again on another
  retry: { maxAttempts: 5, initialDelay: "1 second", maxDelay: "1 minute" }
})

export interface AllocateRequest {
  readonly type?: string | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
  readonly holder: string
  readonly ttlMs: number
  /** 0: answer at once. */
  readonly waitMs: number
}

export interface Grant {
  readonly lease: Lease
  readonly device: DeviceInfo
}

export type DenialReason = "no_match" | "all_leased" | "all_unhealthy" | "none_free"

/** No matching device was free (within the wait asked for). */
export class AllocationDenied extends Data.TaggedError("AllocationDenied")<{
  readonly reason: DenialReason
  readonly counts: Readonly<Partial<Record<Status, number>>>
  readonly message: string
}> {}

export interface AllocatorService {
  readonly config: AllocatorConfig
  readonly allocate: (request: AllocateRequest) => Effect.Effect<Grant, AllocationDenied | SqlError>
  /** Extends by `ttlMs`, or by the TTL the lease was granted with. */
  readonly keepalive: (
    leaseId: string,
    options: { readonly ttlMs?: number | undefined; readonly holder?: string | undefined }
  ) => Effect.Effect<number, LeaseNotFound | LeaseGone | LeaseHolderMismatch | SqlError>
  readonly release: (
    leaseId: string,
    options: { readonly holder?: string | undefined; readonly reason?: string | undefined }
  ) => Effect.Effect<Lease, LeaseNotFound | LeaseGone | LeaseHolderMismatch | SqlError>
  /** Ends expired leases; their devices go to cleaning or are free. Returns them. */
  readonly reclaimExpired: Effect.Effect<ReadonlyArray<Lease>, SqlError>
  readonly drain: (name: string) => Effect.Effect<Resource, ResourceNotFound | SqlError>
  readonly undrain: (name: string) => Effect.Effect<Resource, ResourceNotFound | DeviceNotDrained | SqlError>
  /** Inventory devices, and removed ones still leased. */
  readonly devices: Effect.Effect<ReadonlyArray<Resource>, SqlError>
  readonly inventory: Effect.Effect<Inventory>
  /** Serves a new inventory: devices are added or updated, removed ones are retired (a lease on one runs its course). */
  readonly useInventory: (inventory: Inventory) => Effect.Effect<void, SqlError>
  readonly typeOf: (name: string) => Effect.Effect<DeviceType | undefined>
  /**
   * Devices may have come free (here or on another node): asks for a pass over the waiting
   * allocations and returns at once. The one entry point for wake-ups from outside, such as
   * a notification that another node released a device.
   */
  readonly wake: Effect.Effect<void>
  /** `wake`, returning once that pass has ended (the waiters loop, which polls for other nodes' releases). */
  readonly serveWaiting: Effect.Effect<void>
  readonly waitingCount: Effect.Effect<number>
  /** The allocations waiting for a device, first come first (the TUI's waiters view). */
  readonly waiters: Effect.Effect<ReadonlyArray<Waiting.WaiterView>>
}

export class DeviceNotDrained extends Data.TaggedError("DeviceNotDrained")<{
  readonly name: string
  readonly state: string
  readonly message: string
}> {}

export class Allocator extends Context.Tag("@orch/plugins-allocator/Allocator")<Allocator, AllocatorService>() {}

const criteriaOf = (request: AllocateRequest): Record<string, string> => ({
  ...request.labels,
  ...(request.type === undefined ? {} : { [typeLabel]: request.type })
})

const describeCriteria = (request: AllocateRequest) => {
  const parts = [
    ...(request.type === undefined ? [] : [`of type ${JSON.stringify(request.type)}`]),
    ...(request.labels === undefined || Object.keys(request.labels).length === 0
      ? []
      : [`with labels ${Object.entries(request.labels).map(([k, v]) => `${k}=${v}`).join(",")}`])
  ]
  return parts.length === 0 ? "" : " " + parts.join(" ")
}

/** Grants, or why not: none free, or another node's waiter wants what this request could take. */
type LeaseOutcome =
  | { readonly _tag: "Granted"; readonly grant: Grant }
  | { readonly _tag: "NoneFree" }
  | { readonly _tag: "Behind" }

export const make = (
  config: AllocatorConfig,
  initial: Inventory,
  options: {
    /** This allocator among the nodes sharing the database (default: host:pid:allocator and a random part). */
    readonly node?: string | undefined
  } = {}
): Effect.Effect<AllocatorService, never, Resources | JobQueue | SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const resources = yield* Resources
    const queue = yield* JobQueue
    const sql = yield* SqlClient.SqlClient
    // a lease change's own failure (gone, someone else's) rolled back its savepoint; an SQL error did not
    const commit = yield* GroupCommit.make({
      isCleanFailure: (cause) =>
        Cause.isFailType(cause) && !(typeof cause.error === "object" && cause.error !== null &&
          (cause.error as { _tag?: string })._tag === "SqlError"),
      closedMessage: "the allocator is shutting down",
      gather: "turn"
    })
    const inventoryRef = yield* Ref.make(initial)

    const typeOf = (name: string) => Effect.map(Ref.get(inventoryRef), (inventory) => inventory.types[name])

    /** Inside the transaction that ended the lease: clean the device when its type says so. */
    const afterLeaseEnded = (lease: Lease, options: { readonly used: boolean }) =>
      Effect.gen(function*() {
        const device = lease.resource
        const type = yield* typeOf((device.data as DeviceData | undefined)?.type ?? "")
        if (!options.used || type?.cleaning === undefined || device.state !== "free" || device.retiredAt !== undefined) return
        yield* resources.setState(Device, device.name, "cleaning", { from: "free", reason: `lease ${lease.id} of ${lease.holder} ended (${lease.endReason}): cleaning` })
        yield* queue.enqueue(CleanJob, { device: device.name, afterLease: lease.id })
      }).pipe(Effect.orDie)

    // the TTL each lease was granted with, for keepalives without one; a bounded cache of the table
    const grantedTtls = new Map<string, number>()
    const rememberTtl = (leaseId: string, ttlMs: number) => {
      if (grantedTtls.size >= 100_000) grantedTtls.clear()
      grantedTtls.set(leaseId, ttlMs)
    }

    /** Leases the device named (or any fitting, without a name) to each request, in the caller's transaction. */
    const leaseAll = (asks: ReadonlyArray<{ readonly request: AllocateRequest; readonly device?: string | undefined }>) =>
      Effect.gen(function*() {
        const granted = yield* resources.leaseMany(Device, asks.map(({ device, request }) => ({
          holder: request.holder,
          ttlMs: request.ttlMs,
          labels: criteriaOf(request),
          name: device
        })))
        const ttls = granted.flatMap((lease, i) => Option.isSome(lease) ? [{ leaseId: lease.value.id, ttlMs: asks[i]!.request.ttlMs }] : [])
        yield* Sql.insertLeaseTtls(sql, ttls)
        for (const { leaseId, ttlMs } of ttls) rememberTtl(leaseId, ttlMs)
        return granted.map((lease) => Option.map(lease, (l): Grant => ({ lease: l, device: infoOf(l.resource) })))
      })

    /** Why no device fitting `request` is free: what the devices that fit it are doing. */
    const readDenial = (request: AllocateRequest) =>
      Effect.gen(function*() {
        const matching = yield* resources.list({ kind: Device, labels: criteriaOf(request), retired: false })
        const counts: Partial<Record<Status, number>> = {}
        for (const device of matching) counts[statusOf(device)] = (counts[statusOf(device)] ?? 0) + 1
        const total = matching.length
        const what = `device${describeCriteria(request)}`
        const summary = Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(", ")
        const [reason, message]: [DenialReason, string] = total === 0
          ? ["no_match", `no ${what} in the inventory`]
          : (counts.leased ?? 0) + (counts.draining ?? 0) === total
          ? ["all_leased", `every ${what} is leased (${summary})`]
          : counts.unhealthy === total
          ? ["all_unhealthy", `every ${what} is unhealthy (${summary})`]
          : (counts.free ?? 0) > 0
          ? ["none_free", `every free ${what} goes to an allocation that waits before this one (${summary})`]
          : ["none_free", `no ${what} is free (${summary})`]
        return new AllocationDenied({ reason, counts, message })
      })

    const releaseUnused = (grant: Grant) =>
      commit(Effect.flatMap(
        resources.release(grant.lease.id, { reason: "its waiting client left before it was handed over" }),
        (lease) => afterLeaseEnded(lease, { used: false })
      )).pipe(Effect.ignoreLogged)

    // on PostgreSQL, other nodes hear of a device come free here (and this one of theirs) at once
    const notifications = Option.getOrUndefined(yield* Effect.serviceOption(Notifications.Notifications))
    const waiting = yield* Waiting.make({
      typeLabel,
      node: options.node ?? `${ownerId("allocator")}:${randomUUID().slice(0, 8)}`,
      ttlMs: config.waiterTtlSeconds * 1000,
      leaseAll,
      freeDevices: Effect.map(
        resources.list({ kind: Device, state: "free", leased: false, retired: false }),
        (free) => free.map((device) => ({ name: device.name, labels: device.labels }))
      ),
      maxFree: Effect.map(Ref.get(inventoryRef), (inventory) => inventory.devices.length),
      readDenial,
      releaseUnused,
      leftForOthers: notifications === undefined ? Effect.void : notifications.publish(Notifications.released(Device))
    })
    if (notifications !== undefined) {
      const released = yield* notifications.subscribe(Notifications.released(Device))
      yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Queue.take(released), waiting.wake)))
    }

    // allocations arriving together are one transaction: one look at other nodes' waiters, one query per kind of request, one insert
    const leaseBatch = yield* GroupCommit.batcher(
      (requests: ReadonlyArray<AllocateRequest>) =>
        Database.transaction(Effect.gen(function*() {
          const behind = yield* waiting.othersWaitFor(requests.map(criteriaOf))
          const asking = requests.filter((_, i) => !behind[i])
          const granted = yield* leaseAll(asking.map((request) => ({ request })))
          let next = 0
          return behind.map((isBehind): Either.Either<LeaseOutcome> => {
            if (isBehind) return Either.right({ _tag: "Behind" })
            const lease = granted[next++]!
            return Either.right(Option.isSome(lease) ? { _tag: "Granted", grant: lease.value } : { _tag: "NoneFree" })
          })
        })).pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.withTracerEnabled(false)),
      { maxGroupSize: 128, gather: "turn", closedMessage: "the allocator is shutting down" }
    )

    const wake = waiting.wake

    const allocate = (request: AllocateRequest): Effect.Effect<Grant, AllocationDenied | SqlError> =>
      Effect.gen(function*() {
        const criteria = criteriaOf(request)
        // the wait counts from here, not from when the first look at the database ended
        const started = yield* Clock.currentTimeMillis
        // a burst asking for what the inventory does not have is answered without the database
        if (request.waitMs > 0 && waiting.knownUnmatched(criteria, started)) {
          return yield* yield* waiting.denial(request, criteria)
        }
        // with nobody waiting here who could want the same devices, it goes straight to the
        // database, where it waits behind another node's waiter who could
        if (!waiting.competesWith(criteria)) {
          const outcome = yield* leaseBatch(request)
          if (outcome._tag === "Granted") return outcome.grant
          if (outcome._tag === "NoneFree" && request.waitMs <= 0) return yield* yield* readDenial(request)
        }
        // no device in the inventory fits: waiting would not help
        if (request.waitMs > 0) {
          const denied = yield* waiting.denial(request, criteria)
          if (denied.reason === "no_match") return yield* denied
        }
        return yield* waiting.wait(request, criteria, started)
      }).pipe(
        Effect.tapBoth({
          onFailure: (error) =>
            error._tag === "AllocationDenied"
              ? AllocatorMetrics.count(AllocatorMetrics.allocations, { result: "denied", reason: error.reason })
              : Effect.void,
          onSuccess: () => AllocatorMetrics.count(AllocatorMetrics.allocations, { result: "granted", reason: "" })
        })
      )

    // keepalives arriving together are one transaction with one read and one update
    const keepaliveBatch = yield* GroupCommit.batcher(
      (items: ReadonlyArray<{ readonly leaseId: string; readonly ttlMs: number | undefined; readonly holder: string | undefined }>) =>
        Effect.gen(function*() {
          // a lease's TTL never changes: read outside the write transaction, and remembered
          const unknown = items.filter((item) => item.ttlMs === undefined && !grantedTtls.has(item.leaseId)).map((item) => item.leaseId)
          const stored = yield* Sql.getLeaseTtls(sql, unknown)
          for (const [leaseId, ttlMs] of stored) rememberTtl(leaseId, ttlMs)
          return yield* resources.keepaliveMany(items.map((item) => ({
            leaseId: item.leaseId,
            holder: item.holder,
            ttlMs: item.ttlMs ?? grantedTtls.get(item.leaseId) ?? config.maxTtlSeconds * 1000
          })))
        }).pipe(Effect.withTracerEnabled(false)),
      { maxGroupSize: 256, gather: "turn", closedMessage: "the allocator is shutting down" }
    )

    const keepalive: AllocatorService["keepalive"] = (leaseId, options) =>
      keepaliveBatch({ leaseId, ttlMs: options.ttlMs, holder: options.holder }).pipe(
        Effect.tapBoth({
          onSuccess: () => AllocatorMetrics.count(AllocatorMetrics.keepalives, { result: "ok" }),
          onFailure: (error) =>
            AllocatorMetrics.count(AllocatorMetrics.keepalives, {
              result: error._tag === "LeaseGone" ? "gone" : error._tag === "LeaseHolderMismatch" ? "forbidden" : error._tag === "LeaseNotFound" ? "not_found" : "error"
            })
        })
      )

    // releases arriving together are one transaction too, with what follows each (cleaning)
    const releaseBatch = yield* GroupCommit.batcher(
      (items: ReadonlyArray<{ readonly leaseId: string; readonly holder: string | undefined; readonly reason: string }>) =>
        Database.transaction(Effect.gen(function*() {
          const outcomes = yield* resources.releaseMany(items)
          for (const outcome of outcomes) {
            if (Either.isRight(outcome)) {
              grantedTtls.delete(outcome.right.id)
              yield* afterLeaseEnded(outcome.right, { used: true })
            }
          }
          return outcomes
        })).pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.withTracerEnabled(false)),
      { maxGroupSize: 128, gather: "turn", closedMessage: "the allocator is shutting down" }
    )

    const release: AllocatorService["release"] = (leaseId, options) =>
      releaseBatch({ leaseId, holder: options.holder, reason: options.reason ?? "released" }).pipe(
        Effect.tap(() => Effect.zipRight(Metric.increment(AllocatorMetrics.releases), wake))
      )

    const reclaimExpired = commit(Effect.gen(function*() {
      const ended = yield* resources.reclaimExpired(Device)
      for (const lease of ended) yield* afterLeaseEnded(lease, { used: true })
      return ended
    })).pipe(
      Effect.tap((ended) =>
        ended.length === 0 ? Effect.void : Effect.gen(function*() {
          yield* Metric.incrementBy(AllocatorMetrics.expiries, ended.length)
          for (const lease of ended) {
            yield* Effect.logInfo(`lease ${lease.id} of ${lease.holder} on ${lease.resource.name} expired`).pipe(
              Effect.annotateLogs({ device: lease.resource.name, holder: lease.holder, lease: lease.id, token: lease.token })
            )
          }
          yield* wake
        })
      )
    )

    const drain = (name: string): Effect.Effect<Resource, ResourceNotFound | SqlError> =>
      Effect.gen(function*() {
        const device = yield* resources.get(Device, name)
        if (device.state === "drained") return device
        return yield* resources.setState(Device, name, "drained", { from: device.state, reason: "drained by an operator" }).pipe(
          // it changed under us: try again from its new state
          Effect.catchTag("ResourceStateConflict", () => drain(name)),
          Effect.catchTag("UnknownResourceState", Effect.die)
        )
      })

    const undrain = (name: string) =>
      commit(Effect.gen(function*() {
        const device = yield* resources.get(Device, name)
        if (device.state === "cleaning") {
          // its cleaning job was cancelled (or gave up): nothing would ever free it, so it is cleaned anew
          const pending = yield* queue.list({ plugin: CleanJob.plugin, kind: CleanJob.name, state: "queued", limit: 1000 }).pipe(Effect.orDie)
          const cleaning = pending.find((job) => (job.payload as { device?: string }).device === name)
          if (cleaning !== undefined) {
            return yield* new DeviceNotDrained({ name, state: device.state, message: `device ${JSON.stringify(name)} is being cleaned (job ${cleaning.id})` })
          }
          yield* queue.enqueue(CleanJob, { device: name }).pipe(Effect.orDie)
          return device
        }
        if (device.state !== "drained" && device.state !== "quarantined") {
          return yield* new DeviceNotDrained({ name, state: device.state, message: `device ${JSON.stringify(name)} is ${device.state}, not drained or quarantined` })
        }
        const type = yield* typeOf((device.data as DeviceData | undefined)?.type ?? "")
        // a device coming back is cleaned first when its type has a cleaning command
        const to = type?.cleaning !== undefined && device.lease === undefined ? "cleaning" : "free"
        const moved = yield* resources.setState(Device, name, to, { from: device.state, reason: "brought back by an operator" }).pipe(Effect.orDie)
        if (to === "cleaning") yield* queue.enqueue(CleanJob, { device: name }).pipe(Effect.orDie)
        return moved
      })).pipe(Effect.tap(() => wake))

    const devices = Effect.map(
      resources.list({ kind: Device }),
      (all) => all.filter((device) => device.retiredAt === undefined || device.lease !== undefined)
    )

    const useInventory = (inventory: Inventory) =>
      Effect.gen(function*() {
        const listed = new Set(inventory.devices.map((device) => device.name))
        for (const entry of inventory.devices) {
          yield* resources.upsert(Device, {
            name: entry.name,
            labels: { ...entry.labels, [typeLabel]: entry.type },
            data: { type: entry.type, connection: entry.connection } satisfies DeviceData,
            reason: "added to the inventory"
          }).pipe(Effect.catchTag("UnknownResourceState", Effect.die))
        }
        for (const device of yield* resources.list({ kind: Device, retired: false })) {
          if (!listed.has(device.name)) {
            yield* resources.retire(Device, device.name).pipe(Effect.catchTag("ResourceNotFound", () => Effect.void))
            yield* Effect.logInfo(`device ${device.name} left the inventory${device.lease ? `; its lease by ${device.lease.holder} runs its course` : ""}`)
          }
        }
        yield* Ref.set(inventoryRef, inventory)
        yield* wake
        yield* waiting.dropUnmatched
      })

    return {
      config,
      allocate,
      keepalive,
      release,
      reclaimExpired,
      drain,
      undrain,
      devices,
      inventory: Ref.get(inventoryRef),
      useInventory,
      typeOf,
      wake,
      serveWaiting: waiting.serve,
      waitingCount: waiting.size,
      waiters: waiting.list
    } satisfies AllocatorService
  })
