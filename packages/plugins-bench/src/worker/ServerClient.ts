/**
 * One server as the worker sees it: its `POST api/worker/status` and its tree tarballs, with HTTP
 * Basic auth (the worker's name and the server's token) on every request, and the worker's secret
 * for this server in every status. Failures are one tagged error saying which server, what and why,
 * so that the loop can log it and try again.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, Duration, Effect, Redacted, Stream } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { decodeServerResponse, encodeRequest, type FinishedRun, type ServerResponse, type WorkerStatus } from "./Protocol.js"
import { apiBase, type ServerEntry, serverName } from "./WorkerConfig.js"

/** A request to a server that did not get a usable answer. */
export class ServerFailure extends Data.TaggedError("ServerFailure")<{
  readonly server: string
  readonly what: string
  /** The HTTP status when the server answered; absent when it could not be reached. */
  readonly status?: number | undefined
  readonly reason: string
}> {
  override get message() {
    return `${this.server}: ${this.what}: ${this.status !== undefined ? `${this.status} ` : ""}${this.reason}`
  }
}

/** A tarball that `tar` could not unpack. */
export class ExtractError extends Data.TaggedError("ExtractError")<{ readonly reason: string }> {
  override get message() {
    return `could not unpack the tree: ${this.reason}`
  }
}

/** A full SHA-1 or SHA-256 object name: the only thing put into a tarball's URL. */
export const isCommitHash = (hash: string): boolean => /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(hash)

export interface StatusReport {
  readonly info: string | null
  readonly status: WorkerStatus
  readonly requestRun?: boolean | undefined
  readonly submitRun?: FinishedRun | undefined
}

export interface ServerClient {
  readonly name: string
  readonly weight: number
  /** Where `api/worker/…` is. */
  readonly base: string
  /** This worker's secret for this server, fixed for the life of the process. */
  readonly secret: string
  readonly status: (report: StatusReport) => Effect.Effect<ServerResponse, ServerFailure>
  /** Downloads the tree of `hash` of the repository (`repo`) or of the bench repository (`bench_repo`) and unpacks it into `dir`. */
  readonly downloadTree: (kind: "repo" | "bench_repo", hash: string, dir: string) => Effect.Effect<void, ServerFailure | ExtractError>
}

const reasonOf = (error: unknown): string => {
  let current: any = error
  let reason = String(current?.message ?? current)
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (typeof current.code === "string") return current.code
    if (typeof current.message === "string" && current.message !== "") reason = current.message
    current = current.cause
  }
  return reason
}

/**
 * Unpacks a gzipped tarball into `dir` with the system's `tar` (GNU tar or bsdtar, both of which
 * refuse absolute and `..` member names by default), fed from `body` with backpressure.
 */
export const extractTarGz = <E>(body: Stream.Stream<Uint8Array, E>, dir: string): Effect.Effect<void, E | ExtractError> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      fs.mkdirSync(dir, { recursive: true })
      const child = spawn("tar", ["-xzf", "-", "-C", dir, "--no-same-owner"], { stdio: ["pipe", "ignore", "pipe"] })
      let stderr = ""
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2000)))
      const closed = new Promise<string | undefined>((done) => {
        child.once("error", (error) => done(`tar: ${error.message}`))
        child.once("close", (code, signal) =>
          done(code === 0 ? undefined : `tar exited with ${code ?? signal}: ${stderr.trim() || "no message"}`))
      })
      // a write after tar died is reported by `closed`, not thrown
      child.stdin!.on("error", () => {})
      return { child, closed }
    }),
    ({ child, closed }) =>
      Effect.gen(function*() {
        yield* Stream.runForEach(body, (chunk) =>
          Effect.async<void>((resume) => {
            if (child.stdin!.write(chunk)) resume(Effect.void)
            else {
              const go = () => {
                child.stdin!.off("drain", go)
                child.stdin!.off("close", go)
                resume(Effect.void)
              }
              child.stdin!.once("drain", go)
              child.stdin!.once("close", go)
            }
          }))
        child.stdin!.end()
        const problem = yield* Effect.promise(() => closed)
        if (problem !== undefined) return yield* new ExtractError({ reason: problem })
      }),
    ({ child, closed }) =>
      Effect.promise(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        return closed
      })
  )

/** A client of one configured server, speaking as `workerName` with `secret`. */
export const make = (
  entry: ServerEntry,
  workerName: string,
  secret: string,
  options: { readonly requestTimeout?: Duration.DurationInput | undefined } = {}
): Effect.Effect<ServerClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const name = serverName(entry)
    const base = apiBase(entry.url, entry.apiPath)
    const requestTimeout = options.requestTimeout ?? Duration.seconds(30)
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(HttpClientRequest.basicAuth(workerName, Redacted.value(entry.token)))
    )

    const failure = (what: string) => (error: unknown) =>
      new ServerFailure({ server: name, what, reason: reasonOf(error) })

    const status = (report: StatusReport) =>
      Effect.gen(function*() {
        const what = report.submitRun !== undefined ? `submitting run ${report.submitRun.id}` : report.requestRun ? "asking for a run" : "reporting status"
        const request = HttpClientRequest.post(`${base}/api/worker/status`).pipe(
          HttpClientRequest.acceptJson,
          HttpClientRequest.bodyUnsafeJson(encodeRequest({
            info: report.info,
            secret,
            status: report.status,
            request_run: report.requestRun,
            submit_run: report.submitRun
          }))
        )
        const response = yield* client.execute(request).pipe(Effect.mapError(failure(what)))
        const text = yield* response.text.pipe(Effect.mapError(failure(what)))
        if (response.status < 200 || response.status >= 300) {
          return yield* new ServerFailure({ server: name, what, status: response.status, reason: text.trim().slice(0, 300) || "no message" })
        }
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          return yield* new ServerFailure({ server: name, what, status: response.status, reason: "the answer is not JSON" })
        }
        const decoded = decodeServerResponse(body)
        if (decoded._tag === "Left") {
          return yield* new ServerFailure({ server: name, what, status: response.status, reason: `unexpected answer: ${decoded.left.message}` })
        }
        return decoded.right
      }).pipe(
        Effect.scoped,
        Effect.timeoutFail({
          duration: requestTimeout,
          onTimeout: () => new ServerFailure({ server: name, what: "status", reason: `no answer within ${Duration.format(requestTimeout)}` })
        })
      )

    const downloadTree = (kind: "repo" | "bench_repo", hash: string, dir: string) =>
      Effect.gen(function*() {
        const what = `downloading the ${kind === "repo" ? "" : "bench "}repository's tree of ${hash}`
        if (!isCommitHash(hash)) return yield* new ServerFailure({ server: name, what, reason: "not a full commit hash" })
        const response = yield* client.execute(HttpClientRequest.get(`${base}/api/worker/${kind}/${hash}/tree.tar.gz`)).pipe(
          Effect.mapError(failure(what))
        )
        if (response.status !== 200) {
          const text = yield* Effect.orElseSucceed(response.text, () => "")
          return yield* new ServerFailure({ server: name, what, status: response.status, reason: text.trim().slice(0, 300) || "no message" })
        }
        yield* extractTarGz(Stream.mapError(response.stream, failure(what)), dir)
      }).pipe(Effect.scoped)

    return { name, weight: entry.weight, base, secret, status, downloadTree } satisfies ServerClient
  })
