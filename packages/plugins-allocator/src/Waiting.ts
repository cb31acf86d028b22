/**
 * Waiting allocations: the `WaitingLine` in memory, one fiber that ends waits at their
 * deadlines, and passes that hand free devices to waiters when devices may have come free.
 * Every waiter also joins the line the nodes sharing the database serve in one order
 * (`SharedLine.ts`), in batches; the line in memory keeps the deadlines and the wake-ups.
 *
 * A pass is one transaction with a constant number of statements, whatever the number of
 * waiters: it reads the other nodes' live waiters (the first few of each set of criteria)
 * and the free devices, lets the lines say which waiter gets which (the oldest that fits,
 * of any node), and leases those of this node's waiters by device name. A device that
 * goes to another node's waiter is left to that node's pass (it polls every
 * `waiterPollSeconds`, or is woken). Each grant is still the database's compare-and-set,
 * so a device another process took meanwhile is simply not granted, and its waiter stays
 * first in line. Passes do not overlap; wakes during one ask for one more.
 *
 * A wait that runs out is answered with the allocator's denial for its criteria, read
 * once for all the waiters of those criteria that run out together (and kept up to a
 * second, until devices change), not once per waiter.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Deferred, Effect, Either, Exit, FiberId, Metric, Option, Queue, Scope } from "effect"
import type { AllocateRequest, AllocationDenied, Grant } from "./Allocator.js"
import * as AllocatorMetrics from "./Metrics.js"
import * as SharedLine from "./SharedLine.js"
import { type Entry, fits, type FreeDevice, keyOf, WaitingLine } from "./WaitingLine.js"

interface Waiter extends Entry, SharedLine.SharedWaiter {
  readonly request: AllocateRequest
  readonly done: Deferred.Deferred<Grant, AllocationDenied | SqlError>
  /** Answered, or its caller left: a lease granted to it now is released again. */
  gone: boolean
}

/** A waiter of this node or another in a pass's merged line: by its place in the one order, then its arrival here. */
interface Place extends Entry {
  readonly order: number
  readonly arrival: number
  readonly waiter: Waiter | undefined
}

/** A denial read for some criteria: shared by the callers that ask while it is read, kept a short while. */
interface KeptDenial {
  readonly generation: number
  readonly at: number
  readonly denial: Deferred.Deferred<AllocationDenied, SqlError>
  /** Once read. */
  read?: AllocationDenied
}

export interface Waiting {
  /** Whether a waiter could want a device these criteria fit, and so must be served first. */
  readonly competesWith: (criteria: Readonly<Record<string, string>>) => boolean
  /**
   * Queues `request` and returns its grant, or its denial once `waitMs` from `started` ran
   * out (with `waitMs` 0: after one pass, so it gets a device no earlier waiter fits, or none).
   */
  readonly wait: (
    request: AllocateRequest,
    criteria: Readonly<Record<string, string>>,
    started: number
  ) => Effect.Effect<Grant, AllocationDenied | SqlError>
  /** Devices may have come free or changed: a pass, and denials read afresh. */
  readonly wake: Effect.Effect<void>
  /** `wake`, returning once the pass it asked for has ended. */
  readonly serve: Effect.Effect<void>
  /** For each of `criteria`: whether another node's live waiter waits for a device they fit too (inside the caller's transaction). */
  readonly othersWaitFor: SharedLine.SharedLine<SharedLine.SharedWaiter>["othersWaitFor"]
  /** The denial for `request`'s criteria (kept a short while, see above). */
  readonly denial: (request: AllocateRequest, criteria: Readonly<Record<string, string>>) => Effect.Effect<AllocationDenied, SqlError>
  /** Whether a denial read a moment ago (see above) said no device in the inventory fits these criteria. */
  readonly knownUnmatched: (criteria: Readonly<Record<string, string>>, now: number) => boolean
  /** Answers at once the waiters whose criteria no device in the inventory fits any more. */
  readonly dropUnmatched: Effect.Effect<void, SqlError>
  readonly size: Effect.Effect<number>
  /** Who waits, first come first: holder, criteria, when each gives up (Infinity: never). */
  readonly list: Effect.Effect<ReadonlyArray<WaiterView>>
}

export interface WaiterView {
  readonly holder: string
  readonly criteria: Readonly<Record<string, string>>
  readonly deadline: number
}

export const make = (options: {
  readonly typeLabel: string
  /** This node in the shared line, and how long after its last pass other nodes still count its waiters. */
  readonly node: string
  readonly ttlMs: number
  /** Leases the devices named to the requests, in the caller's transaction (the pass's). */
  readonly leaseAll: (asks: ReadonlyArray<{ readonly request: AllocateRequest; readonly device: string }>) => Effect.Effect<ReadonlyArray<Option.Option<Grant>>, SqlError>
  readonly freeDevices: Effect.Effect<ReadonlyArray<FreeDevice>, SqlError>
  /** At least the number of free devices a pass can find (the inventory's): how many waiters of a line a pass reads. */
  readonly maxFree: Effect.Effect<number>
  /** Why nothing fits `request` now (one query). */
  readonly readDenial: (request: AllocateRequest) => Effect.Effect<AllocationDenied, SqlError>
  /** Gives back a lease granted to a waiter that left meanwhile. */
  readonly releaseUnused: (grant: Grant) => Effect.Effect<void>
  /** After a pass that left free devices to other nodes' waiters: tells their nodes to look now. */
  readonly leftForOthers?: Effect.Effect<void> | undefined
}): Effect.Effect<Waiting, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const line = new WaitingLine<Waiter>(options.typeLabel)
    const gauge = Effect.suspend(() => Metric.set(AllocatorMetrics.waiting, line.size))
    const shared = yield* SharedLine.make<Waiter>({
      node: options.node,
      ttlMs: options.ttlMs,
      everyone: () => line.entries().filter((waiter) => !waiter.gone)
    })
    let nextId = 0
    /** Out of both lines (served, gone or expired). */
    const takeOut = (waiter: Waiter) => {
      line.remove(waiter)
      shared.remove(waiter)
    }

    // denials by criteria, read again after a wake or a second
    let generation = 0
    const denials = new Map<string, KeptDenial>()
    const denial = (request: AllocateRequest, criteria: Readonly<Record<string, string>>) =>
      Effect.gen(function*() {
        const key = keyOf(criteria)
        const now = yield* Clock.currentTimeMillis
        const kept = denials.get(key)
        if (kept !== undefined && kept.generation === generation && now - kept.at < 1_000) return yield* Deferred.await(kept.denial)
        const reading = Deferred.unsafeMake<AllocationDenied, SqlError>(FiberId.none)
        const entry: KeptDenial = { generation, at: now, denial: reading }
        denials.set(key, entry)
        const read = yield* Effect.either(options.readDenial(request))
        if (Either.isRight(read)) entry.read = read.right
        // concurrent callers wait on the one read; an error is not kept
        if (Either.isLeft(read) && denials.get(key)?.denial === reading) denials.delete(key)
        Deferred.unsafeDone(reading, Either.isRight(read) ? Exit.succeed(read.right) : Exit.fail(read.left))
        return yield* Deferred.await(reading)
      })

    const knownUnmatched = (criteria: Readonly<Record<string, string>>, now: number) => {
      const kept = denials.get(keyOf(criteria))
      if (kept === undefined || kept.generation !== generation || now - kept.at >= 1_000) return false
      return kept.read?.reason === "no_match"
    }

    /** Answers waiters that are no longer in the line with the denial of their criteria. */
    const deny = (waiters: ReadonlyArray<Waiter>) =>
      Effect.gen(function*() {
        const byCriteria = new Map<string, Array<Waiter>>()
        for (const waiter of waiters) {
          waiter.gone = true
          const key = keyOf(waiter.criteria)
          const group = byCriteria.get(key)
          if (group === undefined) byCriteria.set(key, [waiter])
          else group.push(waiter)
        }
        for (const group of byCriteria.values()) {
          const read = yield* Effect.either(denial(group[0]!.request, group[0]!.criteria))
          for (const waiter of group) Deferred.unsafeDone(waiter.done, Exit.fail(Either.isRight(read) ? read.right : read.left))
        }
        yield* gauge
      })

    // one fiber ends every wait: it sleeps until the earliest deadline, or until an earlier one arrives
    const earlier = yield* Queue.sliding<void>(1)
    let sleepingUntil: number | undefined
    const expire = Effect.gen(function*() {
      const next = line.nextDeadline()
      const now = yield* Clock.currentTimeMillis
      if (next === undefined || next > now) {
        sleepingUntil = next
        yield* next === undefined ? Queue.take(earlier) : Effect.raceFirst(Effect.sleep(next - now), Queue.take(earlier))
        sleepingUntil = undefined
        return
      }
      const expired = line.takeExpired(now)
      for (const waiter of expired) shared.remove(waiter)
      yield* deny(expired)
      const answered = yield* Clock.currentTimeMillis
      for (const waiter of expired) yield* Metric.update(AllocatorMetrics.waitOverrun, (answered - waiter.deadline) / 1000)
    })
    yield* Effect.forkIn(Effect.forever(Effect.catchAllCause(expire, (cause) => Effect.logError("ending waits failed", cause))), scope)

    /** Hands `grant` to `waiter` unless it is gone; the check and the hand-over are one step. */
    const handOver = (waiter: Waiter, grant: Grant) =>
      Effect.suspend(() => {
        if (waiter.gone) return Effect.zipRight(options.releaseUnused(grant), wake)
        waiter.gone = true
        takeOut(waiter)
        Deferred.unsafeDone(waiter.done, Exit.succeed(grant))
        return gauge
      })

    // A pass looks when devices may have come free (a wake), not at each new waiter: with
    // nothing free, 2,000 waiters arriving would read the devices 2,000 times. No free device
    // fits a line that has waiters (a pass would have given it to its first), so only a
    // waiter that opens a line of its own asks for a pass, or one that a device the last
    // pass left over (fitting nobody then) fits.
    let leftover: ReadonlyArray<FreeDevice> = []
    // while a pass makes its leases: the devices it leaves, and whether a waiter came that one fits
    let leaving: ReadonlyArray<FreeDevice> | undefined
    let missed = false
    const fitsAny = (criteria: Readonly<Record<string, string>>, devices: ReadonlyArray<FreeDevice>) =>
      devices.some((device) => fits(criteria, device.labels))
    /**
     * Who gets which of `devices` when other nodes' waiters wait too: one line of them all,
     * by their places in the one order; this node's waiters not yet written come after, in
     * their order here (they will be placed after every place given out so far). Only the
     * first waiters of each of this node's lines can be served by that many devices.
     */
    const assignAcross = (others: ReadonlyArray<SharedLine.OtherWaiter>, devices: ReadonlyArray<FreeDevice>) => {
      const places: Array<Place> = [
        ...others.map((other): Place => ({ seq: 0, criteria: other.criteria, deadline: Infinity, order: other.order, arrival: 0, waiter: undefined })),
        ...line.heads(devices.length).map((waiter): Place => ({
          seq: 0,
          criteria: waiter.criteria,
          deadline: Infinity,
          order: waiter.order ?? Infinity,
          arrival: waiter.seq,
          waiter
        }))
      ].sort((a, b) => a.order !== b.order ? a.order - b.order : a.arrival - b.arrival)
      const merged = new WaitingLine<Place>(options.typeLabel)
      for (const place of places) merged.add(place)
      return merged.assign(devices).map(([place, device]) => [place.waiter, device] as const)
    }

    // whether the pass under way gave devices to other nodes' waiters
    let leftToOthers = false
    const pass = Effect.gen(function*() {
      leftover = []
      leftToOthers = false
      if (line.size === 0) return
      const perCriteria = yield* options.maxFree
      const granted = yield* shared.pass(perCriteria, (others) =>
        Effect.gen(function*() {
          leaving = undefined
          const free = yield* options.freeDevices
          if (free.length === 0) return { result: [], served: [] }
          const assigned = others.length === 0 ? line.assign(free) : assignAcross(others, free)
          const given = new Set(assigned.map(([, device]) => device.name))
          leaving = free.filter((device) => !given.has(device.name))
          missed = false
          // another node's waiter comes first for some: its node's pass leases them
          const mine = assigned.flatMap(([waiter, device]) => waiter === undefined ? [] : [[waiter, device] as const])
          leftToOthers = mine.length < assigned.length
          const leases = yield* options.leaseAll(mine.map(([waiter, device]) => ({ request: waiter.request, device: device.name })))
          // not granted: another process took the device; the waiter keeps its place
          const handed = mine.flatMap(([waiter], i) => {
            const lease = leases[i]!
            return Option.isSome(lease) ? [[waiter, lease.value] as const] : []
          })
          return { result: handed, served: handed.map(([waiter]) => waiter) }
        })
      ).pipe(Effect.ensuring(Effect.sync(() => {
        leftover = leaving ?? []
        leaving = undefined
        // a waiter came meanwhile that a device left over fits: one more pass for it
        if (missed) following ??= Deferred.unsafeMake(FiberId.none)
      })))
      yield* Effect.forEach(granted, ([waiter, grant]) => handOver(waiter, grant), { discard: true })
      if (leftToOthers) yield* options.leftForOthers ?? Effect.void
    })

    // the pass under way, and the one asked for while it runs (completed when they end)
    let current: Deferred.Deferred<void, SqlError> | undefined
    let following: Deferred.Deferred<void, SqlError> | undefined
    const runPasses: Effect.Effect<void> = Effect.suspend(() =>
      Effect.flatMap(Effect.exit(pass), (exit) => {
        Deferred.unsafeDone(current!, exit)
        current = following
        following = undefined
        return current === undefined ? Effect.void : runPasses
      })
    )
    /** A pass that starts after this call; its completion. */
    const askPass = Effect.suspend(() => {
      if (current === undefined) {
        current = Deferred.unsafeMake(FiberId.none)
        return Effect.as(Effect.forkIn(runPasses, scope), current)
      }
      following ??= Deferred.unsafeMake(FiberId.none)
      return Effect.succeed(following)
    })

    const wake = Effect.suspend(() => {
      generation++
      return line.size === 0 ? Effect.void : Effect.asVoid(askPass)
    })

    const leave = (waiter: Waiter) =>
      Effect.suspend(() => {
        waiter.gone = true
        takeOut(waiter)
        return Effect.zipRight(
          gauge,
          // granted while its caller went away: give the device back
          Effect.flatMap(Deferred.poll(waiter.done), (polled) =>
            Option.isNone(polled) ? Effect.void : Effect.flatMap(Effect.exit(polled.value), (exit) =>
              Exit.isSuccess(exit) ? Effect.zipRight(options.releaseUnused(exit.value), wake) : Effect.void))
        )
      })

    const wait: Waiting["wait"] = (request, criteria, started) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const waiter: Waiter = {
            seq: 0,
            id: String(nextId++),
            order: undefined,
            holder: request.holder,
            criteria,
            deadline: request.waitMs > 0 ? started + request.waitMs : Infinity,
            // one that does not wait is written too (for the order of those behind it here), but no other node counts it
            until: started + Math.max(0, request.waitMs),
            request,
            done: Deferred.unsafeMake(FiberId.none),
            gone: false
          }
          const opened = line.add(waiter)
          shared.add(waiter)
          if (leaving !== undefined && fitsAny(criteria, leaving)) missed = true
          if (Number.isFinite(waiter.deadline) && (sleepingUntil === undefined || waiter.deadline < sleepingUntil)) {
            yield* Queue.offer(earlier, undefined)
          }
          yield* gauge
          const served = opened || fitsAny(criteria, leftover) ? yield* askPass : undefined
          if (request.waitMs > 0) {
            const answered = yield* Effect.exit(restore(Deferred.await(waiter.done)))
            if (Exit.isInterrupted(answered)) yield* leave(waiter)
            return yield* answered
          }
          // not waiting: served by that pass or not at all
          const passed = yield* Effect.exit(restore(served === undefined ? Effect.void : Deferred.await(served)))
          if (Exit.isFailure(passed) && Exit.isInterrupted(passed)) {
            yield* leave(waiter)
            return yield* Effect.failCause(passed.cause)
          }
          const granted = yield* Deferred.poll(waiter.done)
          if (Option.isSome(granted)) return yield* granted.value
          waiter.gone = true
          takeOut(waiter)
          yield* gauge
          if (Exit.isFailure(passed)) return yield* Effect.failCause(passed.cause)
          return yield* Effect.flatMap(options.readDenial(request), Effect.fail)
        })
      )

    const dropUnmatched = Effect.gen(function*() {
      for (const criteria of line.criteria()) {
        const waiters = line.waitersOf(criteria)
        if (waiters.length === 0 || (yield* denial(waiters[0]!.request, criteria)).reason !== "no_match") continue
        for (const waiter of waiters) takeOut(waiter)
        yield* deny(waiters)
      }
    })

    return {
      competesWith: (criteria) => line.competesWith(criteria),
      wait,
      wake,
      serve: Effect.suspend(() => {
        generation++
        return line.size === 0 ? Effect.void : Effect.flatMap(askPass, Deferred.await)
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("a pass over the waiting allocations failed", cause))),
      othersWaitFor: shared.othersWaitFor,
      denial,
      knownUnmatched,
      dropUnmatched,
      size: Effect.sync(() => line.size),
      list: Effect.sync(() =>
        line.entries().filter((w) => !w.gone).map((w) => ({ holder: w.request.holder, criteria: w.criteria, deadline: w.deadline }))
      )
    } satisfies Waiting
  })
