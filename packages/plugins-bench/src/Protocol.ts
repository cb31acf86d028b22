/**
 * The worker protocol's messages, in tablejohn's names and JSON shapes (its `shared.rs`), so
 * a tablejohn worker can talk to orch and orch's worker to tablejohn. Times are RFC 3339
 * strings (tablejohn's `Timestamp`); output lines are `[source, text]` pairs with source 0
 * internal, 1 stdout, 2 stderr. Measurements take tablejohn's `{ value, unit? }` and orch's
 * superset (`Measurement.ts`: bounds, direction, samples).
 */
import { Schema } from "effect"
import { Measurement } from "./Measurement.js"

/** tablejohn's Timestamp: an RFC 3339 date-time string. */
export const Timestamp = Schema.String.pipe(
  Schema.filter((text) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text) && !Number.isNaN(Date.parse(text)), {
    message: () => "must be an RFC 3339 time such as 2024-05-13T13:22:00Z"
  })
)

/** Epoch ms as tablejohn's Timestamp writes it. */
export const timestamp = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z")
export const millisOf = (stamp: string): number => Date.parse(stamp)

export const Source = Schema.Literal(0, 1, 2)
export const OutputLine = Schema.Tuple(Source, Schema.String)

const Hash = Schema.String.pipe(Schema.pattern(/^[0-9a-f]{40}$/, { message: () => "must be a full 40-character commit hash" }))
const RunId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))

export const BenchMethod = Schema.Union(
  Schema.Struct({ type: Schema.Literal("internal") }),
  Schema.Struct({ type: Schema.Literal("repo"), hash: Hash })
)
export type BenchMethod = typeof BenchMethod.Type

/** tablejohn's Display of a BenchMethod, what UnfinishedRun and FinishedRun carry. */
export const describeBenchMethod = (method: BenchMethod): string =>
  method.type === "internal" ? "internal" : `bench repo, hash ${method.hash}`

export const Run = Schema.Struct({ id: Schema.String, hash: Schema.String, bench_method: BenchMethod, start: Timestamp })
export type Run = typeof Run.Type

export const UnfinishedRun = Schema.Struct({
  id: RunId,
  hash: Hash,
  bench_method: Schema.String,
  start: Timestamp,
  last_output: Schema.optionalWith(Schema.Array(OutputLine), { default: () => [] })
})
export type UnfinishedRun = typeof UnfinishedRun.Type

export const FinishedRun = Schema.Struct({
  id: RunId,
  hash: Hash,
  bench_method: Schema.String,
  start: Timestamp,
  /** Overrides the server's end time (for runs imported from elsewhere). */
  end: Schema.optional(Schema.NullOr(Timestamp)),
  exit_code: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  output: Schema.optionalWith(Schema.Array(OutputLine), { default: () => [] }),
  measurements: Schema.optionalWith(Schema.Record({ key: Schema.String.pipe(Schema.minLength(1)), value: Measurement }), { default: () => ({}) })
})
export type FinishedRun = typeof FinishedRun.Type

export const WorkerStatus = Schema.Union(
  Schema.Struct({ type: Schema.Literal("idle") }),
  Schema.Struct({ type: Schema.Literal("busy") }),
  Schema.extend(Schema.Struct({ type: Schema.Literal("working") }), UnfinishedRun)
)
export type WorkerStatus = typeof WorkerStatus.Type

export const WorkerRequest = Schema.Struct({
  /** Free-form; orch reads a JSON object with cpu/cores/kernel/governor/noise as the worker's fingerprint. */
  info: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(100_000)))),
  secret: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  status: WorkerStatus,
  request_run: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  submit_run: Schema.optional(Schema.NullOr(FinishedRun))
})
export type WorkerRequest = typeof WorkerRequest.Type

/** The answer to a status; `run` and `abort_run` are left out when empty, as tablejohn does. */
export interface ServerResponse {
  readonly run?: Run
  readonly abort_run?: true
}

/** A worker's name as tablejohn accepts it: ASCII letters, digits, `-`, `_`, `.`. */
export const isWorkerName = (name: string): boolean => /^[A-Za-z0-9._-]{1,100}$/.test(name)

/** The fingerprint keys orch's worker reports in `info`. */
export const fingerprintKeys = ["cpu", "cores", "kernel", "governor", "noise"] as const

/** `info` as a fingerprint (its JSON, normalized) when it is a JSON object with the fingerprint's keys. */
export const fingerprintOf = (info: string | null | undefined): string | undefined => {
  if (info === null || info === undefined || !info.trimStart().startsWith("{")) return undefined
  try {
    const value = JSON.parse(info) as unknown
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined
    const keys = Object.keys(value)
    return fingerprintKeys.some((key) => keys.includes(key)) ? JSON.stringify(value) : undefined
  } catch {
    return undefined
  }
}
