/**
 * The worker's side of the protocol: the message schemas are the server's (`../Protocol.ts`,
 * tablejohn's `shared.rs`); here is what a worker adds: writing a request exactly as tablejohn's
 * serde does, and reading the server's answer.
 *
 * - `WorkerRequest`: `info` (a string or null, always present), `secret`, `status` (`{type:
 *   "idle" | "busy"}` or `{type: "working", ...UnfinishedRun}`), `request_run` only when true,
 *   `submit_run` only when there is one (serde's `skip_serializing_if`);
 * - `ServerResponse`: `run` only when one is handed out, `abort_run` only when true; read
 *   leniently, as serde reads it (`null` for no run, unknown keys ignored).
 */
import { Schema } from "effect"
import { type FinishedRun, Run, type WorkerStatus } from "../Protocol.js"

export {
  BenchMethod,
  describeBenchMethod as benchMethodText,
  FinishedRun,
  OutputLine,
  Run,
  UnfinishedRun,
  WorkerRequest,
  WorkerStatus
} from "../Protocol.js"

/** Where a line of output came from (tablejohn's `Source`, sent as its number). */
export const Source = { internal: 0, stdout: 1, stderr: 2 } as const
export type Source = (typeof Source)[keyof typeof Source]
export type OutputLineValue = readonly [Source, string]

export const ServerResponse = Schema.Struct({
  run: Schema.optionalWith(Run, { nullable: true }),
  abort_run: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type ServerResponse = typeof ServerResponse.Type

export const decodeServerResponse = Schema.decodeUnknownEither(ServerResponse)

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
