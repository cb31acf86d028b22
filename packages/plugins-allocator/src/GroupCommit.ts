/**
 * Group commit for lease changes: changes that arrive while a commit is under way wait,
 * then run in order of arrival inside one write transaction (each in its own savepoint,
 * as core's `Resources` nests its transactions), so the fixed cost of a commit is paid
 * once per group. Every change still returns only after the commit that holds it. A
 * change that fails (a lease gone, say) rolled back its own savepoint, so the others
 * commit; an SQL error or a defect rolls the group back and its changes run again alone.
 * The pattern is the one core's `JobQueue` uses for jobs.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import { nextTurn } from "./NextTurn.js"
import { Cause, Chunk, Deferred, Effect, Exit, FiberId, Option, Queue, type Scope } from "effect"

interface Pending {
  readonly change: Effect.Effect<unknown, unknown>
  readonly done: Deferred.Deferred<unknown, unknown>
}

/** At most this many changes share a transaction, to keep the write lock short. */
const maxGroupSize = 64

const isCleanFailure = (cause: Cause.Cause<unknown>) =>
  Cause.isFailType(cause) && !(typeof cause.error === "object" && cause.error !== null &&
    (cause.error as { _tag?: string })._tag === "SqlError")

export type GroupCommit = <A, E>(change: Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError>

export const make: Effect.Effect<GroupCommit, never, SqlClient.SqlClient | Scope.Scope> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pending = yield* Queue.unbounded<Pending>()
  const inTransaction = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.withTracerEnabled(Effect.provideService(Database.transaction(effect), SqlClient.SqlClient, sql), false)

  const runAlone = ({ change, done }: Pending) => Effect.flatMap(Effect.exit(inTransaction(change)), (exit) => Deferred.done(done, exit))

  const runGroup = (group: ReadonlyArray<Pending>) =>
    group.length === 1 ? runAlone(group[0]!) : inTransaction(
      Effect.flatMap(
        Effect.forEach(group, ({ change }) => Effect.exit(change)),
        (exits) =>
          exits.every((exit) => Exit.isSuccess(exit) || isCleanFailure(exit.cause))
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

  // the first waits for the rest of its event-loop turn (see NextTurn); taken, a group always runs
  yield* Effect.uninterruptibleMask((restore) =>
    restore(Queue.take(pending)).pipe(
      Effect.zipLeft(nextTurn),
      Effect.flatMap((first) => Effect.map(Queue.takeUpTo(pending, maxGroupSize - 1), (rest) => [first, ...Chunk.toReadonlyArray(rest)])),
      Effect.flatMap(runGroup)
    )
  ).pipe(
    Effect.forever,
    Effect.forkScoped
  )
  let closed = false
  const drain: Effect.Effect<void> = Effect.flatMap(Queue.takeAll(pending), (group) =>
    Chunk.isEmpty(group) ? Effect.void : Effect.zipRight(runGroup(Chunk.toReadonlyArray(group)), drain))
  yield* Effect.addFinalizer(() => Effect.suspend(() => {
    closed = true
    return drain
  }))

  return <A, E>(change: Effect.Effect<A, E>): Effect.Effect<A, E | SqlError> =>
    Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
      if (Option.isSome(outer)) return inTransaction(change)
      const done = Deferred.unsafeMake<unknown, unknown>(FiberId.none)
      return Effect.suspend(() => {
        if (closed) return Effect.dieMessage("the allocator is shutting down")
        pending.unsafeOffer({ change, done })
        return Deferred.await(done) as Effect.Effect<A, E | SqlError>
      })
    })
})
