/**
 * The durable job queue in the shared database.
 *
 * The `JobQueue` service enqueues, leases and moves jobs of the `JobKind`s it is given.
 * Every change runs whole inside one transaction (changes arriving together share one
 * commit), a holder's change is a compare-and-set on (id, state, lease token), so two
 * workers never both own a job, and every change of state writes a history row in the
 * same transaction. `enqueueMany` and `transitionMany` do the same for a batch with
 * multi-row statements, in one transaction, reporting per job. Jobs are never deleted: a
 * job that keeps failing rests in its kind's dead state.
 *
 * All the SQL is in `sql/jobs.ts`; rows become jobs in `internal/jobCodec.ts`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import { Cause, Clock, Context, Effect, Either, Layer, Option, type Queue, Random, type Scope } from "effect"
import * as GroupCommit from "./GroupCommit.js"
import { IllegalTransition, JobNotFound, JobSchemaError, LeaseLost, UnknownJobKind } from "./JobErrors.js"
import { JobKind } from "./JobKind.js"
import {
  codecOf,
  decodeRow,
  describeError,
  fromHistoryRow,
  fromRow,
  fromRowUntyped,
  keyOf,
  lostLease,
  notLeased,
  schemaError,
  unknownKind
} from "./internal/jobCodec.js"
import { chunksOf, first, maxRowsPerStatement, rows } from "./internal/statements.js"
import * as Notifications from "./Notifications.js"
import * as Sql from "./sql/jobs.js"

/**
 * A job as stored. Typed calls return `payload` and `result` decoded by the kind's
 * schemas; untyped ones (`get`, `list`) return them as parsed JSON.
 */
export interface Job<P = unknown, R = unknown, S extends string = string> {
  readonly id: number
  readonly plugin: string
  readonly kind: string
  readonly state: S
  readonly payload: P
  readonly result: R | undefined
  readonly lastError: string | undefined
  /** Higher runs first. */
  readonly priority: number
  /** Epoch ms before which nobody claims the job. */
  readonly runAt: number
  readonly attempts: number
  readonly maxAttempts: number
  readonly idempotencyKey: string | undefined
  readonly leaseOwner: string | undefined
  /** The fencing token of the current lease: the holder proves itself with it. */
  readonly token: number | undefined
  readonly leaseExpiresAt: number | undefined
  readonly createdAt: number
  readonly updatedAt: number
}

export interface JobHistoryEntry {
  readonly id: number
  readonly jobId: number
  readonly at: number
  /** Undefined for the entry that enqueued the job. */
  readonly from: string | undefined
  readonly to: string
  readonly reason: string
  /** The lease under which the change was made, if any. */
  readonly owner: string | undefined
  readonly token: number | undefined
}

export interface JobCount {
  readonly plugin: string
  readonly kind: string
  readonly state: string
  readonly count: number
}

export interface EnqueueOptions {
  /** A second enqueue with the same key for the same kind returns the first job. */
  readonly idempotencyKey?: string | undefined
  /** Higher runs first; default 0. */
  readonly priority?: number | undefined
  /** Epoch ms; default now. */
  readonly runAt?: number | undefined
  /** Default: the kind's `retry.maxAttempts`. */
  readonly maxAttempts?: number | undefined
}

/** One job of an `enqueueMany` batch. */
export interface EnqueueItem<P> {
  readonly payload: P
  readonly options?: EnqueueOptions | undefined
}

export interface Enqueued<P = unknown, R = unknown, S extends string = string> {
  readonly job: Job<P, R, S>
  /** False when the idempotency key names a job enqueued before: `job` is that job. */
  readonly created: boolean
}

export interface ClaimOptions<S extends string> {
  /** Who holds the leases (shown in history and `orch jobs`), e.g. "host:pid:worker". */
  readonly owner: string
  readonly leaseMs: number
  /** Default: the kind's claimable states. */
  readonly states?: ReadonlyArray<S> | undefined
  /** Default 1. */
  readonly limit?: number | undefined
}

export interface TransitionOptions<R> {
  readonly reason: string
  readonly result?: R | undefined
  readonly error?: string | undefined
  /** Epoch ms before which the job is not claimed again. */
  readonly runAt?: number | undefined
  /** Keep holding the job in its new state (ignored for a final state). */
  readonly keepLease?: boolean | undefined
}

/** One job of a `transitionMany` batch, with what to store on it. */
export interface TransitionItem<P, R, S extends string> {
  readonly job: Job<P, R, S>
  readonly result?: NoInfer<R> | undefined
  readonly error?: string | undefined
}

/** What the jobs of a `transitionMany` batch share. */
export interface TransitionManyOptions {
  readonly reason: string
  /** Epoch ms before which the jobs are not claimed again. */
  readonly runAt?: number | undefined
  /** Keep holding the jobs in their new state (ignored for a final state). */
  readonly keepLease?: boolean | undefined
}

export interface ListOptions {
  readonly plugin?: string | undefined
  readonly kind?: string | undefined
  readonly state?: string | undefined
  /** Default 100. */
  readonly limit?: number | undefined
  /** Only jobs with a smaller id: pass the last id of the previous page. */
  readonly beforeId?: number | undefined
}

export interface JobQueueService {
  /** The kinds this queue can run state machines for. */
  readonly kinds: ReadonlyArray<JobKind.Any>
  readonly enqueue: <P, R, S extends string>(
    kind: JobKind<P, R, S>,
    payload: NoInfer<P>,
    options?: EnqueueOptions
  ) => Effect.Effect<Enqueued<P, R, S>, JobSchemaError | UnknownJobKind | SqlError>
  /**
   * Enqueues a batch in one transaction with multi-row inserts; one result per item, in
   * order. Idempotency keys hold per item, also between items of the batch (the first
   * wins). A payload that does not encode fails the whole batch before anything is written.
   */
  readonly enqueueMany: <P, R, S extends string>(
    kind: JobKind<P, R, S>,
    items: ReadonlyArray<EnqueueItem<NoInfer<P>>>
  ) => Effect.Effect<ReadonlyArray<Enqueued<P, R, S>>, JobSchemaError | UnknownJobKind | SqlError>
  /**
   * Leases up to `limit` due jobs whose lease is free or expired, highest priority first,
   * then oldest run_at, then id; each grant gets a new fencing token. The state does not
   * change. A job whose stored payload no longer decodes goes to the dead state instead.
   */
  readonly claim: <P, R, S extends string>(
    kind: JobKind<P, R, S>,
    options: ClaimOptions<NoInfer<S>>
  ) => Effect.Effect<ReadonlyArray<Job<P, R, S>>, UnknownJobKind | SqlError>
  /** Extends the lease to now + `leaseMs`; returns the new expiry. */
  readonly heartbeat: (job: Pick<Job, "id" | "token">, leaseMs: number) => Effect.Effect<number, LeaseLost | SqlError>
  /** Moves a held job along its kind's state machine. Clears the lease unless `keepLease`. */
  readonly transition: <P, R, S extends string>(
    job: Job<P, R, S>,
    to: NoInfer<S>,
    options: TransitionOptions<NoInfer<R>>
  ) => Effect.Effect<Job<P, R, S>, IllegalTransition | LeaseLost | UnknownJobKind | JobSchemaError | SqlError>
  /**
   * Moves a batch of held jobs to `to` in one transaction: one compare-and-set statement
   * and one history insert for them all. Each outcome, in order, is the job moved or the
   * `LeaseLost` that says why it was not; the others move all the same. A move the state
   * machine forbids, or a result that does not encode, fails the whole batch before
   * anything is written.
   */
  readonly transitionMany: <P, R, S extends string>(
    items: ReadonlyArray<TransitionItem<P, R, S>>,
    to: NoInfer<S>,
    options: TransitionManyOptions
  ) => Effect.Effect<
    ReadonlyArray<Either.Either<Job<P, R, S>, LeaseLost>>,
    IllegalTransition | UnknownJobKind | JobSchemaError | SqlError
  >
  /**
   * Gives the lease back without changing state, e.g. "poll again in 30 s". A `reason`,
   * when given, is recorded in the history; an `error` becomes the job's last error, so a
   * job waiting on a failing peer says why.
   */
  readonly release: (
    job: Pick<Job, "id" | "state" | "token" | "leaseOwner">,
    options?: {
      readonly runAt?: number | undefined
      readonly reason?: string | undefined
      readonly error?: string | undefined
    }
  ) => Effect.Effect<void, LeaseLost | SqlError>
  /**
   * Counts a failed attempt. While attempts remain (and `retryable`, default true) the job
   * keeps its state and runs again after an exponential backoff with jitter; otherwise it
   * goes to its dead state.
   */
  readonly fail: <P, R, S extends string>(
    job: Job<P, R, S>,
    error: unknown,
    options?: { readonly retryable?: boolean | undefined }
  ) => Effect.Effect<Job<P, R, S>, LeaseLost | UnknownJobKind | JobSchemaError | SqlError>
  /** Moves a job that is not final to its cancelled state, whoever holds it. */
  readonly cancel: (
    id: number,
    reason: string
  ) => Effect.Effect<Job, JobNotFound | UnknownJobKind | IllegalTransition | SqlError>
  /** Brings a job in one of its kind's `retryFrom` states back to `initial`, attempts reset. */
  readonly retry: (
    id: number,
    reason: string
  ) => Effect.Effect<Job, JobNotFound | UnknownJobKind | IllegalTransition | SqlError>
  /**
   * Clears every expired lease of a known kind, counting it as a failed attempt (dead
   * when out of attempts); returns how many.
   */
  readonly reclaimExpired: () => Effect.Effect<number, SqlError>
  readonly get: (id: number) => Effect.Effect<Job, JobNotFound | SqlError>
  /** Newest first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Job>, SqlError>
  readonly history: (id: number) => Effect.Effect<ReadonlyArray<JobHistoryEntry>, SqlError>
  readonly countByState: () => Effect.Effect<ReadonlyArray<JobCount>, SqlError>
  /**
   * A signal per committed `enqueue` (of a new job) or `retry` of `kind`, for a worker to
   * claim at once instead of at its next poll: in this process, and from every node when
   * the context has PostgreSQL's `Notifications` (the daemon's does). Sliding with room for
   * one: signals that arrive while one is waiting collapse into it.
   */
  readonly wakeups: (kind: JobKind.Any) => Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
}

export class JobQueue extends Context.Tag("@orch/core/JobQueue")<JobQueue, JobQueueService>() {
  /** The queue over the current `SqlClient`, knowing the state machines of `kinds`. */
  static readonly layer = (kinds: ReadonlyArray<JobKind.Any>): Layer.Layer<JobQueue, never, SqlClient.SqlClient> =>
    Layer.scoped(JobQueue, make(kinds))
}

/** The queue's own failures, which every change reports before it writes anything. */
const isCleanFailure = (cause: Cause.Cause<unknown>): boolean => {
  const failure = Cause.failureOption(cause)
  return Option.isSome(failure) && Cause.isFailType(cause) && (
    failure.value instanceof LeaseLost || failure.value instanceof IllegalTransition ||
    failure.value instanceof JobNotFound || failure.value instanceof UnknownJobKind ||
    failure.value instanceof JobSchemaError
  )
}

/** A job to insert, encoded and checked. */
interface PreparedJob {
  readonly payload: string
  readonly priority: number
  /** Undefined: the time of the transaction. */
  readonly runAt: number | undefined
  readonly maxAttempts: number
  readonly idempotencyKey: string | null
}

/** A new job's key, or without one the columns its caller chose: jobs alike in these are interchangeable. */
const likenessOf = (
  idempotencyKey: string | null,
  payload: string,
  priority: number,
  runAt: number,
  maxAttempts: number
): string => (idempotencyKey !== null ? `key ${idempotencyKey}` : `${priority} ${runAt} ${maxAttempts} ${payload}`)

/** Rows of jobs, decoded (int8 arrives as a string from PostgreSQL). */
const jobRows = (statement: Statement.Statement<Sql.UndecodedJobRow>): Effect.Effect<ReadonlyArray<Sql.JobRow>, SqlError> =>
  Effect.map(rows(statement), (all) => all.map(Sql.decodeJobRow))

const firstJob = (statement: Statement.Statement<Sql.UndecodedJobRow>): Effect.Effect<Sql.JobRow | undefined, SqlError> =>
  Effect.map(rows(statement), (all) => (all.length === 0 ? undefined : Sql.decodeJobRow(all[0]!)))

const historyRows = (statement: Statement.Statement<Sql.UndecodedHistoryRow>): Effect.Effect<ReadonlyArray<Sql.HistoryRow>, SqlError> =>
  Effect.map(rows(statement), (all) => all.map(Sql.decodeHistoryRow))

/** Reclaim works through expired leases in batches, one transaction each, to keep the write lock short. */
const reclaimBatchSize = 500

export const make = (
  kinds: ReadonlyArray<JobKind.Any>
): Effect.Effect<JobQueueService, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const registry = new Map<string, JobKind.Any>()
    for (const kind of kinds) {
      const key = keyOf(kind.plugin, kind.name)
      if (registry.has(key) && registry.get(key) !== kind) {
        return yield* Effect.dieMessage(`job kind ${key} is registered twice with different definitions`)
      }
      registry.set(key, kind)
    }

    const lookup = (plugin: string, name: string): Effect.Effect<JobKind.Any, UnknownJobKind> => {
      const kind = registry.get(keyOf(plugin, name))
      return kind === undefined ? Effect.fail(unknownKind(plugin, name)) : Effect.succeed(kind)
    }

    const inTransaction = yield* GroupCommit.make({ isCleanFailure, closedMessage: "the job queue is closed" })

    // the daemon's wake-ups reach every node on PostgreSQL; without them, this queue's own reach this process
    const provided = yield* Effect.serviceOption(Notifications.Notifications)
    const notifications = Option.isSome(provided) ? provided.value : yield* Notifications.makeLocal
    const topics = new Map([...registry.values()].map((kind) => [keyOf(kind.plugin, kind.name), Notifications.jobs(kind)]))
    const wakeUp = (plugin: string, name: string) => {
      const topic = topics.get(keyOf(plugin, name))
      return topic === undefined ? Effect.void : notifications.publish(topic)
    }
    const wakeups: JobQueueService["wakeups"] = (kind) => {
      const topic = topics.get(keyOf(kind.plugin, kind.name))
      return topic === undefined
        ? Effect.dieMessage(`wakeups: job kind ${kind.plugin}/${kind.name} is not known to this queue`)
        : notifications.subscribe(topic)
    }

    /** Explains a compare-and-set that matched nothing, from the job as it is now. */
    const leaseLost = (job: { readonly id: number; readonly state?: string; readonly token: number | undefined }) =>
      Effect.flatMap(firstJob(Sql.getJob(sql, job.id)), (row) => Effect.fail(lostLease(job, row)))

    const requireToken = (job: Pick<Job, "id" | "token">): Effect.Effect<number, LeaseLost> =>
      job.token === undefined ? Effect.fail(notLeased(job)) : Effect.succeed(job.token)

    /**
     * Records an expired lease as a failed attempt (dead when out of attempts) with a
     * history row; returns the row after, or undefined if the lease changed meanwhile.
     */
    const expire = (kind: JobKind.Any, row: Sql.JobRow, now: number) =>
      Effect.gen(function*() {
        const attempts = row.attempts + 1
        const exhausted = attempts >= row.max_attempts
        const to = exhausted ? kind.dead : row.state
        const error = `lease of ${row.lease_owner} (token ${row.lease_token}) expired at ${
          new Date(row.lease_expires_at!).toISOString()
        }`
        const after = yield* firstJob(Sql.expireLease(sql, { id: row.id, token: row.lease_token!, to, error, now }))
        if (after === undefined) return undefined
        yield* rows(Sql.insertHistory(sql, [{
          jobId: row.id,
          at: now,
          from: row.state,
          to,
          reason: `${error}; attempt ${attempts} of ${row.max_attempts}${exhausted ? ", none left" : ""}`,
          owner: row.lease_owner,
          token: row.lease_token
        }]))
        return after
      })

    const enqueueMany = <P, R, S extends string>(kind: JobKind<P, R, S>, items: ReadonlyArray<EnqueueItem<P>>) =>
      Effect.gen(function*() {
        yield* lookup(kind.plugin, kind.name)
        if (items.length === 0) return []
        const codec = codecOf(kind)
        const prepared: Array<PreparedJob> = []
        for (let i = 0; i < items.length; i++) {
          const { options = {}, payload } = items[i]
          const maxAttempts = options.maxAttempts ?? kind.retry.maxAttempts
          const priority = options.priority ?? 0
          if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || !Number.isSafeInteger(priority)) {
            return yield* Effect.dieMessage(
              `enqueue ${kind.plugin}/${kind.name}: maxAttempts must be an integer ≥ 1 and priority an integer`
            )
          }
          const encoded = codec.encodePayload(payload)
          if (Either.isLeft(encoded)) {
            return yield* schemaError(kind, undefined, items.length === 1 ? "payload" : `payload (item ${i})`, encoded.left)
          }
          prepared.push({
            payload: JSON.stringify(encoded.right),
            priority,
            runAt: options.runAt === undefined ? undefined : Math.round(options.runAt),
            maxAttempts,
            idempotencyKey: options.idempotencyKey ?? null
          })
        }
        const enqueued = yield* inTransaction(enqueueBatch(kind, items, prepared))
        // after the commit, so a woken worker finds the jobs (inside a caller's transaction it may wake early)
        if (enqueued.some((item) => item.created)) yield* wakeUp(kind.plugin, kind.name)
        return enqueued
      })

    /**
     * The transaction of `enqueueMany`: jobs already enqueued under a key are looked up
     * first, so a stored job that no longer decodes fails the batch before it writes.
     */
    const enqueueBatch = <P, R, S extends string>(
      kind: JobKind<P, R, S>,
      items: ReadonlyArray<EnqueueItem<P>>,
      prepared: ReadonlyArray<PreparedJob>
    ) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const byKey = new Map<string, Job<P, R, S>>()
        const loadKeyed = (keys: ReadonlyArray<string>) =>
          Effect.gen(function*() {
            for (const chunk of keys.length === 0 ? [] : chunksOf(keys, maxRowsPerStatement)) {
              for (const row of yield* jobRows(Sql.getJobsByIdempotencyKeys(sql, kind.plugin, kind.name, chunk))) {
                const job = decodeRow(kind, row)
                if (Either.isLeft(job)) {
                  return yield* new JobSchemaError({
                    plugin: kind.plugin,
                    kind: kind.name,
                    jobId: row.id,
                    message: `job ${row.id} with idempotency key "${row.idempotency_key}": ${job.left}`
                  })
                }
                byKey.set(row.idempotency_key!, job.right)
              }
            }
          })
        yield* loadKeyed([...new Set(prepared.flatMap((job) => (job.idempotencyKey === null ? [] : [job.idempotencyKey])))])
        // the first item with a key that is new creates the job; later ones with that key get it
        const fresh: Array<number> = []
        const keysTaken = new Set<string>()
        prepared.forEach(({ idempotencyKey }, i) => {
          if (idempotencyKey === null) fresh.push(i)
          else if (!byKey.has(idempotencyKey) && !keysTaken.has(idempotencyKey)) {
            keysTaken.add(idempotencyKey)
            fresh.push(i)
          }
        })
        const created = new Map<number, Job<P, R, S>>()
        const keyedElsewhere: Array<string> = []
        for (const chunk of fresh.length === 0 ? [] : chunksOf(fresh, maxRowsPerStatement)) {
          const inserted = yield* jobRows(Sql.insertJobs(
            sql,
            chunk.map((i) => ({
              plugin: kind.plugin,
              kind: kind.name,
              state: kind.initial,
              ...prepared[i],
              runAt: prepared[i].runAt ?? now,
              now
            }))
          ))
          // RETURNING promises no order: a keyed row is its key's; rows alike in every column
          // the caller chose are interchangeable, so each takes the lowest id left of its likeness
          const alike = new Map<string, Array<Sql.JobRow>>()
          for (const row of [...inserted].sort((a, b) => a.id - b.id)) {
            const likeness = likenessOf(row.idempotency_key, row.payload, row.priority, row.run_at, row.max_attempts)
            const rowsAlike = alike.get(likeness)
            if (rowsAlike === undefined) alike.set(likeness, [row])
            else rowsAlike.push(row)
          }
          for (const i of chunk) {
            const job = prepared[i]
            const row = alike.get(
              likenessOf(job.idempotencyKey, job.payload, job.priority, job.runAt ?? now, job.maxAttempts)
            )?.shift()
            if (row === undefined) {
              // another writer enqueued this key since it was looked up: that job is the one
              if (job.idempotencyKey !== null) {
                keyedElsewhere.push(job.idempotencyKey)
                continue
              }
              return yield* Effect.dieMessage(`enqueue ${kind.plugin}/${kind.name}: item ${i} is missing from the rows inserted`)
            }
            const enqueued = fromRow<P, R, S>(row, items[i].payload, undefined)
            created.set(i, enqueued)
            if (job.idempotencyKey !== null) byKey.set(job.idempotencyKey, enqueued)
          }
          if (inserted.length === 0) continue
          yield* rows(Sql.insertHistory(
            sql,
            inserted.map((row) => ({
              jobId: row.id,
              at: now,
              from: null,
              to: kind.initial,
              reason: "enqueued",
              owner: null,
              token: null
            }))
          ))
        }
        yield* loadKeyed(keyedElsewhere)
        return prepared.map((job, i): Enqueued<P, R, S> => {
          const enqueued = created.get(i)
          return enqueued !== undefined ? { job: enqueued, created: true } : { job: byKey.get(job.idempotencyKey!)!, created: false }
        })
      })

    const enqueue = <P, R, S extends string>(kind: JobKind<P, R, S>, payload: P, options: EnqueueOptions = {}) =>
      Effect.map(enqueueMany(kind, [{ payload, options }]), (enqueued) => enqueued[0])

    const claim = <P, R, S extends string>(kind: JobKind<P, R, S>, options: ClaimOptions<S>) =>
      Effect.gen(function*() {
        yield* lookup(kind.plugin, kind.name)
        const states = options.states ?? kind.claimable
        const limit = options.limit ?? 1
        const problem = states.length === 0
          ? "no states to claim from"
          : states.find((state) => !kind.claimable.includes(state)) !== undefined
          ? `states [${states.join(", ")}] are not all claimable [${kind.claimable.join(", ")}]`
          : !Number.isSafeInteger(limit) || limit < 1
          ? "limit must be an integer ≥ 1"
          : !(options.leaseMs > 0)
          ? "leaseMs must be positive"
          : undefined
        if (problem !== undefined) return yield* Effect.dieMessage(`claim ${kind.plugin}/${kind.name}: ${problem}`)
        return yield* inTransaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const expiresAt = now + options.leaseMs
          const granted: Array<Job<P, R, S>> = []
          while (granted.length < limit) {
            const wanted = limit - granted.length
            const candidates = yield* jobRows(Sql.selectClaimable(sql, {
              plugin: kind.plugin,
              kind: kind.name,
              states,
              now,
              limit: wanted
            }))
            const grants: Array<Job<P, R, S>> = []
            let parked = 0
            for (const row of candidates) {
              const decoded = decodeRow(kind, row)
              if (Either.isLeft(decoded)) {
                // a payload written by an older build: park it for a person instead of failing every claim
                const deadRow = yield* firstJob(Sql.forceState(sql, {
                  id: row.id,
                  from: row.state,
                  to: kind.dead,
                  error: decoded.left,
                  resetAttempts: false,
                  runAt: null,
                  now
                }))
                if (deadRow !== undefined) {
                  yield* rows(Sql.insertHistory(sql, [{
                    jobId: row.id,
                    at: now,
                    from: row.state,
                    to: kind.dead,
                    reason: decoded.left,
                    owner: null,
                    token: null
                  }]))
                }
                parked++
                continue
              }
              if (row.lease_token === null) {
                grants.push(decoded.right)
                continue
              }
              // taking over an expired lease counts the lost attempt, as reclaimExpired would
              const after = yield* expire(kind, row, now)
              if (after === undefined) continue
              if (after.state === row.state) grants.push(fromRow(after, decoded.right.payload, decoded.right.result))
              else parked++
            }
            let lost = 0
            if (grants.length > 0) {
              // each chunk's tokens reserved by one counter update, in claim order
              const taken = new Map<number, number>()
              for (const chunk of chunksOf(grants, maxRowsPerStatement)) {
                const offers = chunk.map((job) => ({ id: job.id, state: job.state }))
                for (const row of yield* Sql.grantLeasesWithTokens(sql, { jobs: offers, owner: options.owner, expiresAt, now })) {
                  taken.set(row.id, row.token)
                }
              }
              // Claims write no history row. The benchmark put the cost of one at about the noise
              // between runs (one more small insert in a transaction already writing), so the reason
              // is the history itself: pollers (the watchdog's finisher claims each SUBMITTED job
              // again and again until it ends) would bury the changes of state under claims and grow
              // a table that is never pruned. The holder's owner and token are on every row its
              // changes write, and an expired lease writes one.
              for (const job of grants) {
                const token = taken.get(job.id)
                if (token !== undefined) {
                  granted.push({ ...job, leaseOwner: options.owner, token, leaseExpiresAt: expiresAt, updatedAt: now })
                } else lost++
              }
            }
            // jobs parked in the dead state, or taken by another writer since they were read,
            // left room under the limit: look further
            if ((parked === 0 && lost === 0) || candidates.length < wanted) break
          }
          return granted
        }))
      })

    const heartbeat: JobQueueService["heartbeat"] = (job, leaseMs) =>
      Effect.gen(function*() {
        const token = yield* requireToken(job)
        return yield* inTransaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const expiresAt = now + leaseMs
          const extended = yield* first(Sql.extendLease(sql, { id: job.id, token, expiresAt, now }))
          if (extended === undefined) return yield* leaseLost(job)
          return expiresAt
        }))
      })

    const transitionMany = <P, R, S extends string>(
      items: ReadonlyArray<TransitionItem<P, R, S>>,
      to: S,
      options: TransitionManyOptions
    ) =>
      Effect.gen(function*() {
        const outcomes: Array<Either.Either<Job<P, R, S>, LeaseLost>> = new Array(items.length)
        const changes: Array<Sql.JobChange> = []
        // the jobs that carry a token, which the compare-and-set decides
        const held: Array<Job<P, R, S>> = []
        const ids = new Set<number>()
        for (let i = 0; i < items.length; i++) {
          const { error, job, result } = items[i]
          if (ids.has(job.id)) return yield* Effect.dieMessage(`transitionMany: job ${job.id} is listed twice`)
          ids.add(job.id)
          const kind = yield* lookup(job.plugin, job.kind)
          if (!JobKind.allows(kind, job.state, to)) {
            const allowed = kind.transitions[job.state] as ReadonlyArray<string> | undefined
            return yield* new IllegalTransition({
              jobId: job.id,
              plugin: kind.plugin,
              kind: kind.name,
              from: job.state,
              to,
              message: `job ${job.id} of kind ${kind.plugin}/${kind.name} may not go from ${job.state} to ${to} (allowed: ${
                allowed && allowed.length > 0 ? allowed.join(", ") : "none"
              })`
            })
          }
          if (job.token === undefined) {
            outcomes[i] = Either.left(notLeased(job))
            continue
          }
          let resultText: string | null = null
          if (result !== undefined) {
            const encoded = codecOf(kind).encodeResult(result)
            if (Either.isLeft(encoded)) return yield* schemaError(kind, job.id, "result", encoded.left)
            resultText = JSON.stringify(encoded.right)
          }
          changes.push({
            id: job.id,
            from: job.state,
            token: job.token,
            result: resultText,
            error: error ?? null,
            keepLease: (options.keepLease ?? false) && !kind.final.includes(to)
          })
          held.push(job)
        }
        if (changes.length === 0) return outcomes
        const { current, moved } = yield* inTransaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const moved = new Map<number, Sql.JobRow>()
          for (const chunk of chunksOf(changes, maxRowsPerStatement)) {
            const rowsMoved = yield* jobRows(Sql.transitionJobs(sql, { changes: chunk, to, runAt: options.runAt ?? null, now }))
            for (const row of rowsMoved) moved.set(row.id, row)
          }
          const entries = held.flatMap((job): Array<Sql.NewHistoryEntry> =>
            moved.has(job.id)
              ? [{ jobId: job.id, at: now, from: job.state, to, reason: options.reason, owner: job.leaseOwner ?? null, token: job.token! }]
              : []
          )
          for (const chunk of entries.length === 0 ? [] : chunksOf(entries, maxRowsPerStatement)) {
            yield* rows(Sql.insertHistory(sql, chunk))
          }
          // the jobs that did not move, as they are now, to say why
          const current = new Map<number, Sql.JobRow>()
          const lost = held.flatMap((job) => (moved.has(job.id) ? [] : [job.id]))
          for (const row of lost.length === 0 ? [] : yield* jobRows(Sql.getJobs(sql, lost))) current.set(row.id, row)
          return { current, moved }
        }))
        return items.map(({ job, result }, i) => {
          if (outcomes[i] !== undefined) return outcomes[i]
          const row = moved.get(job.id)
          return row !== undefined
            ? Either.right(fromRow<P, R, S>(row, job.payload, result !== undefined ? result : job.result))
            : Either.left(lostLease(job, current.get(job.id)))
        })
      })

    const transition = <P, R, S extends string>(job: Job<P, R, S>, to: S, options: TransitionOptions<R>) =>
      Effect.flatMap(
        transitionMany([{ job, result: options.result, error: options.error }], to, options),
        ([outcome]) => (Either.isRight(outcome) ? Effect.succeed(outcome.right) : Effect.fail(outcome.left))
      )

    const release: JobQueueService["release"] = (job, options = {}) =>
      Effect.gen(function*() {
        const token = yield* requireToken(job)
        yield* inTransaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const row = yield* first(Sql.releaseJob(sql, { id: job.id, state: job.state, token, runAt: options.runAt ?? null, error: options.error ?? null, now }))
          if (row === undefined) return yield* leaseLost(job)
          if (options.reason !== undefined) {
            yield* rows(Sql.insertHistory(sql, [{
              jobId: job.id,
              at: now,
              from: job.state,
              to: job.state,
              reason: options.reason,
              owner: job.leaseOwner ?? null,
              token
            }]))
          }
        }))
      })

    const fail = <P, R, S extends string>(
      job: Job<P, R, S>,
      error: unknown,
      options: { readonly retryable?: boolean | undefined } = {}
    ) =>
      Effect.gen(function*() {
        const kind = yield* lookup(job.plugin, job.kind)
        const token = yield* requireToken(job)
        const message = describeError(error)
        const random = yield* Random.next
        const row = yield* inTransaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const current = yield* firstJob(Sql.getJob(sql, job.id))
          if (current === undefined || current.state !== job.state || current.lease_token !== token) {
            return yield* leaseLost(job)
          }
          const attempts = current.attempts + 1
          const retrying = (options.retryable ?? true) && attempts < current.max_attempts
          const to = retrying ? current.state : kind.dead
          const runAt = retrying ? now + JobKind.backoff(kind.retry, attempts, random) : current.run_at
          const row = yield* firstJob(Sql.failJob(sql, { id: job.id, state: job.state, token, to, error: message, runAt, now }))
          if (row === undefined) return yield* leaseLost(job)
          yield* rows(Sql.insertHistory(sql, [{
            jobId: job.id,
            at: now,
            from: job.state,
            to,
            reason: retrying
              ? `attempt ${attempts} of ${current.max_attempts} failed: ${message}; retry at ${new Date(runAt).toISOString()}`
              : (options.retryable ?? true)
              ? `attempt ${attempts} of ${current.max_attempts} failed, none left: ${message}`
              : `failed, not retryable: ${message}`,
            owner: job.leaseOwner ?? null,
            token
          }]))
          return row
        }))
        return fromRow<P, R, S>(row, job.payload, job.result)
      })

    /** Loads a job and its kind inside the transaction, for the changes made by id. */
    const loadForChange = (id: number) =>
      Effect.gen(function*() {
        const row = yield* firstJob(Sql.getJobForChange(sql, id))
        if (row === undefined) return yield* new JobNotFound({ id, message: `no job ${id}` })
        const kind = yield* lookup(row.plugin, row.kind)
        return { row, kind }
      })

    const illegal = (row: Sql.JobRow, to: string, why: string) =>
      new IllegalTransition({
        jobId: row.id,
        plugin: row.plugin,
        kind: row.kind,
        from: row.state,
        to,
        message: `job ${row.id} of kind ${row.plugin}/${row.kind} cannot go from ${row.state} to ${to}: ${why}`
      })

    const cancel: JobQueueService["cancel"] = (id, reason) =>
      inTransaction(Effect.gen(function*() {
        const { kind, row } = yield* loadForChange(id)
        if (kind.final.includes(row.state)) return yield* illegal(row, kind.cancelled, `${row.state} is final`)
        const now = yield* Clock.currentTimeMillis
        const after = yield* firstJob(Sql.forceState(sql, {
          id,
          from: row.state,
          to: kind.cancelled,
          error: null,
          resetAttempts: false,
          runAt: null,
          now
        }))
        const revoked = row.lease_token === null ? "" : ` (lease of ${row.lease_owner}, token ${row.lease_token}, revoked)`
        yield* rows(Sql.insertHistory(sql, [{
          jobId: id,
          at: now,
          from: row.state,
          to: kind.cancelled,
          reason: `${reason}${revoked}`,
          owner: null,
          token: null
        }]))
        return fromRowUntyped(after!)
      }))

    const retry: JobQueueService["retry"] = (id, reason) =>
      Effect.tap(inTransaction(Effect.gen(function*() {
        const { kind, row } = yield* loadForChange(id)
        if (!kind.retryFrom.includes(row.state)) {
          return yield* illegal(row, kind.initial, `only jobs in ${kind.retryFrom.join(", ")} can be retried`)
        }
        const now = yield* Clock.currentTimeMillis
        const after = yield* firstJob(Sql.forceState(sql, {
          id,
          from: row.state,
          to: kind.initial,
          error: null,
          resetAttempts: true,
          runAt: now,
          now
        }))
        yield* rows(Sql.insertHistory(sql, [{
          jobId: id,
          at: now,
          from: row.state,
          to: kind.initial,
          reason,
          owner: null,
          token: null
        }]))
        return fromRowUntyped(after!)
      })), (job) => wakeUp(job.plugin, job.kind))

    const reclaimBatch = (kind: JobKind.Any) =>
      inTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expired = yield* jobRows(Sql.selectExpiredLeases(sql, { plugin: kind.plugin, kind: kind.name, now, limit: reclaimBatchSize }))
        let reclaimed = 0
        for (const row of expired) {
          if ((yield* expire(kind, row, now)) !== undefined) reclaimed++
        }
        return { reclaimed, full: expired.length === reclaimBatchSize }
      }))

    // only the kinds known here: another plugin's jobs are left to the processes that run it
    const reclaimExpired: JobQueueService["reclaimExpired"] = () =>
      Effect.gen(function*() {
        let total = 0
        for (const kind of registry.values()) {
          while (true) {
            const batch = yield* reclaimBatch(kind)
            total += batch.reclaimed
            if (!batch.full) break
          }
        }
        return total
      })

    const get: JobQueueService["get"] = (id) =>
      Effect.flatMap(firstJob(Sql.getJob(sql, id)), (row) =>
        row === undefined
          ? Effect.fail(new JobNotFound({ id, message: `no job ${id}` }))
          : Effect.succeed(fromRowUntyped(row)))

    const list: JobQueueService["list"] = (options = {}) =>
      Effect.map(jobRows(Sql.listJobs(sql, { ...options, limit: options.limit ?? 100 })), (jobs) => jobs.map(fromRowUntyped))

    const history: JobQueueService["history"] = (id) =>
      Effect.map(historyRows(Sql.selectHistory(sql, id)), (entries) => entries.map(fromHistoryRow))

    const countByState: JobQueueService["countByState"] = () =>
      Effect.map(rows(Sql.countJobsByState(sql)), (counts) => counts.map(Sql.decodeCountRow))

    return JobQueue.of({
      kinds: [...registry.values()],
      enqueue,
      enqueueMany,
      claim,
      heartbeat,
      transition,
      transitionMany,
      release,
      fail,
      cancel,
      retry,
      reclaimExpired,
      get,
      list,
      history,
      countByState,
      wakeups
    })
  })

/** `JobQueue.layer` as a module function, like `Database.layer`. */
export const layer = JobQueue.layer
