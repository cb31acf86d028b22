/**
 * The durable job queue in the shared database.
 *
 * A `JobKind` declares a job's payload and result `Schema`s and its state machine; the
 * `JobQueue` service enqueues, leases and moves jobs. Every change runs whole inside a
 * transaction that holds the write lock (changes arriving together share one commit), a
 * holder's change is a compare-and-set on (id, state, lease token), so two workers never
 * both own a job, and every change of state writes a history row in the same transaction.
 * `enqueueMany` and `transitionMany` do the same for a batch with multi-row statements, in
 * one transaction, reporting per job. Jobs are never deleted: a job that keeps failing
 * rests in its kind's dead state.
 *
 * All the SQL is in `sql/jobs.ts`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import {
  Cause,
  Clock,
  Context,
  Data,
  Duration,
  Effect,
  Either,
  Layer,
  Option,
  ParseResult,
  PubSub,
  type Queue,
  Random,
  Schema,
  type Scope
} from "effect"
import * as GroupCommit from "./GroupCommit.js"
import * as Fencing from "./sql/fencing.js"
import * as Sql from "./sql/jobs.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** A job names a kind this process was not given (its plugin is not loaded here). */
export class UnknownJobKind extends Data.TaggedError("UnknownJobKind")<{
  readonly plugin: string
  readonly kind: string
  readonly message: string
}> {}

export class JobNotFound extends Data.TaggedError("JobNotFound")<{
  readonly id: number
  readonly message: string
}> {}

/** The kind's state machine does not allow this move. */
export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly jobId: number
  readonly plugin: string
  readonly kind: string
  readonly from: string
  readonly to: string
  readonly message: string
}> {}

/**
 * The compare-and-set matched nothing: the job was cancelled, moved on, or its lease
 * expired and was reclaimed or granted to someone else. Stop working on it.
 */
export class LeaseLost extends Data.TaggedError("LeaseLost")<{
  readonly jobId: number
  readonly token: number | undefined
  readonly message: string
}> {}

/** A payload or result does not match its kind's `Schema`. */
export class JobSchemaError extends Data.TaggedError("JobSchemaError")<{
  readonly plugin: string
  readonly kind: string
  readonly jobId: number | undefined
  readonly message: string
  readonly cause?: unknown
}> {}

// ---------------------------------------------------------------------------
// Job kinds
// ---------------------------------------------------------------------------

export interface RetryPolicy {
  /** Attempts before the job goes to its dead state (a failure or an expired lease is one). */
  readonly maxAttempts: number
  /** Delay after the first failed attempt; it doubles per attempt up to `maxDelay`. */
  readonly initialDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  /** Fraction in [0, 1]: each delay is shortened by a random part of it up to this. */
  readonly jitter: number
}

export interface RetryPolicyInput {
  readonly maxAttempts?: number | undefined
  readonly initialDelay?: Duration.DurationInput | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
  readonly jitter?: number | undefined
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelay: Duration.seconds(1),
  maxDelay: Duration.minutes(5),
  jitter: 0.2
}

/** What a kind of job is: its owner, data and state machine. Build one with `JobKind.make`. */
export interface JobKind<P, R, S extends string> {
  readonly plugin: string
  readonly name: string
  readonly payload: Schema.Schema<P, any>
  readonly result: Schema.Schema<R, any>
  readonly states: ReadonlyArray<S>
  readonly initial: S
  /** Every state, with the states a lease holder may move it to. */
  readonly transitions: Readonly<Record<S, ReadonlyArray<S>>>
  /** The states workers claim jobs in. */
  readonly claimable: ReadonlyArray<S>
  /** Where `fail` puts a job out of attempts. */
  readonly dead: S
  readonly cancelled: S
  /** States `retry` brings back to `initial`. */
  readonly retryFrom: ReadonlyArray<S>
  /** States with no way out but `retry`: no transitions, no lease, not cancellable. */
  readonly final: ReadonlyArray<S>
  readonly retry: RetryPolicy
}

export declare namespace JobKind {
  export type Any = JobKind<any, any, any>
  export type Payload<K> = K extends JobKind<infer P, any, any> ? P : never
  export type Result<K> = K extends JobKind<any, infer R, any> ? R : never
  export type State<K> = K extends JobKind<any, any, infer S> ? S : never

  export interface Definition<P, PI, R, RI, S extends string> {
    readonly plugin: string
    readonly name: string
    readonly payload: Schema.Schema<P, PI>
    readonly result: Schema.Schema<R, RI>
    readonly states: ReadonlyArray<S>
    readonly initial: NoInfer<S>
    readonly transitions: { readonly [K in NoInfer<S>]?: ReadonlyArray<NoInfer<S>> }
    /** Default: `[initial]`. */
    readonly claimable?: ReadonlyArray<NoInfer<S>> | undefined
    /** Default: `"dead"`, which must then be one of `states`. */
    readonly dead?: NoInfer<S> | undefined
    /** Default: `"cancelled"`, which must then be one of `states`. */
    readonly cancelled?: NoInfer<S> | undefined
    /** Default: `[dead, cancelled]`. */
    readonly retryFrom?: ReadonlyArray<NoInfer<S>> | undefined
    readonly retry?: RetryPolicyInput | undefined
  }

  /** The states of `JobKind.simple`. */
  export type SimpleState = "queued" | "succeeded" | "dead" | "cancelled"
}

const invalidKind = (plugin: string, name: string, problem: string): Error =>
  new Error(`job kind ${plugin}/${name}: ${problem}`)

const makeKind = <const S extends string, P, PI, R, RI>(
  definition: JobKind.Definition<P, PI, R, RI, S>
): JobKind<P, R, S> => {
  const { name, plugin } = definition
  const fail = (problem: string) => {
    throw invalidKind(plugin, name, problem)
  }
  if (plugin.length === 0 || name.length === 0) fail("plugin and name must not be empty")
  const states = [...definition.states]
  if (states.length === 0) fail("declares no states")
  const known = new Set<string>(states)
  if (known.size !== states.length) fail(`a state is listed twice in [${states.join(", ")}]`)
  const check = (what: string, state: string) => {
    if (!known.has(state)) fail(`${what} "${state}" is not one of its states [${states.join(", ")}]`)
  }
  check("initial state", definition.initial)
  const transitions = {} as Record<S, ReadonlyArray<S>>
  for (const state of states) transitions[state] = []
  for (const [from, targets] of Object.entries(definition.transitions) as Array<[string, ReadonlyArray<S>]>) {
    check("transition from", from)
    for (const to of targets ?? []) check(`transition ${from} → `, to)
    transitions[from as S] = [...new Set(targets ?? [])]
  }
  const dead = definition.dead ?? ("dead" as S)
  const cancelled = definition.cancelled ?? ("cancelled" as S)
  check("dead state", dead)
  check("cancelled state", cancelled)
  for (const end of [dead, cancelled]) {
    if (transitions[end].length > 0) fail(`"${end}" must be final (retry is its way out) but has transitions`)
  }
  const final = states.filter((state) => transitions[state].length === 0)
  if (final.includes(definition.initial)) fail(`initial state "${definition.initial}" has no transitions`)
  const claimable = [...(definition.claimable ?? [definition.initial])]
  if (claimable.length === 0) fail("has no claimable state")
  for (const state of claimable) {
    check("claimable state", state)
    if (final.includes(state)) fail(`claimable state "${state}" is final`)
  }
  const retryFrom = [...(definition.retryFrom ?? [dead, cancelled])]
  for (const state of retryFrom) check("retryFrom state", state)
  const retry: RetryPolicy = {
    maxAttempts: definition.retry?.maxAttempts ?? defaultRetryPolicy.maxAttempts,
    initialDelay: Duration.decode(definition.retry?.initialDelay ?? defaultRetryPolicy.initialDelay),
    maxDelay: Duration.decode(definition.retry?.maxDelay ?? defaultRetryPolicy.maxDelay),
    jitter: definition.retry?.jitter ?? defaultRetryPolicy.jitter
  }
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) fail("retry.maxAttempts must be an integer ≥ 1")
  if (!Duration.isFinite(retry.maxDelay)) fail("retry.maxDelay must be finite")
  if (Duration.greaterThan(retry.initialDelay, retry.maxDelay)) fail("retry.initialDelay exceeds retry.maxDelay")
  if (!(retry.jitter >= 0 && retry.jitter <= 1)) fail("retry.jitter must be in [0, 1]")
  return {
    plugin,
    name,
    payload: definition.payload,
    result: definition.result,
    states,
    initial: definition.initial,
    transitions,
    claimable,
    dead,
    cancelled,
    retryFrom,
    final,
    retry
  }
}

const makeSimpleKind = <P, PI, R, RI>(definition: {
  readonly plugin: string
  readonly name: string
  readonly payload: Schema.Schema<P, PI>
  readonly result: Schema.Schema<R, RI>
  readonly retry?: RetryPolicyInput | undefined
}): JobKind<P, R, JobKind.SimpleState> =>
  makeKind({
    ...definition,
    states: ["queued", "succeeded", "dead", "cancelled"],
    initial: "queued",
    transitions: { queued: ["succeeded", "dead", "cancelled"] }
  })

/** Decodes an untyped job (from `get` or `list`) with its kind's schemas. */
const decodeJob = <P, R, S extends string>(
  kind: JobKind<P, R, S>,
  job: Job
): Effect.Effect<Job<P, R, S>, JobSchemaError | UnknownJobKind> => {
  if (job.plugin !== kind.plugin || job.kind !== kind.name) {
    return Effect.fail(unknownKind(job.plugin, job.kind, ` (expected ${kind.plugin}/${kind.name})`))
  }
  const codec = codecOf(kind)
  const payload = codec.decodePayload(job.payload)
  if (Either.isLeft(payload)) return Effect.fail(schemaError(kind, job.id, "payload", payload.left))
  let result: R | undefined
  if (job.result !== undefined) {
    const decoded = codec.decodeResult(job.result)
    if (Either.isLeft(decoded)) return Effect.fail(schemaError(kind, job.id, "result", decoded.left))
    result = decoded.right
  }
  return Effect.succeed({ ...job, state: job.state as S, payload: payload.right, result })
}

/** Building and reading job kinds. Invalid definitions throw at once: they are programming errors. */
export const JobKind = {
  make: makeKind,
  /** A plain work queue: `queued` → `succeeded` | `dead` | `cancelled`. */
  simple: makeSimpleKind,
  decodeJob,
  /** Whether a lease holder may move a job of `kind` from `from` to `to`. */
  allows: (kind: JobKind.Any, from: string, to: string): boolean =>
    (kind.transitions[from] as ReadonlyArray<string> | undefined)?.includes(to) ?? false,
  /**
   * The delay before attempt `attempt + 1` after `attempt` failed attempts:
   * initialDelay·2^(attempt−1) capped at maxDelay, shortened by up to `jitter` of itself
   * (`random` in [0, 1)).
   */
  backoff: (policy: RetryPolicy, attempt: number, random: number): number => {
    const base = Math.min(
      Duration.toMillis(policy.maxDelay),
      Duration.toMillis(policy.initialDelay) * 2 ** Math.max(0, attempt - 1)
    )
    return Math.round(base * (1 - policy.jitter * random))
  }
}

// ---------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------

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
   * when given, is recorded in the history.
   */
  readonly release: (
    job: Pick<Job, "id" | "state" | "token" | "leaseOwner">,
    options?: { readonly runAt?: number | undefined; readonly reason?: string | undefined }
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
  /**
   * A subscription that receives an item after each committed enqueue (and retry) of
   * `kind` in this process, at most one pending per subscriber: job workers wait on it
   * instead of polling. Subscribe before the first claim so that no wake-up is lost.
   */
  readonly wakeups: (kind: JobKind.Any) => Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
  readonly get: (id: number) => Effect.Effect<Job, JobNotFound | SqlError>
  /** Newest first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Job>, SqlError>
  readonly history: (id: number) => Effect.Effect<ReadonlyArray<JobHistoryEntry>, SqlError>
  readonly countByState: () => Effect.Effect<ReadonlyArray<JobCount>, SqlError>
}

export class JobQueue extends Context.Tag("@orch/core/JobQueue")<JobQueue, JobQueueService>() {
  /** The queue over the current `SqlClient`, knowing the state machines of `kinds`. */
  static readonly layer = (kinds: ReadonlyArray<JobKind.Any>): Layer.Layer<JobQueue, never, SqlClient.SqlClient> =>
    Layer.scoped(JobQueue, make(kinds))
}

// ---------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------

interface Codec {
  readonly decodePayload: (json: unknown) => Either.Either<any, ParseResult.ParseError>
  readonly encodePayload: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly decodeResult: (json: unknown) => Either.Either<any, ParseResult.ParseError>
  readonly encodeResult: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
}

const codecs = new WeakMap<JobKind.Any, Codec>()

const codecOf = (kind: JobKind.Any): Codec => {
  let codec = codecs.get(kind)
  if (codec === undefined) {
    codec = {
      decodePayload: Schema.decodeUnknownEither(kind.payload),
      encodePayload: Schema.encodeEither(kind.payload),
      decodeResult: Schema.decodeUnknownEither(kind.result),
      encodeResult: Schema.encodeEither(kind.result)
    }
    codecs.set(kind, codec)
  }
  return codec
}

const keyOf = (plugin: string, name: string) => `${plugin}/${name}`

const unknownKind = (plugin: string, kind: string, detail = "") =>
  new UnknownJobKind({
    plugin,
    kind,
    message: `job kind ${plugin}/${kind} is not known to this process${detail}: is its plugin loaded?`
  })

const schemaError = (kind: JobKind.Any, jobId: number | undefined, what: string, cause: ParseResult.ParseError) =>
  new JobSchemaError({
    plugin: kind.plugin,
    kind: kind.name,
    jobId,
    message: `${what} of ${jobId === undefined ? "a" : `job ${jobId} of`} kind ${kind.plugin}/${kind.name} does not match its schema: ${
      ParseResult.TreeFormatter.formatErrorSync(cause)
    }`,
    cause
  })

const describeError = (error: unknown): string => {
  if (typeof error === "string") return error
  if (error instanceof Error) return error.message || error.name
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}

const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    return Either.left(`not JSON: ${describeError(error)}`)
  }
}

const undefinedIfNull = <A>(value: A | null): A | undefined => (value === null ? undefined : value)

const fromRow = <P, R, S extends string>(row: Sql.JobRow, payload: P, result: R | undefined): Job<P, R, S> => ({
  id: row.id,
  plugin: row.plugin,
  kind: row.kind,
  state: row.state as S,
  payload,
  result,
  lastError: undefinedIfNull(row.last_error),
  priority: row.priority,
  runAt: row.run_at,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  idempotencyKey: undefinedIfNull(row.idempotency_key),
  leaseOwner: undefinedIfNull(row.lease_owner),
  token: undefinedIfNull(row.lease_token),
  leaseExpiresAt: undefinedIfNull(row.lease_expires_at),
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

/** The row as plain JSON values; text that is not JSON is returned as the text. */
const fromRowUntyped = (row: Sql.JobRow): Job => {
  const json = (text: string) => Either.getOrElse(parseJson(text), () => text)
  return fromRow(row, json(row.payload), row.result === null ? undefined : json(row.result))
}

/** Decodes a row with its kind's schemas, or says why it cannot be. */
const decodeRow = <P, R, S extends string>(kind: JobKind<P, R, S>, row: Sql.JobRow): Either.Either<Job<P, R, S>, string> => {
  const codec = codecOf(kind)
  const payloadJson = parseJson(row.payload)
  if (Either.isLeft(payloadJson)) return Either.left(`payload is ${payloadJson.left}`)
  const payload = codec.decodePayload(payloadJson.right)
  if (Either.isLeft(payload)) {
    return Either.left(`payload does not decode: ${ParseResult.TreeFormatter.formatErrorSync(payload.left)}`)
  }
  let result: R | undefined
  if (row.result !== null) {
    const resultJson = parseJson(row.result)
    if (Either.isLeft(resultJson)) return Either.left(`result is ${resultJson.left}`)
    const decoded = codec.decodeResult(resultJson.right)
    if (Either.isLeft(decoded)) {
      return Either.left(`result does not decode: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
    }
    result = decoded.right
  }
  return Either.right(fromRow(row, payload.right, result))
}

/** Why a compare-and-set by `job`'s holder matched nothing, from the job as it is now. */
const lostLease = (
  job: { readonly id: number; readonly state?: string; readonly token: number | undefined },
  row: Sql.JobRow | undefined
): LeaseLost => {
  const now = row === undefined
    ? "it no longer exists"
    : job.state !== undefined && row.state !== job.state
    ? `it is now ${row.state}`
    : row.lease_token === null
    ? "its lease was cleared (expired, released or cancelled)"
    : `it is now held by ${row.lease_owner} with token ${row.lease_token}`
  return new LeaseLost({ jobId: job.id, token: job.token, message: `job ${job.id} is no longer held by token ${job.token}: ${now}` })
}

const notLeased = (job: Pick<Job, "id">): LeaseLost =>
  new LeaseLost({ jobId: job.id, token: undefined, message: `job ${job.id} is not leased` })

/**
 * Rows per multi-row statement: a batch this size already shares its statement's fixed
 * cost a hundred ways, and `transitionJobs` looks each row up in CASE lists as long as
 * the batch, so its cost grows with the square of this.
 */
const maxRowsPerStatement = 100

const chunksOf = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  if (all.length <= size) return [all]
  const chunks: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < all.length; i += size) chunks.push(all.slice(i, i + size))
  return chunks
}

const fromHistoryRow = (row: Sql.HistoryRow): JobHistoryEntry => ({
  id: row.id,
  jobId: row.job_id,
  at: row.at,
  from: undefinedIfNull(row.from_state),
  to: row.to_state,
  reason: row.reason,
  owner: undefinedIfNull(row.owner),
  token: undefinedIfNull(row.token)
})

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

/**
 * Runs a statement on the connection of the transaction in progress, without the span
 * and scope `SqlClient` opens per statement: they cost more than the queue's statements
 * themselves (about 25 µs against 10). Outside a transaction it runs as usual.
 */
const rows = <A extends object>(statement: Statement.Statement<A>): Effect.Effect<ReadonlyArray<A>, SqlError> =>
  Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
    if (Option.isNone(transaction)) return statement
    const [text, params] = statement.compile()
    return transaction.value[0].execute(text, params, undefined) as Effect.Effect<ReadonlyArray<A>, SqlError>
  })

const first = <A extends object>(statement: Statement.Statement<A>): Effect.Effect<A | undefined, SqlError> =>
  Effect.map(rows(statement), (all) => all[0])

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

    // one hub per kind, made by its first subscriber; sliding, so a publisher never waits
    const hubs = new Map<string, PubSub.PubSub<void>>()
    const wakeups: JobQueueService["wakeups"] = (kind) =>
      Effect.suspend(() => {
        const key = keyOf(kind.plugin, kind.name)
        const hub = hubs.get(key)
        return hub !== undefined ? PubSub.subscribe(hub) : Effect.flatMap(PubSub.sliding<void>(1), (made) => {
          if (!hubs.has(key)) hubs.set(key, made)
          return PubSub.subscribe(hubs.get(key)!)
        })
      })
    const wake = (plugin: string, name: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const hub = hubs.get(keyOf(plugin, name))
        return hub === undefined ? Effect.void : PubSub.publish(hub, undefined)
      })

    /** Explains a compare-and-set that matched nothing, from the job as it is now. */
    const leaseLost = (job: { readonly id: number; readonly state?: string; readonly token: number | undefined }) =>
      Effect.flatMap(first(Sql.getJob(sql, job.id)), (row) => Effect.fail(lostLease(job, row)))

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
        const after = yield* first(Sql.expireLease(sql, { id: row.id, token: row.lease_token!, to, error, now }))
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
        return yield* Effect.tap(inTransaction(enqueueBatch(kind, items, prepared)), () => wake(kind.plugin, kind.name))
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
        const keys = [...new Set(prepared.flatMap((job) => (job.idempotencyKey === null ? [] : [job.idempotencyKey])))]
        for (const chunk of keys.length === 0 ? [] : chunksOf(keys, maxRowsPerStatement)) {
          for (const row of yield* rows(Sql.getJobsByIdempotencyKeys(sql, kind.plugin, kind.name, chunk))) {
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
        for (const chunk of fresh.length === 0 ? [] : chunksOf(fresh, maxRowsPerStatement)) {
          const inserted = yield* rows(Sql.insertJobs(
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
              return yield* Effect.dieMessage(`enqueue ${kind.plugin}/${kind.name}: item ${i} is missing from the rows inserted`)
            }
            const enqueued = fromRow<P, R, S>(row, items[i].payload, undefined)
            created.set(i, enqueued)
            if (job.idempotencyKey !== null) byKey.set(job.idempotencyKey, enqueued)
          }
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
            const candidates = yield* rows(Sql.selectClaimable(sql, {
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
                yield* first(Sql.forceState(sql, {
                  id: row.id,
                  from: row.state,
                  to: kind.dead,
                  error: decoded.left,
                  resetAttempts: false,
                  runAt: null,
                  now
                }))
                yield* rows(Sql.insertHistory(sql, [{
                  jobId: row.id,
                  at: now,
                  from: row.state,
                  to: kind.dead,
                  reason: decoded.left,
                  owner: null,
                  token: null
                }]))
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
            if (grants.length > 0) {
              // one counter update reserves the whole batch's tokens, in claim order
              const fresh = yield* Fencing.nextTokens(sql, "jobs", grants.length)
              const tokens = grants.map((job, i) => [job.id, fresh[i]] as const)
              for (const chunk of chunksOf(tokens, maxRowsPerStatement)) {
                yield* rows(Sql.grantLeases(sql, { tokens: chunk, owner: options.owner, expiresAt, now }))
              }
              // Claims write no history row. The benchmark put the cost of one at about the noise
              // between runs (one more small insert in a transaction already writing), so the reason
              // is the history itself: pollers (the watchdog's finisher claims each SUBMITTED job
              // again and again until it ends) would bury the changes of state under claims and grow
              // a table that is never pruned. The holder's owner and token are on every row its
              // changes write, and an expired lease writes one.
              grants.forEach((job, i) =>
                granted.push({ ...job, leaseOwner: options.owner, token: fresh[i], leaseExpiresAt: expiresAt, updatedAt: now })
              )
            }
            // jobs parked in the dead state left room under the limit: look further
            if (parked === 0 || candidates.length < wanted) break
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
            const rowsMoved = yield* rows(Sql.transitionJobs(sql, { changes: chunk, to, runAt: options.runAt ?? null, now }))
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
          for (const row of lost.length === 0 ? [] : yield* rows(Sql.getJobs(sql, lost))) current.set(row.id, row)
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
          const row = yield* first(Sql.releaseJob(sql, { id: job.id, state: job.state, token, runAt: options.runAt ?? null, now }))
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
          const current = yield* first(Sql.getJob(sql, job.id))
          if (current === undefined || current.state !== job.state || current.lease_token !== token) {
            return yield* leaseLost(job)
          }
          const attempts = current.attempts + 1
          const retrying = (options.retryable ?? true) && attempts < current.max_attempts
          const to = retrying ? current.state : kind.dead
          const runAt = retrying ? now + JobKind.backoff(kind.retry, attempts, random) : current.run_at
          const row = yield* first(Sql.failJob(sql, { id: job.id, state: job.state, token, to, error: message, runAt, now }))
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
        const row = yield* first(Sql.getJob(sql, id))
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
        const after = yield* first(Sql.forceState(sql, {
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
      Effect.tap(retryInTransaction(id, reason), (job) => wake(job.plugin, job.kind))

    const retryInTransaction = (id: number, reason: string) =>
      inTransaction(Effect.gen(function*() {
        const { kind, row } = yield* loadForChange(id)
        if (!kind.retryFrom.includes(row.state)) {
          return yield* illegal(row, kind.initial, `only jobs in ${kind.retryFrom.join(", ")} can be retried`)
        }
        const now = yield* Clock.currentTimeMillis
        const after = yield* first(Sql.forceState(sql, {
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
      }))

    const reclaimBatch = (kind: JobKind.Any) =>
      inTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const expired = yield* rows(Sql.selectExpiredLeases(sql, { plugin: kind.plugin, kind: kind.name, now, limit: reclaimBatchSize }))
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
      Effect.flatMap(first(Sql.getJob(sql, id)), (row) =>
        row === undefined
          ? Effect.fail(new JobNotFound({ id, message: `no job ${id}` }))
          : Effect.succeed(fromRowUntyped(row)))

    const list: JobQueueService["list"] = (options = {}) =>
      Effect.map(rows(Sql.listJobs(sql, { ...options, limit: options.limit ?? 100 })), (jobs) => jobs.map(fromRowUntyped))

    const history: JobQueueService["history"] = (id) =>
      Effect.map(rows(Sql.selectHistory(sql, id)), (entries) => entries.map(fromHistoryRow))

    const countByState: JobQueueService["countByState"] = () =>
      Effect.map(rows(Sql.countJobsByState(sql)), (counts) => counts.map((row) => ({ ...row, count: Number(row.count) })))

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
      wakeups,
      get,
      list,
      history,
      countByState
    })
  })

/** `JobQueue.layer` as a module function, like `Database.layer`. */
export const layer = JobQueue.layer
