/**
 * The durable job queue: the public face of `JobKind` (a kind's schemas, state machine
 * and retry policy), `JobQueue` (the service) and their errors.
 *
 * ```ts
 * import { JobQueue, JobKind, type Job } from "@orch/core/Jobs"
 * ```
 */
export * from "./JobErrors.js"
export * from "./JobKind.js"
export * from "./JobQueue.js"
