/**
 * The worker protocol's JSON, as tablejohn's serde types (`src/shared.rs`) put it on the wire, so
 * that an orch worker can talk to a tablejohn server and back:
 *
 * - `WorkerRequest` (`POST …/worker/status`): `info` (a string or null, always present), `secret`,
 *   `status` (`{type: "idle" | "busy"}` or `{type: "working", ...UnfinishedRun}`), `request_run`
 *   only when true, `submit_run` only when there is one;
 * - `ServerResponse`: `run` only when one is handed out, `abort_run` only when true;
 * - output lines as `[source, text]` pairs with tablejohn's `Source` numbers;
 * - times as RFC 3339 strings.
 *
 * Decoding is lenient where serde is (`#[serde(default)]` fields may be missing, an `Option` may
 * be null); encoding (`encodeRequest`) writes exactly what serde writes.
 */
import { Schema } from "effect"
import { Measurement } from "../Measurement.js"

/** Where a line of output came from (tablejohn's `Source`, sent as its number). */
export const Source = { internal: 0, stdout: 1, stderr: 2 } as const
export type Source = (typeof Source)[keyof typeof Source]

export const SourceSchema = Schema.Literal(0, 1, 2)
export const OutputLine = Schema.Tuple(SourceSchema, Schema.String)
export type OutputLine = readonly [Source, string]

/** An RFC 3339 time; tablejohn parses it with `time`'s `Rfc3339`, which `toISOString` satisfies. */
export const Timestamp = Schema.String.pipe(
  Schema.filter((text) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(text) && !Number.isNaN(Date.parse(text)), {
    message: () => "must be an RFC 3339 time, e.g. 2024-05-13T13:22:00Z"
  })
)

/** How a run is benchmarked: the repository's own command, or a bench repository's script at a commit. */
export const BenchMethod = Schema.Union(
  Schema.Struct({ type: Schema.Literal("internal") }),
  Schema.Struct({ type: Schema.Literal("repo"), hash: Schema.String })
)
export type BenchMethod = typeof BenchMethod.Type

/** tablejohn's `Display` of a bench method, the string `UnfinishedRun` and `FinishedRun` carry. */
export const benchMethodText = (method: BenchMethod): string =>
  method.type === "internal" ? "internal" : `bench repo, hash ${method.hash}`

/** A run handed out by the server. */
export const Run = Schema.Struct({
  id: Schema.String,
  hash: Schema.String,
  bench_method: BenchMethod,
  start: Timestamp
})
export type Run = typeof Run.Type

export const UnfinishedRun = Schema.Struct({
  id: Schema.String,
  hash: Schema.String,
  bench_method: Schema.String,
  start: Timestamp,
  last_output: Schema.optionalWith(Schema.Array(OutputLine), { default: () => [] })
})
export type UnfinishedRun = typeof UnfinishedRun.Type

export const FinishedRun = Schema.Struct({
  id: Schema.String,
  hash: Schema.String,
  bench_method: Schema.String,
  start: Timestamp,
  /** Overrides the server's end time (imports); a worker sends null. */
  end: Schema.optionalWith(Timestamp, { nullable: true }),
  exit_code: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  output: Schema.optionalWith(Schema.Array(OutputLine), { default: () => [] }),
  /** orch's measurement is a superset of tablejohn's `{value, unit?}`: serde ignores the rest. */
  measurements: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Measurement }), { default: () => ({}) })
})
export type FinishedRun = typeof FinishedRun.Type

export const WorkerStatus = Schema.Union(
  Schema.Struct({ type: Schema.Literal("idle") }),
  Schema.Struct({ type: Schema.Literal("busy") }),
  Schema.Struct({ type: Schema.Literal("working"), ...UnfinishedRun.fields })
)
export type WorkerStatus = typeof WorkerStatus.Type

export const WorkerRequest = Schema.Struct({
  /** Free-form; an orch worker sends its `WorkerInfo` as JSON here. */
  info: Schema.NullOr(Schema.String),
  secret: Schema.String,
  status: WorkerStatus,
  request_run: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  submit_run: Schema.optionalWith(FinishedRun, { nullable: true })
})
export type WorkerRequest = typeof WorkerRequest.Type

export const ServerResponse = Schema.Struct({
  run: Schema.optionalWith(Run, { nullable: true }),
  abort_run: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type ServerResponse = typeof ServerResponse.Type

export const decodeServerResponse = Schema.decodeUnknownEither(ServerResponse)
export const decodeWorkerRequest = Schema.decodeUnknownEither(WorkerRequest)

const finishedRunJson = (run: FinishedRun) => ({
  id: run.id,
  hash: run.hash,
  bench_method: run.bench_method,
  start: run.start,
  end: run.end ?? null,
  exit_code: run.exit_code,
  output: run.output,
  measurements: run.measurements
})

/** The request as tablejohn's serde writes it (`skip_serializing_if` on `request_run` and `submit_run`). */
export const encodeRequest = (request: {
  readonly info: string | null
  readonly secret: string
  readonly status: WorkerStatus
  readonly request_run?: boolean | undefined
  readonly submit_run?: FinishedRun | undefined
}): Record<string, unknown> => ({
  info: request.info,
  secret: request.secret,
  status: request.status,
  ...(request.request_run === true ? { request_run: true } : {}),
  ...(request.submit_run !== undefined ? { submit_run: finishedRunJson(request.submit_run) } : {})
})

/** The response as tablejohn's serde writes it (for a server, and for tests). */
export const encodeResponse = (response: { readonly run?: Run | undefined; readonly abort_run?: boolean | undefined }) => ({
  ...(response.run !== undefined ? { run: response.run } : {}),
  ...(response.abort_run === true ? { abort_run: true } : {})
})
