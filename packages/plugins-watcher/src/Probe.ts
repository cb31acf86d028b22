/**
 * The checks themselves: an HTTP(S) request timed phase by phase (as blackbox_exporter's
 * `probe_http_duration_seconds{phase}`: resolve, connect, tls, processing, transfer), a TCP
 * connect, and a TLS handshake that reads the peer certificate's expiry. Each opens its
 * own connection (no keep-alive), so every check measures the same thing.
 */
import { Effect } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import { performance } from "node:perf_hooks"
import * as tls from "node:tls"
import type { Target } from "./Endpoint.js"

/** Milliseconds each phase took; absent when the phase did not happen (no DNS for an IP, no TLS over http). */
export interface Phases {
  readonly resolve?: number | undefined
  readonly connect?: number | undefined
  readonly tls?: number | undefined
  /** From the request being sent to the first byte of the response. */
  readonly processing?: number | undefined
  readonly transfer?: number | undefined
}

export interface ProbeResult {
  /** A connection (and, for TLS, a handshake) was made. */
  readonly connected: boolean
  readonly status?: number | undefined
  /** The response body, up to `maxBodyBytes`. */
  readonly body?: string | undefined
  /** Why the check could not complete (a timeout, a refused connection, a bad certificate). */
  readonly error?: string | undefined
  readonly phases: Phases
  readonly totalMs: number
  /** Epoch ms of the peer certificate's notAfter (https and tls). */
  readonly certificateExpiresAt?: number | undefined
  readonly ip?: string | undefined
}

export interface ProbeOptions {
  readonly timeoutMs: number
  /** Accept any certificate (Gatus' `client.insecure`); its expiry is still read. */
  readonly insecure?: boolean | undefined
  readonly maxBodyBytes?: number | undefined
}

const defaultMaxBodyBytes = 1 << 20

const round = (ms: number | undefined) => ms === undefined ? undefined : Math.round(ms * 1000) / 1000

const certificateExpiry = (socket: tls.TLSSocket): number | undefined => {
  const certificate = socket.getPeerCertificate()
  if (!certificate || !certificate.valid_to) return undefined
  const at = Date.parse(certificate.valid_to)
  return Number.isNaN(at) ? undefined : at
}

const describeError = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? error)
}

/** Marks the moments of a connection's phases as its socket reports them. */
const watchSocket = (socket: net.Socket, marks: Record<string, number>) => {
  socket.once("lookup", () => marks.lookup = performance.now())
  socket.once("connect", () => marks.connect = performance.now())
  socket.once("secureConnect", () => marks.secure = performance.now())
}

const phasesOf = (start: number, marks: Record<string, number>): Phases => {
  const resolved = marks.lookup ?? start
  const connected = marks.connect
  const secured = marks.secure
  const sent = secured ?? connected
  return {
    resolve: marks.lookup === undefined ? undefined : round(marks.lookup - start),
    connect: connected === undefined ? undefined : round(connected - resolved),
    tls: secured === undefined || connected === undefined ? undefined : round(secured - connected),
    processing: marks.response === undefined || sent === undefined ? undefined : round(marks.response - sent),
    transfer: marks.end === undefined || marks.response === undefined ? undefined : round(marks.end - marks.response)
  }
}

const httpProbe = (target: Extract<Target, { _tag: "Http" }>, options: ProbeOptions) =>
  Effect.async<ProbeResult>((resume) => {
    const start = performance.now()
    const marks: Record<string, number> = {}
    const maxBody = options.maxBodyBytes ?? defaultMaxBodyBytes
    let done = false
    let certificateExpiresAt: number | undefined
    let ip: string | undefined
    const finish = (result: Omit<ProbeResult, "phases" | "totalMs" | "certificateExpiresAt" | "ip">) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.succeed({
        ...result,
        phases: phasesOf(start, marks),
        totalMs: round(performance.now() - start)!,
        certificateExpiresAt,
        ip
      }))
    }
    const url = new URL(target.url)
    const client = url.protocol === "https:" ? https : http
    const request = client.request(url, {
      method: target.method,
      headers: { "user-agent": "orch-watcher", ...target.headers },
      agent: false,
      rejectUnauthorized: !options.insecure
    })
    const timer = setTimeout(() => {
      request.destroy(new Error(`timed out after ${options.timeoutMs} ms`))
    }, options.timeoutMs)
    request.once("socket", (socket) => {
      watchSocket(socket, marks)
      socket.once("connect", () => ip = socket.remoteAddress)
      socket.once("secureConnect", () => certificateExpiresAt = certificateExpiry(socket as tls.TLSSocket))
    })
    request.once("error", (error) => finish({ connected: marks.connect !== undefined && (url.protocol !== "https:" || marks.secure !== undefined), error: describeError(error) }))
    request.once("response", (response) => {
      marks.response = performance.now()
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        if (size < maxBody) chunks.push(chunk.subarray(0, maxBody - size))
        size += chunk.length
      })
      response.once("error", (error) => finish({ connected: true, status: response.statusCode, error: describeError(error) }))
      response.once("end", () => {
        marks.end = performance.now()
        finish({ connected: true, status: response.statusCode, body: Buffer.concat(chunks).toString("utf8") })
      })
    })
    request.end(target.body)
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      request.destroy()
    })
  })

const socketProbe = (target: Extract<Target, { _tag: "Tcp" | "Tls" }>, options: ProbeOptions) =>
  Effect.async<ProbeResult>((resume) => {
    const start = performance.now()
    const marks: Record<string, number> = {}
    let done = false
    const socket: net.Socket = target._tag === "Tls"
      ? tls.connect({ host: target.host, port: target.port, servername: net.isIP(target.host) ? undefined : target.host, rejectUnauthorized: !options.insecure })
      : net.connect({ host: target.host, port: target.port })
    const finish = (connected: boolean, error?: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      const certificateExpiresAt = connected && target._tag === "Tls" ? certificateExpiry(socket as tls.TLSSocket) : undefined
      const ip = socket.remoteAddress
      socket.destroy()
      resume(Effect.succeed({ connected, error, phases: phasesOf(start, marks), totalMs: round(performance.now() - start)!, certificateExpiresAt, ip }))
    }
    watchSocket(socket, marks)
    const timer = setTimeout(() => finish(false, `timed out after ${options.timeoutMs} ms`), options.timeoutMs)
    socket.once(target._tag === "Tls" ? "secureConnect" : "connect", () => finish(true))
    socket.once("error", (error) => finish(false, describeError(error)))
    return Effect.sync(() => {
      done = true
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** Runs one check of `target`; never fails: what went wrong is in the result. */
export const probe = (target: Target, options: ProbeOptions): Effect.Effect<ProbeResult> =>
  target._tag === "Http" ? httpProbe(target, options) : socketProbe(target, options)
