import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Effect, Either, Exit, Fiber, Option, Runtime, Scope } from "effect"
import * as GroupCommit from "../src/GroupCommit.js"
import { testDatabase } from "@orch/testing"

class Refused extends Data.TaggedError("Refused")<{}> {}

const isCleanFailure = (cause: Cause.Cause<unknown>) => Cause.isFailType(cause) && cause.error instanceof Refused

/** The real client, counting the transactions begun through it (not the savepoints inside one). */
const countingClient = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const counter = { transactions: 0 }
  const counting = new Proxy(sql, {
    get: (target, property, receiver) =>
      property === "withTransaction"
        ? <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (outer) => {
            if (Option.isNone(outer)) counter.transactions++
            return target.withTransaction(effect)
          })
        : Reflect.get(target, property, receiver)
  })
  yield* sql`CREATE TABLE IF NOT EXISTS gc_rows (name TEXT PRIMARY KEY)`
  // statements run on the caller's transaction connection when there is one, else on their own
  const insert = (name: string) => sql`INSERT INTO gc_rows (name) VALUES (${name})`
  return { sql, counting, counter, insert }
})

const names = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) => Effect.map(sql<{ name: string }>`SELECT name FROM gc_rows ORDER BY name`, (rows) => rows.map((row) => row.name))
)

/**
 * Starts each effect from its own `setImmediate` callback, all in one event-loop turn, as
 * the handlers of HTTP requests that arrived together start (microtasks run between them).
 */
const startInOneTurn = <A, E>(effects: ReadonlyArray<Effect.Effect<A, E>>) =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.async<Array<Fiber.RuntimeFiber<A, E>>>((resume) => {
      const fibers: Array<Fiber.RuntimeFiber<A, E>> = []
      effects.forEach((effect, i) =>
        setImmediate(() => {
          fibers.push(Runtime.runFork(runtime)(effect))
          if (i === effects.length - 1) resume(Effect.succeed(fibers))
        })
      )
    }))

const exitsOf = <A, E>(fibers: ReadonlyArray<Fiber.RuntimeFiber<A, E>>) => Effect.forEach(fibers, Fiber.await)

/** Fails (rather than hangs until the test's timeout) when a change is never answered; for `it.scopedLive` tests. */
const answered = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "10 seconds", onTimeout: () => new Error("a change was never answered") })

// One lane throughout: these tests are about how changes gather into groups; PostgreSQL's
// default of several lanes (groups committing side by side) is the queue's, tested there.
describe("GroupCommit.make", () => {
  it.scoped("changes offered in one event-loop turn share one transaction (gather: turn)", () =>
    Effect.gen(function*() {
      const { counter, counting, insert } = yield* countingClient
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed", gather: "turn" }),
        SqlClient.SqlClient,
        counting
      )
      const fibers = yield* startInOneTurn(["a", "b", "c", "d", "e"].map((name) => commit(Effect.as(insert(name), name))))
      const exits = yield* exitsOf(fibers)
      expect(exits.map((exit) => Exit.isSuccess(exit) && exit.value)).toEqual(["a", "b", "c", "d", "e"])
      expect(counter.transactions).toBe(1)
      expect(yield* names).toEqual(["a", "b", "c", "d", "e"])
    }).pipe(Effect.provide(testDatabase())))

  it.scoped("a group holds at most maxGroupSize changes, in order of arrival", () =>
    Effect.gen(function*() {
      const { counter, counting, insert } = yield* countingClient
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed", gather: "turn", maxGroupSize: 2 }),
        SqlClient.SqlClient,
        counting
      )
      const order: Array<string> = []
      const fibers = yield* startInOneTurn(["a", "b", "c", "d", "e"].map((name) =>
        commit(Effect.zipRight(Effect.sync(() => order.push(name)), insert(name)))
      ))
      yield* exitsOf(fibers)
      expect(order).toEqual(["a", "b", "c", "d", "e"])
      expect(counter.transactions).toBe(3)
    }).pipe(Effect.provide(testDatabase())))

  it.scoped("workers' next changes join the next group (gather: fibers)", () =>
    Effect.gen(function*() {
      const { counter, counting, insert } = yield* countingClient
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed" }),
        SqlClient.SqlClient,
        counting
      )
      const workers = 8
      const rounds = 10
      yield* Effect.forEach(
        Array.from({ length: workers }, (_, w) => w),
        (w) => Effect.forEach(Array.from({ length: rounds }, (_, r) => r), (r) =>
          // a step that yields on each side of the commit, as a handler's work does
          Effect.zipRight(commit(Effect.zipRight(insert(`${w}-${r}`), Effect.yieldNow())), Effect.yieldNow()), { discard: true }),
        { concurrency: "unbounded", discard: true }
      )
      expect((yield* names).length).toBe(workers * rounds)
      // each round of the workers is one group (the first change of all goes alone); without the
      // loop's yield, the changes queued during a commit went without the workers it had just woken: 2 a round
      expect(counter.transactions).toBeLessThanOrEqual(rounds + 2)
    }).pipe(Effect.provide(testDatabase())))

  it.scoped("a clean failure leaves the rest of the group to commit", () =>
    Effect.gen(function*() {
      const { counter, counting, insert } = yield* countingClient
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed", gather: "turn" }),
        SqlClient.SqlClient,
        counting
      )
      const fibers = yield* startInOneTurn([
        commit(insert("a")),
        commit(Effect.fail(new Refused())),
        commit(insert("c"))
      ])
      const exits = yield* exitsOf(fibers)
      expect(exits.map(Exit.isSuccess)).toEqual([true, false, true])
      expect(Exit.isFailure(exits[1]!) && Cause.failureOption(exits[1]!.cause)).toEqual(Option.some(new Refused()))
      expect(counter.transactions).toBe(1)
      expect(yield* names).toEqual(["a", "c"])
    }).pipe(Effect.provide(testDatabase())))

  const rollsBack = (label: string, failing: Effect.Effect<unknown, unknown, SqlClient.SqlClient>, check: (exit: Exit.Exit<unknown, unknown>) => void) =>
    it.scoped(`${label} rolls the group back; the others still commit, one by one`, () =>
      Effect.gen(function*() {
        const { counter, counting, sql, insert } = yield* countingClient
        const commit = yield* Effect.provideService(
          GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed", gather: "turn" }),
          SqlClient.SqlClient,
          counting
        )
        const fibers = yield* startInOneTurn([
          commit(insert("a")),
          commit(Effect.zipRight(insert("b"), Effect.provideService(failing, SqlClient.SqlClient, sql))),
          commit(insert("c"))
        ])
        const exits = yield* exitsOf(fibers)
        expect(exits.map(Exit.isSuccess)).toEqual([true, false, true])
        check(exits[1]!)
        // the group, then each change alone
        expect(counter.transactions).toBe(4)
        // "b" was written before its change failed, and rolled back
        expect(yield* names).toEqual(["a", "c"])
      }).pipe(Effect.provide(testDatabase())))

  rollsBack(
    "an SQL error in one change",
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO no_such_table (x) VALUES (1)`),
    (exit) => expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause).pipe(Option.map((e: any) => e._tag))).toEqual(Option.some("SqlError"))
  )
  rollsBack(
    "a defect in one change",
    Effect.dieMessage("boom"),
    (exit) => expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
  )

  it.scopedLive("a caller inside a transaction runs its change there, in a savepoint", () =>
    Effect.gen(function*() {
      const { counter, counting, sql, insert } = yield* countingClient
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "closed", gather: "turn" }),
        SqlClient.SqlClient,
        counting
      )
      // a failing change rolls back to its savepoint; the caller's writes around it stay
      // (queued instead, it would wait for the connection its caller holds: a deadlock)
      yield* answered(sql.withTransaction(Effect.gen(function*() {
        yield* insert("outer-1")
        const refused = yield* Effect.either(commit(Effect.zipRight(insert("inner-refused"), Effect.fail(new Refused()))))
        expect(Either.isLeft(refused)).toBe(true)
        yield* commit(insert("inner-ok"))
        yield* insert("outer-2")
      })))
      expect(yield* names).toEqual(["inner-ok", "outer-1", "outer-2"])
      // and the change is atomic with the caller's transaction: it rolls back with it
      const failed = yield* answered(sql.withTransaction(Effect.zipRight(commit(insert("inner-lost")), Effect.fail(new Refused()))).pipe(Effect.either))
      expect(Either.isLeft(failed)).toBe(true)
      expect(yield* names).toEqual(["inner-ok", "outer-1", "outer-2"])
      expect(counter.transactions).toBe(0)
    }).pipe(Effect.provide(testDatabase())))

  it.scopedLive("changes accepted before the scope closes still commit, and their callers get results", () =>
    Effect.gen(function*() {
      const { counting, insert } = yield* countingClient
      const scope = yield* Scope.make()
      const commit = yield* Effect.provideService(
        GroupCommit.make({ lanes: 1, isCleanFailure, closedMessage: "the test's queue is closed", gather: "turn" }),
        SqlClient.SqlClient,
        counting
      ).pipe(Scope.extend(scope))
      // all are queued (the first group waits for the next turn) when the scope closes
      const fibers = yield* startInOneTurn(["a", "b", "c"].map((name) => commit(Effect.as(insert(name), name))))
      yield* answered(Scope.close(scope, Exit.void))
      expect(yield* answered(names)).toEqual(["a", "b", "c"])
      const exits = yield* answered(exitsOf(fibers))
      expect(exits.map((exit) => Exit.isSuccess(exit) && exit.value)).toEqual(["a", "b", "c"])
      // a change after the close is refused, not left waiting
      const late = yield* Effect.exit(commit(insert("late")))
      expect(Exit.isFailure(late) && Cause.pretty(late.cause)).toContain("the test's queue is closed")
    }).pipe(Effect.provide(testDatabase())))
})

describe("GroupCommit.batcher", () => {
  it.scoped("items offered together go to one run, which answers each; a failing run is retried item by item", () =>
    Effect.gen(function*() {
      const { sql, insert } = yield* countingClient
      const runs: Array<ReadonlyArray<string>> = []
      const keep = yield* GroupCommit.batcher(
        (items: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            runs.push(items)
            // a bad item makes the whole multi-row run fail
            if (items.includes("bad")) return yield* sql`INSERT INTO no_such_table (x) VALUES (1)`.pipe(Effect.as([]))
            yield* sql.withTransaction(Effect.forEach(items.filter((item) => item !== "refused"), insert))
            return items.map((item) => item === "refused" ? Either.left("refused" as const) : Either.right(item.toUpperCase()))
          }).pipe(Effect.provideService(SqlClient.SqlClient, sql)),
        { closedMessage: "closed", gather: "turn" }
      )
      const together = yield* exitsOf(yield* startInOneTurn(["a", "refused", "b"].map(keep)))
      expect(together.map((exit) => Exit.isSuccess(exit) ? exit.value : Cause.failureOption(exit.cause).pipe(Option.getOrNull))).toEqual([
        "A",
        "refused",
        "B"
      ])
      expect(runs).toEqual([["a", "refused", "b"]])
      runs.length = 0
      const withBad = yield* exitsOf(yield* startInOneTurn(["c", "bad", "d"].map(keep)))
      expect(withBad.map(Exit.isSuccess)).toEqual([true, false, true])
      expect(runs).toEqual([["c", "bad", "d"], ["c"], ["bad"], ["d"]])
      expect(yield* names).toEqual(["a", "b", "c", "d"])
    }).pipe(Effect.provide(testDatabase())))
})
