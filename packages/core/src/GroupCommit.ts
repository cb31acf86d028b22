/**
 * Group commit: changes that arrive while another commit is under way wait, then run in
 * order of arrival in one write transaction, so a transaction's fixed cost (about 120 µs
 * measured here: the client's begin and commit, the write lock, the pages every commit
 * writes) is paid once per group instead of once per change. Each change returns only
 * after the commit that holds it (a caller interrupted while waiting does not stop it).
 *
 * A change that fails cleanly (`isCleanFailure`: an error of the caller's domain, raised
 * before it wrote anything, or inside a savepoint that rolled back) leaves the others to
 * commit; any other failure (an SQL error, a defect) rolls the group back and its changes
 * run again one per transaction. A caller already inside a transaction runs its change
 * there, in a savepoint, so it stays atomic with the caller's own writes.
 *
 * Used by core's job queue and by plugins with hot write paths (the allocator's leases).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { type Cause, Chunk, Deferred, Effect, Exit, FiberId, Option, Queue, type Scope } from "effect"
import { transaction } from "./Database.js"

/** Runs `change` in the next group's transaction and returns once that has committed. */
export type GroupCommit = <A, E>(change: Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>

export interface Options {
  /** A failure after which the rest of the group may still commit. */
  readonly isCleanFailure: (cause: Cause.Cause<unknown>) => boolean
  /** Said to a caller that arrives after the scope closed. */
  readonly closedMessage: string
  /** At most this many changes share one transaction, to keep the write lock short (default 64). */
  readonly maxGroupSize?: number | undefined
  /**
   * How a group gathers its changes before it commits:
   * - "fibers" (default): it yields once to the fibers the last commit woke, so that their
   *   next changes join; a lone change waits for nothing. For in-process callers (workers).
   * - "turn": its first change waits for the rest of the event-loop turn (`nextTurn`), so
   *   that the changes of every request that arrived in that turn join. For HTTP handlers:
   *   without it, under load, each group held one request. A lone change pays one turn.
   */
  readonly gather?: "fibers" | "turn" | undefined
}

/**
 * Waits for the event loop's check phase (`setImmediate`), after the I/O callbacks and
 * microtasks of the current turn. A group that started when its first change arrived
 * would run right after that one caller (one HTTP request's callback, one fiber woken by
 * the last commit), before the changes that arrived with it, and hold one change.
 */
export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

interface PendingChange {
  readonly change: Effect.Effect<unknown, unknown>
  readonly done: Deferred.Deferred<unknown, unknown>
}

/** A group commit over `SqlClient`, running until the scope closes (changes accepted by then still commit). */
export const make = (options: Options): Effect.Effect<GroupCommit, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const maxGroupSize = options.maxGroupSize ?? 64
    const pending = yield* Queue.unbounded<PendingChange>()
    const inTransaction = <A, E>(effect: Effect.Effect<A, E>) =>
      // a span per statement costs more than the statements of a hot path, so they are not traced
      Effect.withTracerEnabled(Effect.provideService(transaction(effect), SqlClient.SqlClient, sql), false)

    const runAlone = ({ change, done }: PendingChange) =>
      Effect.flatMap(Effect.exit(inTransaction(change)), (exit) => Deferred.done(done, exit))

    const runGroup = (group: ReadonlyArray<PendingChange>) =>
      group.length === 1 ? runAlone(group[0]!) : inTransaction(
        Effect.flatMap(
          Effect.forEach(group, ({ change }) => Effect.exit(change)),
          (exits) =>
            exits.every((exit) => Exit.isSuccess(exit) || options.isCleanFailure(exit.cause))
              ? Effect.succeed(exits)
              : Effect.fail("rollback" as const)
        )
      ).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit)
            ? Effect.forEach(group, ({ done }, i) => Deferred.done(done, exit.value[i]!), { discard: true })
            : Effect.forEach(group, runAlone, { discard: true })
        )
      )

    // once taken, a group always runs
    const nextGroup: Effect.Effect<void> = options.gather === "turn"
      ? Effect.uninterruptibleMask((restore) =>
        restore(Queue.take(pending)).pipe(
          Effect.zipLeft(nextTurn),
          Effect.flatMap((first) =>
            Effect.map(Queue.takeUpTo(pending, maxGroupSize - 1), (rest) => [first, ...Chunk.toReadonlyArray(rest)])
          ),
          Effect.flatMap(runGroup)
        )
      )
      // the yield measured 4.4 changes a commit instead of 2.5 in the queue benchmark's per-job pipeline
      : Effect.zipRight(Effect.yieldNow(), Queue.takeBetween(pending, 1, maxGroupSize)).pipe(
        Effect.flatMap((group) => Effect.uninterruptible(runGroup(Chunk.toReadonlyArray(group))))
      )
    yield* Effect.forkScoped(Effect.forever(nextGroup))

    let closed = false
    // runs before the loop is interrupted: changes already accepted are still committed
    const drain: Effect.Effect<void> = Effect.flatMap(Queue.takeAll(pending), (group) =>
      Chunk.isEmpty(group) ? Effect.void : Effect.zipRight(runGroup(Chunk.toReadonlyArray(group)), drain))
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        return drain
      })
    )

    return <A, E>(change: Effect.Effect<A, E>): Effect.Effect<A, E | SqlError> =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
        if (Option.isSome(outer)) return inTransaction(change)
        const done = Deferred.unsafeMake<unknown, unknown>(FiberId.none)
        return Effect.suspend(() => {
          // checked and offered in one step, so no change slips in after the final drain
          if (closed) return Effect.dieMessage(options.closedMessage)
          pending.unsafeOffer({ change, done })
          return Deferred.await(done) as Effect.Effect<A, E | SqlError>
        })
      })
  })
