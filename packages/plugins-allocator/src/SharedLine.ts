/**
 * The line of waiting allocations that every node sharing the database serves in one
 * order (issue 16): a row per waiter in `allocator_waiters`, placed by a counter of the
 * database's (`orch_fencing`), beside the node's own line in memory (`Waiting.ts`), which
 * keeps the deadlines and the local wake-ups.
 *
 * A node's waiters join and leave the shared line in batches: one fiber writes whatever
 * joined and left since its last transaction in one transaction (a group commit), so a
 * waiter's caller never waits for it. Until its row is written, a waiter counts as the
 * last of the line (its place, once written, is after every place given out before).
 *
 * A node's pass (see `pass`) moves the node's expiry on; a node that stops passing (it
 * died, or hangs) is skipped once `ttlMs` has passed, and its rows are pruned. Should a
 * node find itself pruned while alive, it puts its waiters back, at the end of the line.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import { nextTurn } from "@orch/core/GroupCommit"
import { Chunk, Clock, Effect, Queue, Schedule, type Scope } from "effect"
import * as Sql from "./sql.js"
import { compatible } from "./WaitingLine.js"

/** What the shared line needs of a node's waiter. */
export interface SharedWaiter {
  /** The node's own id for it. */
  readonly id: string
  /** Its place in the one order, once its row is written; undefined before (and after it was pruned). */
  order: number | undefined
  readonly holder: string
  readonly criteria: Readonly<Record<string, string>>
  /** Epoch ms when other nodes stop counting it (its deadline, or when it started for one that does not wait). */
  readonly until: number
  /** Served, left or ran out: it is not written (again). */
  gone: boolean
}

/** Another node's waiter, as a pass sees it. */
export interface OtherWaiter {
  readonly order: number
  readonly node: string
  readonly holder: string
  readonly criteria: Readonly<Record<string, string>>
}

export interface SharedLine<W extends SharedWaiter> {
  readonly node: string
  /** Queues `waiter` to be written into the shared line (in order of calls). */
  readonly add: (waiter: W) => void
  /** Queues taking `waiter` out of the shared line (once gone). */
  readonly remove: (waiter: W) => void
  /**
   * One pass's transaction, under the pass lock (`Sql.lockPasses`): moves this node's
   * expiry on, prunes dead nodes, reads the live waiters of the other nodes (at most the
   * first `perCriteria` of each set of criteria), runs `decide` with them (its grants are
   * then in this transaction too), and takes the waiters it served out of the shared line
   * before committing, so that no node counts them after. Decide's effects must be safe to
   * run again (PostgreSQL may abort a transaction to break a deadlock; it runs again).
   */
  readonly pass: <A, E, R>(
    perCriteria: number,
    decide: (others: ReadonlyArray<OtherWaiter>) => Effect.Effect<{ readonly result: A; readonly served: ReadonlyArray<W> }, E, R>
  ) => Effect.Effect<A, E | SqlError, R>
  /**
   * For each of `criteria`: whether a live waiter of another node waits for devices they
   * fit too (and so comes first). Inside the transaction of the allocations it checks.
   */
  readonly othersWaitFor: (criteria: ReadonlyArray<Readonly<Record<string, string>>>) => Effect.Effect<ReadonlyArray<boolean>, SqlError>
}

/** Criteria as one text, whatever the order of their labels: equal criteria, equal rows. */
export const criteriaText = (criteria: Readonly<Record<string, string>>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(criteria).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))

/** A waiter joins or leaves; "rejoin": a pass found the node pruned, write its waiters anew. */
type Change<W> = { readonly add: W } | { readonly remove: W } | "rejoin"

export const make = <W extends SharedWaiter>(options: {
  readonly node: string
  readonly ttlMs: number
  /** Every waiter of the node not gone, in its order of arrival (to put them back after a prune). */
  readonly everyone: () => ReadonlyArray<W>
  /** At most this many joins and leaves are written in one transaction. */
  readonly maxBatch?: number | undefined
}): Effect.Effect<SharedLine<W>, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const node = options.node
    const maxBatch = options.maxBatch ?? 512
    const inTransaction = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, Exclude<R, SqlClient.SqlClient>> =>
      Effect.withTracerEnabled(Effect.provideService(Database.transaction(effect), SqlClient.SqlClient, sql), false)

    /** Moves this node's expiry on; false when its row was pruned (or never written). */
    const touch = (now: number) => Sql.keepNodeLive(sql, node, now + options.ttlMs)

    const changes = yield* Queue.unbounded<Change<W>>()
    const write = (batch: ReadonlyArray<Change<W>>) =>
      inTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        // the node's first batch, or it was pruned: every waiter it has is written (anew), in order
        const rejoin = !(yield* touch(now))
        if (rejoin) {
          yield* Sql.deleteNode(sql, node)
          yield* Sql.insertNode(sql, node, now + options.ttlMs)
        }
        const adds = rejoin
          ? options.everyone().filter((waiter) => !waiter.gone)
          : batch.flatMap((change) => typeof change === "object" && "add" in change && !change.add.gone && change.add.order === undefined ? [change.add] : [])
        const removes = batch.flatMap((change) => typeof change === "object" && "remove" in change ? [change.remove.id] : [])
        const orders = yield* Sql.insertWaiters(sql, node, adds.map((waiter) => ({
          waiter: waiter.id,
          holder: waiter.holder,
          criteria: criteriaText(waiter.criteria),
          deadline: Number.isFinite(waiter.until) ? waiter.until : null
        })))
        yield* Sql.deleteWaiters(sql, node, removes)
        return { adds, orders }
      })).pipe(Effect.map(({ adds, orders }) => adds.forEach((waiter, i) => (waiter.order = orders[i]))))

    // one writer: joins and leaves are written in the order they happened, each batch after the last
    const writer = Effect.gen(function*() {
      const first = yield* Queue.take(changes)
      // the changes of every request of this event-loop turn join the batch
      yield* nextTurn
      const batch = [first, ...Chunk.toReadonlyArray(yield* Queue.takeUpTo(changes, maxBatch - 1))]
      // the database is away: the same batch again (its waiters gone meanwhile are skipped)
      yield* write(batch).pipe(
        Effect.tapError((error) => Effect.logWarning(`writing the shared line of waiters failed; trying again in a second: ${error.message}`)),
        Effect.retry(Schedule.spaced("1 second"))
      )
    })

    // a node that stops takes its waiters out (after the writer's last batch: finalizers run in reverse)
    yield* Effect.addFinalizer(() =>
      inTransaction(Sql.deleteNode(sql, node)).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("taking this node's waiters out of the shared line failed; they drop out after their TTL", cause))
      )
    )
    yield* Effect.forkScoped(Effect.forever(writer))

    const pass: SharedLine<W>["pass"] = (perCriteria, decide) =>
      inTransaction(Effect.gen(function*() {
        yield* Sql.lockPasses(sql)
        const now = yield* Clock.currentTimeMillis
        // pruned (or not written yet): the writer puts the node's waiters back; meanwhile they come last
        if (!(yield* touch(now)) && options.everyone().some((waiter) => waiter.order !== undefined)) {
          for (const waiter of options.everyone()) waiter.order = undefined
          changes.unsafeOffer("rejoin")
        }
        yield* Sql.pruneDeadNodes(sql, now)
        // the waiters are read before the free devices, so a device leased in between is seen leased
        const rows = yield* Sql.otherWaiters(sql, node, now, perCriteria)
        const others = rows.map((row): OtherWaiter => ({
          order: row.seq,
          node: row.node,
          holder: row.holder,
          criteria: JSON.parse(row.criteria) as Record<string, string>
        }))
        const { result, served } = yield* decide(others)
        yield* Sql.deleteWaiters(sql, node, served.flatMap((waiter) => waiter.order === undefined ? [] : [waiter.id]))
        return result
      }))

    const othersWaitFor: SharedLine<W>["othersWaitFor"] = (criteria) =>
      criteria.length === 0 ? Effect.succeed([]) : Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const waiting = (yield* Sql.otherCriteria(sql, node, now)).map((text) => JSON.parse(text) as Record<string, string>)
        return criteria.map((wanted) => waiting.some((theirs) => compatible(theirs, wanted)))
      })

    return {
      node,
      add: (waiter) => changes.unsafeOffer({ add: waiter }),
      remove: (waiter) => changes.unsafeOffer({ remove: waiter }),
      pass,
      othersWaitFor
    } satisfies SharedLine<W>
  })
