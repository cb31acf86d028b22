/**
 * Batching of one kind of request (keepalives): requests that arrive while a batch is
 * being committed wait, then go together to `run`, which handles them all in one
 * transaction with multi-row statements and answers each. Every caller returns only
 * after the commit that holds its request.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { nextTurn } from "@orch/core/GroupCommit"
import { Chunk, Deferred, Effect, Either, Exit, FiberId, Queue, type Scope } from "effect"

interface Pending<I, A, E> {
  readonly item: I
  readonly done: Deferred.Deferred<A, E | SqlError>
}

export const make = <I, A, E>(
  run: (items: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<Either.Either<A, E>>, SqlError>,
  options: { readonly maxBatch: number }
): Effect.Effect<(item: I) => Effect.Effect<A, E | SqlError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = yield* Queue.unbounded<Pending<I, A, E>>()
    const runBatch = (batch: ReadonlyArray<Pending<I, A, E>>) =>
      Effect.flatMap(Effect.exit(run(batch.map((p) => p.item))), (exit) =>
        Effect.forEach(batch, (p, i) =>
          Deferred.done(
            p.done,
            Exit.isFailure(exit) ? Exit.failCause(exit.cause) : Either.match(exit.value[i]!, { onLeft: Exit.fail, onRight: Exit.succeed })
          ), { discard: true }))
    // the first waits for the rest of its event-loop turn (see core's GroupCommit.nextTurn); taken, a group always runs
    yield* Effect.uninterruptibleMask((restore) =>
      restore(Queue.take(pending)).pipe(
        Effect.zipLeft(nextTurn),
        Effect.flatMap((first) => Effect.map(Queue.takeUpTo(pending, options.maxBatch - 1), (rest) => [first, ...Chunk.toReadonlyArray(rest)])),
        Effect.flatMap(runBatch)
      )
    ).pipe(
      Effect.forever,
      Effect.forkScoped
    )
    let closed = false
    const drain: Effect.Effect<void> = Effect.flatMap(Queue.takeAll(pending), (batch) =>
      Chunk.isEmpty(batch) ? Effect.void : Effect.zipRight(runBatch(Chunk.toReadonlyArray(batch)), drain))
    yield* Effect.addFinalizer(() => Effect.suspend(() => {
      closed = true
      return drain
    }))
    return (item: I) =>
      Effect.suspend(() => {
        if (closed) return Effect.dieMessage("the allocator is shutting down")
        const done = Deferred.unsafeMake<A, E | SqlError>(FiberId.none)
        pending.unsafeOffer({ item, done })
        return Deferred.await(done)
      })
  })
