/**
 * Group commit: changes that arrive while another commit is under way wait, then run in
 * order of arrival in one write transaction, so a transaction's fixed cost (about 120 µs
 * measured here: the client's begin and commit, the write lock, the pages every commit
 * writes) is paid once per group instead of once per change. Each change returns only
 * after the commit that holds it (a caller interrupted while waiting does not stop it).
 *
 * Two faces over one queue:
 * - `make`: arbitrary changes (effects), run one after another in the group's transaction;
 * - `batcher`: items of one kind, handed together to one `run` (multi-row statements)
 *   that answers each, like the allocator's keepalives.
 *
 * A change that fails cleanly (`isCleanFailure`: an error of the caller's domain, raised
 * before it wrote anything, or inside a savepoint that rolled back; for a batcher, an item
 * `run` answered with `Left`) leaves the others to commit; any other failure (an SQL
 * error, a defect) rolls the group back and its changes run again one per transaction. A
 * caller already inside a transaction runs its change there, in a savepoint, so it stays
 * atomic with the caller's own writes (and does not wait for a commit it is holding up).
 *
 * Used by core's job queue and by plugins with hot write paths (the allocator's leases).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { type Cause, Chunk, Effect, Either, Exit, Option, Queue, type Scope } from "effect"
import { transaction } from "./Database.js"
import { dialectOf } from "./internal/dialect.js"

/** Runs `change` in the next group's transaction and returns once that has committed. */
export type GroupCommit = <A, E>(change: Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>

/** Hands `item` to the next group's `run` and returns its answer once that has committed. */
export type Batcher<I, A, E> = (item: I) => Effect.Effect<A, E | SqlError>

export interface GatherOptions {
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
  /**
   * How many groups may commit at once (default 1). SQLite has one writer, so a second
   * group would only wait for the lock; PostgreSQL commits side by side, and there a
   * group's round trips, not a lock, are what the next group would wait for.
   */
  readonly lanes?: number | undefined
}

export interface Options extends GatherOptions {
  /** A failure after which the rest of the group may still commit. */
  readonly isCleanFailure: (cause: Cause.Cause<unknown>) => boolean
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

interface Pending<I> {
  readonly item: I
  /** Answers the waiting caller (a no-op once it was interrupted); cheaper than a `Deferred` a change. */
  readonly resume: (exit: Exit.Exit<unknown, unknown>) => void
}

/**
 * The one queue behind both faces: gathers pending items into groups, runs each group
 * with `runGroup` (the exits of its items, in order, or a failure of the whole group),
 * and on a group's failure runs each item again with `runAlone`. Changes accepted before
 * the scope closes still run.
 */
const gatherer = <I>(
  runGroup: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>, unknown>,
  runAlone: (item: I) => Effect.Effect<unknown, unknown>,
  options: GatherOptions
): Effect.Effect<(item: I) => Effect.Effect<unknown, unknown>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const maxGroupSize = options.maxGroupSize ?? 64
    const pending = yield* Queue.unbounded<Pending<I>>()

    const alone = ({ item, resume }: Pending<I>) => Effect.map(Effect.exit(runAlone(item)), resume)

    const run = (group: ReadonlyArray<Pending<I>>): Effect.Effect<void> =>
      group.length === 1 ? alone(group[0]!) : Effect.exit(runGroup(group.map((p) => p.item))).pipe(
        Effect.flatMap((exit) =>
          Exit.isSuccess(exit)
            ? Effect.sync(() => group.forEach(({ resume }, i) => resume(exit.value[i]!)))
            // rolled back: each again on its own, so one bad change does not fail the others
            : Effect.forEach(group, alone, { discard: true })
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
          Effect.flatMap(run)
        )
      )
      // the yield measured 4.4 changes a commit instead of 2.5 in the queue benchmark's per-job pipeline
      : Effect.zipRight(Effect.yieldNow(), Queue.takeBetween(pending, 1, maxGroupSize)).pipe(
        Effect.flatMap((group) => Effect.uninterruptible(run(Chunk.toReadonlyArray(group))))
      )
    for (let lane = 0; lane < Math.max(1, options.lanes ?? 1); lane++) yield* Effect.forkScoped(Effect.forever(nextGroup))

    let closed = false
    // runs before the loop is interrupted: changes already accepted are still committed
    const drain: Effect.Effect<void> = Effect.flatMap(Queue.takeAll(pending), (group) =>
      Chunk.isEmpty(group) ? Effect.void : Effect.zipRight(run(Chunk.toReadonlyArray(group)), drain))
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        return drain
      })
    )

    return (item: I) =>
      Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
        // the group could not commit before the caller's own transaction ends: run it here, in a savepoint
        if (Option.isSome(outer)) return runAlone(item)
        return Effect.async<unknown, unknown>((resume) => {
          // checked and offered in one step, so no change slips in after the final drain
          if (closed) return resume(Effect.dieMessage(options.closedMessage))
          pending.unsafeOffer({ item, resume })
        })
      })
  })

/**
 * Groups that commit at once on PostgreSQL: a worker's claims and its completions go side
 * by side instead of taking turns (the queue benchmark's worker: 3,800 jobs/s with one lane).
 * Each change is a compare-and-set on its rows, so groups side by side are as safe as nodes.
 */
const postgresLanes = 4

/** A group commit over `SqlClient`, running until the scope closes (changes accepted by then still commit). */
export const make = (options: Options): Effect.Effect<GroupCommit, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lanes = options.lanes ?? (dialectOf(sql) === "pg" ? postgresLanes : 1)
    const inTransaction = <A, E>(effect: Effect.Effect<A, E>) =>
      // a span per statement costs more than the statements of a hot path, so they are not traced
      Effect.withTracerEnabled(Effect.provideService(transaction(effect), SqlClient.SqlClient, sql), false)
    const submit = yield* gatherer(
      (changes: ReadonlyArray<Effect.Effect<unknown, unknown>>) =>
        inTransaction(Effect.flatMap(
          Effect.forEach(changes, Effect.exit),
          (exits) =>
            exits.every((exit) => Exit.isSuccess(exit) || options.isCleanFailure(exit.cause))
              ? Effect.succeed(exits)
              : Effect.fail("rollback" as const)
        )),
      inTransaction,
      { ...options, lanes }
    )
    return submit as GroupCommit
  })

/**
 * A group commit for items of one kind: the items gathered together go to one `run`, which
 * commits them (its own transaction, multi-row statements) and answers each in order: `Left`
 * is that item's clean failure. When `run` fails as a whole (an SQL error, a defect), each
 * item is run again alone, so that one bad item does not fail the others.
 */
export const batcher = <I, A, E>(
  run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Either.Either<A, E>>, SqlError>,
  options: GatherOptions
): Effect.Effect<Batcher<I, A, E>, never, Scope.Scope> =>
  Effect.map(
    gatherer(
      (items: ReadonlyArray<I>) =>
        Effect.map(run(items), (answers) => answers.map(Either.match({ onLeft: Exit.fail, onRight: Exit.succeed }))),
      (item) => Effect.flatMap(run([item]), ([answer]) => answer!),
      options
    ),
    (submit) => submit as Batcher<I, A, E>
  )
