/**
 * Rows of `orch_jobs` to `Job`s and back: the kinds' schemas applied to the JSON
 * columns, and the errors that say why a row or a value does not fit.
 */
import { Either, ParseResult, Schema } from "effect"
import { JobSchemaError, LeaseLost, UnknownJobKind } from "../JobErrors.js"
import type { JobKind } from "../JobKind.js"
import type { Job, JobHistoryEntry } from "../JobQueue.js"
import type * as Sql from "../sql/jobs.js"

interface Codec {
  readonly decodePayload: (json: unknown) => Either.Either<any, ParseResult.ParseError>
  readonly encodePayload: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
  readonly decodeResult: (json: unknown) => Either.Either<any, ParseResult.ParseError>
  readonly encodeResult: (value: unknown) => Either.Either<unknown, ParseResult.ParseError>
}

const codecs = new WeakMap<JobKind.Any, Codec>()

export const codecOf = (kind: JobKind.Any): Codec => {
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

export const keyOf = (plugin: string, name: string) => `${plugin}/${name}`

export const unknownKind = (plugin: string, kind: string, detail = "") =>
  new UnknownJobKind({
    plugin,
    kind,
    message: `job kind ${plugin}/${kind} is not known to this process${detail}: is its plugin loaded?`
  })

export const schemaError = (kind: JobKind.Any, jobId: number | undefined, what: string, cause: ParseResult.ParseError) =>
  new JobSchemaError({
    plugin: kind.plugin,
    kind: kind.name,
    jobId,
    message: `${what} of ${jobId === undefined ? "a" : `job ${jobId} of`} kind ${kind.plugin}/${kind.name} does not match its schema: ${
      ParseResult.TreeFormatter.formatErrorSync(cause)
    }`,
    cause
  })

export const describeError = (error: unknown): string => {
  if (typeof error === "string") return error
  if (error instanceof Error) return error.message || error.name
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}

export const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    return Either.left(`not JSON: ${describeError(error)}`)
  }
}

const undefinedIfNull = <A>(value: A | null): A | undefined => (value === null ? undefined : value)

export const fromRow = <P, R, S extends string>(row: Sql.JobRow, payload: P, result: R | undefined): Job<P, R, S> => ({
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
export const fromRowUntyped = (row: Sql.JobRow): Job => {
  const json = (text: string) => Either.getOrElse(parseJson(text), () => text)
  return fromRow(row, json(row.payload), row.result === null ? undefined : json(row.result))
}

/** Decodes a row with its kind's schemas, or says why it cannot be. */
export const decodeRow = <P, R, S extends string>(kind: JobKind<P, R, S>, row: Sql.JobRow): Either.Either<Job<P, R, S>, string> => {
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
export const lostLease = (
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

export const notLeased = (job: Pick<Job, "id">): LeaseLost =>
  new LeaseLost({ jobId: job.id, token: undefined, message: `job ${job.id} is not leased` })

export const fromHistoryRow = (row: Sql.HistoryRow): JobHistoryEntry => ({
  id: row.id,
  jobId: row.job_id,
  at: row.at,
  from: undefinedIfNull(row.from_state),
  to: row.to_state,
  reason: row.reason,
  owner: undefinedIfNull(row.owner),
  token: undefinedIfNull(row.token)
})
