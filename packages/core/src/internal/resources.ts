/**
 * The `Resources` service over `SqlClient`. Every change is one transaction; the single
 * operations are batches of one. A grant, keepalive, release or reclaim is a
 * compare-and-set in its statement, so one that lost its row to another writer meanwhile
 * reports that instead of trusting what the transaction read first.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Clock, Effect, Either, Option } from "effect"
import { randomUUID } from "node:crypto"
import * as Database from "../Database.js"
import * as Notifications from "../Notifications.js"
import { LeaseGone, LeaseHolderMismatch, LeaseNotFound, ResourceLeased, ResourceStateConflict } from "../ResourceErrors.js"
import type { ResourceKind } from "../ResourceKind.js"
import type { Lease, LeaseRequest, ListFilter, LeasesFilter, ResourceCount, ResourceEvent, ResourcesService, UpsertInput } from "../Resources.js"
import * as Fencing from "../sql/fencing.js"
import * as Sql from "../sql/resources.js"
import {
  checkLabels,
  checkState,
  checkTtl,
  describe,
  encodeLabels,
  keyOf,
  kindFilter,
  notFound,
  toLease,
  toResource
} from "./resourceCodec.js"

export const make = (kinds: ReadonlyArray<ResourceKind.Any>): Effect.Effect<ResourcesService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // where the context has them (the daemon's), ended leases and resources moved into a leasable
    // state wake the waiters of their kind on every node (the topic `Notifications.released(kind)`)
    const notifications = Option.getOrUndefined(yield* Effect.serviceOption(Notifications.Notifications))
    const announce = (leases: ReadonlyArray<{ readonly plugin: string; readonly kind: string }>) =>
      notifications === undefined || leases.length === 0
        ? Effect.void
        : Effect.forEach(
          new Set(leases.map((lease) => Notifications.released({ plugin: lease.plugin, name: lease.kind }))),
          notifications.publish,
          { discard: true }
        )
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

    /** The lease, if `holder` (when given) holds it and it is still live at `now`. */
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
      const refuseIfLeased = (row: Sql.ResourceRow) =>
        row.open_id === null ? Effect.void : Effect.fail(
          new ResourceLeased({
            ...key,
            leaseId: row.open_id,
            holder: row.open_holder!,
            message: `resource ${describe(key)} is leased to ${JSON.stringify(row.open_holder)} (lease ${row.open_id}): retire it, and remove it once the lease has ended`
          })
        )
      return transaction(Effect.gen(function*() {
        yield* refuseIfLeased(yield* mustGet(key))
        if (yield* Sql.deleteResource(sql, key)) return
        // another writer leased or removed it since it was read
        yield* refuseIfLeased(yield* mustGet(key))
        return yield* Effect.dieMessage(`resource ${describe(key)} is neither leased nor removable`)
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
        })).pipe(
          // into a leasable state (a device cleaned): it may be free for a waiter
          Effect.tap((resource) => kind.leasable.includes(to) && resource.lease === undefined ? announce([resource]) : Effect.void)
        )
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

    /**
     * Why a compare-and-set on `leaseId` matched nothing, from the lease as it is now: another
     * writer ended or reclaimed it between this transaction's read and its write.
     */
    const lostLease = (leaseId: string, now: number) =>
      Effect.flatMap(Sql.getLeases(sql, [leaseId]), ([row]) =>
        Effect.map(Effect.either(checkLive(leaseId, row, undefined, now)), (checked) =>
          Either.isLeft(checked) ? checked.left : new LeaseGone({
            leaseId,
            expiresAt: checked.right.expires_at,
            endedAt: undefined,
            endReason: undefined,
            message: `lease ${leaseId} changed while this change was being made`
          })))

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
          const granted: Array<string | undefined> = requests.map(() => undefined)
          for (const members of groups.values()) {
            const sample = requests[members[0]!]!
            let waiting = members
            while (waiting.length > 0) {
              const free = yield* Sql.findLeasableUpTo(sql, {
                plugin: kind.plugin,
                kind: kind.name,
                states: kind.leasable,
                name: sample.name,
                labels: sample.labels ?? {}
              }, waiting.length)
              if (free.length === 0) break
              // tokens of grants that lose their resource to another writer are skipped, never reused
              const tokens = yield* Fencing.nextTokens(sql, "resources", free.length)
              const offers = free.map((resource, j): Sql.NewLease => {
                const i = waiting[j]!
                return {
                  id: randomUUID(), // unique across processes, so from the OS rather than the seeded `Random`
                  plugin: resource.plugin,
                  kind: resource.kind,
                  resource: resource.name,
                  holder: requests[i]!.holder,
                  token: tokens[j]!,
                  grantedAt: now,
                  expiresAt: now + ttls[i]!
                }
              })
              const inserted = new Set(yield* Sql.grantLeases(sql, offers))
              const lost = waiting.slice(0, free.length).filter((_, j) => !inserted.has(offers[j]!.id))
              offers.forEach((offer, j) => {
                if (inserted.has(offer.id)) granted[waiting[j]!] = offer.id
              })
              // none lost: the requests left over found no free resource
              if (lost.length === 0) break
              // resources taken meanwhile by another writer: look further for the requests they would have served
              waiting = [...lost, ...waiting.slice(free.length)]
            }
          }
          const ids = granted.flatMap((id) => (id === undefined ? [] : [id]))
          const byId = new Map((yield* Sql.listLeases(sql, { ids, limit: ids.length })).map((row) => [row.lease_id, row]))
          return granted.map((id) => id === undefined ? Option.none<Lease<S>>() : Option.some(toLease<S>(byId.get(id)!)))
        }))
      })

    const lease = <S extends string>(kind: ResourceKind<S>, request: LeaseRequest) =>
      Effect.map(leaseMany(kind, [request]), ([granted]) => granted!)

    const keepaliveMany: ResourcesService["keepaliveMany"] = (items) =>
      Effect.forEach(items, (item) => checkTtl(item.ttlMs)).pipe(
        Effect.flatMap((ttls) =>
          transaction(Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const rows = new Map((yield* Sql.getLeases(sql, [...new Set(items.map((item) => item.leaseId))])).map((row) => [row.id, row]))
            const outcomes: Array<Either.Either<number, LeaseNotFound | LeaseGone | LeaseHolderMismatch>> = yield* Effect.forEach(
              items,
              (item, i) => Effect.either(Effect.as(checkLive(item.leaseId, rows.get(item.leaseId), item.holder, now), now + ttls[i]!))
            )
            // the last of several keepalives of one lease in a batch wins, as it would one at a time
            const latest = new Map<string, number>()
            items.forEach((item, i) => {
              const outcome = outcomes[i]!
              if (Either.isRight(outcome)) latest.set(item.leaseId, outcome.right)
            })
            const extended = new Set(yield* Sql.extendLeases(sql, [...latest].map(([id, expiresAt]) => ({ id, expiresAt })), now))
            for (const id of latest.keys()) {
              if (extended.has(id)) continue
              const lost = yield* lostLease(id, now)
              items.forEach((item, i) => {
                if (item.leaseId === id) outcomes[i] = Either.left(lost)
              })
            }
            return outcomes
          }))
        )
      )

    const keepalive = (leaseId: string, ttlMs: number, options?: { readonly holder?: string | undefined }) =>
      Effect.flatMap(keepaliveMany([{ leaseId, ttlMs, holder: options?.holder }]), ([outcome]) => outcome!)

    const releaseMany: ResourcesService["releaseMany"] = (items) =>
      Effect.tap(releaseBatch(items), (outcomes) => announce(outcomes.flatMap((outcome) => Either.isRight(outcome) ? [outcome.right] : [])))

    const releaseBatch = (items: Parameters<ResourcesService["releaseMany"]>[0]) =>
      transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = new Map((yield* Sql.getLeases(sql, [...new Set(items.map((item) => item.leaseId))])).map((row) => [row.id, row]))
        const checked = yield* Effect.forEach(items, (item) => Effect.either(checkLive(item.leaseId, rows.get(item.leaseId), item.holder, now)))
        // a lease named twice in one batch is released by the first and gone for the second
        const ending = new Map<string, { lease: Sql.LeaseRow; reason: string }>()
        const outcomes = checked.map((outcome, i): Either.Either<string, LeaseNotFound | LeaseGone | LeaseHolderMismatch> => {
          if (Either.isLeft(outcome)) return Either.left(outcome.left)
          const lease = outcome.right
          const earlier = ending.get(lease.id)
          if (earlier !== undefined) {
            return Either.left(
              new LeaseGone({
                leaseId: lease.id,
                expiresAt: lease.expires_at,
                endedAt: now,
                endReason: earlier.reason,
                message: `lease ${lease.id} ended (${earlier.reason})`
              })
            )
          }
          ending.set(lease.id, { lease, reason: items[i]!.reason })
          return Either.right(lease.id)
        })
        const ended = new Set(yield* Sql.endLeases(sql, [...ending.values()], { now, expiredOnly: false }))
        const lost = new Map<string, LeaseGone | LeaseNotFound | LeaseHolderMismatch>()
        for (const id of ending.keys()) {
          if (!ended.has(id)) lost.set(id, yield* lostLease(id, now))
        }
        const ids = [...ended]
        const byId = new Map((yield* Sql.listLeases(sql, { ids, limit: ids.length })).map((row) => [row.lease_id, row]))
        return outcomes.map((outcome) =>
          Either.flatMap(outcome, (id) => {
            const gone = lost.get(id)
            return gone !== undefined ? Either.left(gone) : Either.right(toLease(byId.get(id)!))
          })
        )
      }))

    const release = (leaseId: string, options: { readonly holder?: string | undefined; readonly reason: string }) =>
      Effect.flatMap(releaseMany([{ leaseId, holder: options.holder, reason: options.reason }]), ([outcome]) => outcome!)

    const reclaimExpired = <S extends string = string>(kind?: ResourceKind<S>) =>
      transaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expired = yield* Sql.expiredLeases(sql, { now, plugin: kind?.plugin, kind: kind?.name })
        // only leases still expired when ended: a keepalive that got in first keeps its lease
        const ended = yield* Sql.endLeases(sql, expired.map((lease) => ({ lease, reason: "expired" })), { now, expiredOnly: true })
        const rows = yield* Sql.listLeases(sql, { ids: ended, limit: ended.length })
        return rows.map((row) => toLease<S>(row)).sort((a, b) => a.token - b.token)
      })).pipe(Effect.tap(announce))

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

