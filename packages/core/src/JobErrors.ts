/**
 * The job queue's errors: what a caller of `JobQueue` may be told.
 */
import { Data } from "effect"

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
