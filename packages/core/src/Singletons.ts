/**
 * Singletons: work that must run on one node of a cluster at a time (a plugin loop declared
 * `singleton: true`, say the watchdog's instance controller), elected with a lease row in
 * `orch_singletons` (SQL in `sql/singletons.ts`).
 *
 * Each node runs an election per singleton: it takes the lease when it is free (a
 * compare-and-set, with a new fencing token from the "singletons" domain at each take),
 * renews it every ttl/3, and runs the work only while it holds it. A holder that has not
 * renewed for 2·ttl/3 stops its work (interrupts it) while the row still has ttl/3 to run,
 * so another node can take over only once the old holder has stopped (see `elect`).
 *
 * Writes that must not land after a handover go in a `Database.transaction` that begins
 * with `assertHeld(lease)`: it fails with `SingletonLost` (and the transaction rolls back)
 * unless the lease's token is still current, and keeps it current until the commit.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, Data, Deferred, Duration, Effect, Either, Option, type Scope, Stream, SubscriptionRef } from "effect"
import * as Database from "./Database.js"
import * as Fencing from "./sql/fencing.js"
import * as Sql from "./sql/singletons.js"

/** The lease a singleton's work runs under: who holds which singleton, with which token. */
export interface SingletonLeaseService {
  readonly name: string
  readonly holder: string
  /** The fencing token of this grant: larger than that of every grant before it. */
  readonly token: number
}

/** Provided to a singleton's work while its node holds the lease. */
export class SingletonLease extends Context.Tag("@orch/core/SingletonLease")<SingletonLease, SingletonLeaseService>() {}

/** The lease is no longer this holder's (taken over, or given up): its fenced writes roll back. */
export class SingletonLost extends Data.TaggedError("SingletonLost")<{
  readonly name: string
  readonly token: number
  readonly message: string
}> {}

/**
 * The first statement of a fenced write, inside `Database.transaction`: fails with
 * `SingletonLost` unless `lease` is still the current grant, and (PostgreSQL: a row lock
 * held to the commit; SQLite: the transaction's write lock) keeps another node from taking
 * the lease over before the transaction ends.
 */
export const assertHeld = (lease: SingletonLeaseService): Effect.Effect<void, SingletonLost | SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.flatMap(Sql.lockHeldSingleton(sql, lease), (held) =>
      held ? Effect.void : Effect.fail(
        new SingletonLost({
          name: lease.name,
          token: lease.token,
          message: `singleton ${lease.name}: ${lease.holder} no longer holds the lease of token ${lease.token}`
        })
      )))

/** `effect` in one transaction fenced by the current `SingletonLease` (see `assertHeld`). */
export const fenced = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | SingletonLost | SqlError, R | SingletonLease | SqlClient.SqlClient> =>
  Effect.flatMap(SingletonLease, (lease) => Database.transaction(Effect.zipRight(assertHeld(lease), effect)))

/** What a node knows of a singleton: whether it leads, and who held the lease when it last looked. */
export interface SingletonStatus {
  readonly name: string
  /** This node holds the lease and runs the work. */
  readonly leader: boolean
  /** The holder the row names (this node, another, or the last one when it was given up). */
  readonly holder: string | undefined
  readonly token: number | undefined
  /** When the row's lease runs out (epoch ms, the holder's clock); 0 once given up. */
  readonly expiresAt: number | undefined
}

/** All singleton leases as the database has them, for status listings. */
export const list: Effect.Effect<ReadonlyArray<Sql.SingletonRow>, SqlError, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  Sql.listSingletons
)

export interface ElectOptions {
  /** The singleton's name, e.g. `<plugin>:<loop>`. */
  readonly name: string
  /** This node's owner id. */
  readonly holder: string
  /** How long a lease lasts without renewal; default 15 s. */
  readonly ttl?: Duration.DurationInput | undefined
  /** Told each time what the node knows changes. */
  readonly onStatus?: ((status: SingletonStatus) => Effect.Effect<void>) | undefined
}

export const defaultTtl: Duration.Duration = Duration.seconds(15)

/** One holding of the lease, from a take until it is lost or given up. */
interface Term {
  readonly lease: SingletonLeaseService
  /** Local epoch ms after which the work must have stopped unless a renewal moved it on. */
  validUntil: number
  /** Completed when the term ends early: taken over, not renewed in time, given up. */
  readonly ended: Deferred.Deferred<void>
}

export interface Election {
  readonly name: string
  /**
   * Waits until this node holds the lease (or `unlessFirst` completes: `None` at once),
   * then runs `effect` with the lease, interrupting it when the term ends (`None`).
   */
  readonly whileHeld: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: { readonly unlessFirst?: Effect.Effect<void> | undefined }
  ) => Effect.Effect<Option.Option<A>, E, Exclude<R, SingletonLease>>
  readonly status: Effect.Effect<SingletonStatus>
}

/**
 * Runs the election for one singleton in the current scope: takes the lease when free,
 * renews it every ttl/3, gives it up when the scope closes.
 *
 * Why no two nodes run the work at once: a take or renewal reads the clock (`now`) before
 * it writes `expires_at = now + ttl`, and the holder's work is interrupted at
 * `now + 2·ttl/3` unless a later renewal succeeded, while another node takes the lease only
 * at its own `now' ≥ expires_at`. So the terms cannot overlap as long as the clocks of two
 * nodes differ by less than ttl/3 less the time the work takes to stop when interrupted.
 * Fenced writes (`assertHeld`) hold even past that bound.
 */
export const elect = (options: ElectOptions): Effect.Effect<Election, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { holder, name } = options
    const ttlMs = Duration.toMillis(Duration.decode(options.ttl ?? defaultTtl))
    const renewEvery = Duration.millis(ttlMs / 3)
    const giveUpAfterMs = (ttlMs * 2) / 3
    const current = yield* SubscriptionRef.make<Option.Option<Term>>(Option.none())
    let status: SingletonStatus = { name, leader: false, holder: undefined, token: undefined, expiresAt: undefined }
    const report = (next: SingletonStatus) =>
      Effect.suspend(() => {
        const changed = next.leader !== status.leader || next.holder !== status.holder || next.token !== status.token ||
          next.expiresAt !== status.expiresAt
        status = next
        return changed && options.onStatus !== undefined ? options.onStatus(next) : Effect.void
      })

    /** Ends `term` once (whoever notices first: the election, the work's deadline, the scope's end). */
    const endTerm = (term: Term, why: string) =>
      Effect.gen(function*() {
        if (!(yield* Deferred.succeed(term.ended, undefined))) return
        yield* SubscriptionRef.update(current, (held) => Option.isSome(held) && held.value === term ? Option.none() : held)
        yield* Effect.logInfo(`singleton ${name}: no longer held by ${holder} (${why}); its work stops`)
        yield* report({ ...status, leader: false })
      })

    /** Takes the lease if it is free: a token is spent only when it looks free. */
    const take = Database.transaction(Effect.gen(function*() {
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const row = yield* Sql.getSingleton(sql, name)
      if (row !== undefined && row.expires_at > now) return Either.left(row)
      const token = yield* Fencing.nextToken(sql, "singletons")
      const expiresAt = now + ttlMs
      const taken = yield* Sql.takeSingleton(sql, { name, holder, token, expiresAt, now })
      return taken ? Either.right({ token, now, expiresAt }) : Either.left(yield* Sql.getSingleton(sql, name))
    })).pipe(Effect.provideService(SqlClient.SqlClient, sql))

    const renew = (term: Term) =>
      Effect.gen(function*() {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const expiresAt = now + ttlMs
        const renewed = yield* Sql.renewSingleton(sql, { ...term.lease, expiresAt })
        return renewed ? Option.some({ now, expiresAt }) : Option.none()
      })

    const giveUp = (term: Term) =>
      Sql.giveUpSingleton(sql, term.lease).pipe(
        Effect.timeout("2 seconds"),
        Effect.catchAllCause((cause) => Effect.logWarning(`singleton ${name}: could not give the lease up`, cause))
      )

    /** One round of the election; returns how long to wait before the next. */
    const round: Effect.Effect<Duration.Duration, unknown> = Effect.gen(function*() {
      const term = Option.getOrUndefined(yield* SubscriptionRef.get(current))
      if (term === undefined) {
        const taken = yield* take
        if (Either.isLeft(taken)) {
          const row = taken.left
          yield* report({ name, leader: false, holder: row?.holder, token: row?.token, expiresAt: row?.expires_at })
          return renewEvery
        }
        const { expiresAt, now, token } = taken.right
        const fresh: Term = { lease: { name, holder, token }, validUntil: now + giveUpAfterMs, ended: yield* Deferred.make<void>() }
        yield* SubscriptionRef.set(current, Option.some(fresh))
        yield* Effect.logInfo(`singleton ${name}: taken by ${holder} (token ${token})`)
        yield* report({ name, leader: true, holder, token, expiresAt })
        return renewEvery
      }
      // a renewal still running when the term must end counts as failed
      const renewed = yield* renew(term).pipe(
        Effect.timeoutFail({ duration: renewEvery, onTimeout: () => new Error("renewal timed out") }),
        Effect.either
      )
      if (Either.isRight(renewed) && Option.isSome(renewed.right)) {
        const { expiresAt, now } = renewed.right.value
        // renewed too late: the work has stopped (or is stopping) on its deadline; free the row for the next take
        if (now >= term.validUntil || (yield* Deferred.isDone(term.ended))) {
          yield* endTerm(term, "renewed too late")
          yield* giveUp(term)
          return Duration.zero
        }
        term.validUntil = now + giveUpAfterMs
        yield* report({ name, leader: true, holder, token: term.lease.token, expiresAt })
        return renewEvery
      }
      if (Either.isRight(renewed)) {
        yield* endTerm(term, "taken over")
        return Duration.zero
      }
      yield* Effect.logWarning(`singleton ${name}: renewal failed`, renewed.left)
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      if (now >= term.validUntil) {
        yield* endTerm(term, `not renewed within ${Math.round(giveUpAfterMs)} ms`)
        return renewEvery
      }
      // again soon, to renew before the term runs out
      return Duration.millis(Math.min(ttlMs / 12, term.validUntil - now))
    })

    const electing = Effect.forever(
      Effect.flatMap(
        round.pipe(Effect.catchAllCause((cause) =>
          Effect.as(Effect.logWarning(`singleton ${name}: election round failed`, cause), renewEvery)
        )),
        Effect.sleep
      )
    )
    // given up when the node stops, so another takes over at once instead of after the ttl;
    // registered first so that it runs after the election fiber is interrupted, which cannot renew after it
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const term = Option.getOrUndefined(yield* SubscriptionRef.get(current))
        if (term === undefined) return
        yield* endTerm(term, "stopping")
        yield* giveUp(term)
      })
    )

    yield* Effect.forkScoped(electing)
    /** Completes when `term` must end: ended early, or past its time without a renewal. */
    const termOver = (term: Term): Effect.Effect<void> => {
      const deadline: Effect.Effect<void> = Effect.flatMap(
        Effect.clockWith((clock) => clock.currentTimeMillis),
        (now) => now >= term.validUntil ? Effect.void : Effect.zipRight(Effect.sleep(Duration.millis(term.validUntil - now)), deadline)
      )
      return Effect.raceFirst(Deferred.await(term.ended), deadline)
    }

    const nextTerm: Effect.Effect<Term> = current.changes.pipe(
      Stream.filterMap((held) => held),
      Stream.runHead,
      Effect.flatMap(Option.match({ onNone: () => Effect.never, onSome: Effect.succeed }))
    )

    const whileHeld: Election["whileHeld"] = <A, E, R>(
      effect: Effect.Effect<A, E, R>,
      runOptions?: { readonly unlessFirst?: Effect.Effect<void> | undefined }
    ) =>
      Effect.gen(function*() {
        const term = yield* (runOptions?.unlessFirst === undefined
          ? Effect.map(nextTerm, Option.some)
          : Effect.raceFirst(Effect.map(nextTerm, Option.some), Effect.as(runOptions.unlessFirst, Option.none<Term>())))
        if (Option.isNone(term)) return Option.none<A>()
        const result = yield* Effect.raceFirst(
          Effect.map(Effect.provideService(effect, SingletonLease, term.value.lease), Option.some),
          Effect.as(termOver(term.value), Option.none<A>())
        )
        // stopped on its deadline: the term is over for the election too, so the next wait finds the next term
        if (Option.isNone(result)) yield* endTerm(term.value, "not renewed in time")
        return result
      }) as Effect.Effect<Option.Option<A>, E, Exclude<R, SingletonLease>>

    return { name, whileHeld, status: Effect.sync(() => status) }
  })
