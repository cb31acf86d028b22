/**
 * The bundled speed test, both halves. The server half is three routes in the
 * scheduler's HTTP API (`ping`, `download`, `upload`), so any orch running the plugin is
 * a speed test server. The client half is a small Node script embedded here as text and
 * run with `node --input-type=module -e`: orch ships as one esbuild bundle, and a script
 * passed on the command line needs no file the unprivileged test user must be able to read.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Option, Stream } from "effect"
import type { Descriptor } from "./Descriptor.js"

/** Largest download one request may ask for. */
export const maxDownloadBytes = 1_000_000_000
/** Upload chunk size: under the HTTP server's default body limit of 1 MiB. */
export const uploadChunkBytes = 512 * 1024

const block = new Uint8Array(64 * 1024)

/** `GET …/speedtest/download?bytes=N`: N bytes of zeros. */
export const download = (request: HttpServerRequest.HttpServerRequest) => {
  const url = new URL(request.url, "http://localhost")
  const bytes = Number(url.searchParams.get("bytes") ?? "1000000")
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > maxDownloadBytes) {
    return Effect.succeed(
      HttpServerResponse.unsafeJson({ error: `bytes must be an integer from 0 to ${maxDownloadBytes}` }, { status: 400 })
    )
  }
  const chunks = Math.ceil(bytes / block.length)
  const body = Stream.range(0, chunks - 1).pipe(
    Stream.map((i) => (i === chunks - 1 && bytes % block.length !== 0 ? block.subarray(0, bytes % block.length) : block)),
    Stream.take(chunks)
  )
  return Effect.succeed(
    HttpServerResponse.stream(bytes === 0 ? Stream.empty : body, {
      contentType: "application/octet-stream",
      headers: { "content-length": String(bytes), "cache-control": "no-store" }
    })
  )
}

/** `POST …/speedtest/upload`: counts the bytes received. */
export const upload = (request: HttpServerRequest.HttpServerRequest) =>
  request.stream.pipe(
    Stream.runFold(0, (total, chunk) => total + chunk.length),
    Effect.map((received) => HttpServerResponse.unsafeJson({ received })),
    Effect.catchAll((error) => Effect.succeed(HttpServerResponse.unsafeJson({ error: String(error) }, { status: 400 })))
  )

/** The header in which `ping` tells a client the address it is seen from (Neubot's `real_address`). */
export const clientAddressHeader = "x-orch-client-address"

/** An IPv4 address as Node shows it on a dual-stack socket (`::ffff:1.2.3.4`), plainly. */
export const plainAddress = (address: string) => address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1")

/** `GET …/speedtest/ping`: the smallest answer, for latency, with the client's address as seen here. */
export const ping = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.succeed(HttpServerResponse.text("pong", {
    headers: {
      "cache-control": "no-store",
      [clientAddressHeader]: plainAddress(Option.getOrElse(request.remoteAddress, () => ""))
    }
  }))

/**
 * The client: `node -e CLIENT <base url> <bytes>`. Prints one JSON object with Neubot's
 * speedtest fields (speeds in bytes/s, times in s, the three addresses) and the server's
 * `url`; progress goes to stderr.
 */
export const clientSource = String.raw`
import * as http from "node:http"
import * as https from "node:https"
const [base, bytesArg] = process.argv.slice(1)
const bytes = Number(bytesArg)
const chunk = ${uploadChunkBytes}
const now = () => performance.now()
const log = (line) => process.stderr.write(line + "\n")
const fail = (message) => { log("ERROR " + message); process.exit(2) }
if (!/^https?:\/\//.test(base ?? "")) fail("usage: speedtest <http(s) base url> <bytes>")
const url = (path) => base.replace(/\/+$/, "") + path
const check = async (response, what) => {
  if (!response.ok) fail(what + ": HTTP " + response.status + " " + response.statusText)
  return response
}
const plain = (address) => String(address ?? "").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1")
// the first ping on a connection of its own: the connect time, and Neubot's three addresses
// (this end's, the server's, and this end's as the server sees it)
const firstPing = () => new Promise((resolve, reject) => {
  const start = now()
  const request = (base.startsWith("https:") ? https : http).get(url("/ping"), { agent: false, headers: { "cache-control": "no-store" } }, (response) => {
    const socket = response.socket
    const addresses = { internal: plain(socket.localAddress), remote: plain(socket.remoteAddress), real: plain(response.headers["${clientAddressHeader}"]) }
    if (response.statusCode !== 200) fail("ping: HTTP " + response.statusCode + " " + response.statusMessage)
    response.resume()
    response.on("end", () => resolve({ seconds: (now() - start) / 1000, ...addresses }))
  })
  request.on("error", reject)
})
try {
  const first = await firstPing()
  const connectTime = first.seconds
  const rtts = []
  for (let i = 0; i < 5; i++) {
    const start = now()
    await check(await fetch(url("/ping"), { cache: "no-store" }), "ping").then((r) => r.text())
    rtts.push((now() - start) / 1000)
  }
  rtts.sort((a, b) => a - b)
  const latency = rtts[Math.floor(rtts.length / 2)]
  log("INFO latency " + (latency * 1000).toFixed(2) + " ms")

  const downloadStart = now()
  const response = await check(await fetch(url("/download?bytes=" + bytes), { cache: "no-store" }), "download")
  let received = 0
  for await (const part of response.body) received += part.length
  const downloadSeconds = (now() - downloadStart) / 1000
  if (received !== bytes) fail("download: received " + received + " of " + bytes + " bytes")
  const downloadSpeed = received / downloadSeconds
  log("INFO download " + (downloadSpeed * 8 / 1e6).toFixed(2) + " Mbit/s")

  const payload = new Uint8Array(chunk)
  let sent = 0
  const uploadStart = now()
  while (sent < bytes) {
    const size = Math.min(chunk, bytes - sent)
    const answer = await check(await fetch(url("/upload"), { method: "POST", body: payload.subarray(0, size), headers: { "content-type": "application/octet-stream" } }), "upload")
    const { received: counted } = await answer.json()
    if (counted !== size) fail("upload: the server counted " + counted + " of " + size + " bytes")
    sent += size
  }
  const uploadSeconds = (now() - uploadStart) / 1000
  const uploadSpeed = sent / uploadSeconds
  log("INFO upload " + (uploadSpeed * 8 / 1e6).toFixed(2) + " Mbit/s")
  process.stdout.write(JSON.stringify({
    internal_address: first.internal,
    real_address: first.real || first.internal,
    remote_address: first.remote,
    url: base,
    connect_time: connectTime,
    latency,
    download_speed: downloadSpeed,
    upload_speed: uploadSpeed,
    bytes
  }) + "\n")
} catch (error) {
  fail(String(error && error.cause ? error.message + " (" + error.cause.message + ")" : error))
}
`

/** The bundled descriptor, pointed at `url` (…/scheduler/speedtest of some orch). */
export const descriptor = (options: { readonly url: string; readonly bytes: number; readonly firstDelayMs: number }): Descriptor => ({
  name: "speedtest",
  file: undefined,
  description: "Latency, download and upload speed against an orch speed test endpoint (bundled)",
  parameters: {
    url: { default: options.url, regexp: "^https?://[^\\s]+$", label: "Base URL of the speed test server (…/scheduler/speedtest)" },
    bytes: { default: String(options.bytes), regexp: "^[1-9][0-9]{0,8}$", label: "Bytes to download and to upload" }
  },
  command: ["$node", "--input-type=module", "-e", clientSource, "$url", "$bytes"],
  // Neubot's runner runs in `/`: readable by any user, unlike a root-owned data dir
  directory: "/",
  maxRuntimeMs: 120_000,
  schedule: { kind: "neubot", firstDelayMs: options.firstDelayMs }
})
