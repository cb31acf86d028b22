/**
 * The cost of core's gate (`Access.gate`: Host, origin, bearer token and role, content
 * type) per request, against the request's own work: a keepalive of a hot route costs
 * tens of µs, so the gate should cost a few.
 *
 *   node --import tsx packages/core/bench/gate.ts [--requests 200000] [--tokens 3]
 */
import { Redacted } from "effect"
import type * as http from "node:http"
import { performance } from "node:perf_hooks"
import * as Access from "../src/Access.js"

const flag = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? fallback : Number(process.argv[at + 1])
}
const requests = flag("requests", 200_000)
const tokenCount = flag("tokens", 3)

const tokens = Array.from({ length: tokenCount }, (_, i) => ({
  name: `holder-${i}`,
  token: Redacted.make(`bench-token-${String(i).padStart(8, "0")}`),
  role: "operate" as const
}))
const rules = Access.prefixRules("/allocator", [
  { route: "POST /devices/:name/drain", role: "admin" },
  { route: "POST /devices/:name/undrain", role: "admin" }
])
const keepalive = (token: string | undefined) => ({
  method: "POST",
  url: "/allocator/leases/0b7c2a6e-3f1d-4b8e-9a57-2f7e1c9d4a10/keepalive",
  headers: {
    host: "127.0.0.1:7600",
    "content-type": "application/json",
    "content-length": "2",
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` })
  }
}) as unknown as http.IncomingMessage

const measure = (label: string, gate: Access.Gate, request: http.IncomingMessage) => {
  for (let i = 0; i < 10_000; i++) gate(request) // warm up
  const started = performance.now()
  for (let i = 0; i < requests; i++) gate(request)
  const micros = ((performance.now() - started) * 1000) / requests
  console.log(`${label.padEnd(44)} ${micros.toFixed(2)} µs a request`)
}

const open = Access.gate({ tokens: [], host: "127.0.0.1", allowedHosts: [], rules })
const closed = Access.gate({ tokens, host: "127.0.0.1", allowedHosts: [], rules })
console.log(`core's gate, ${requests} keepalive requests (${tokenCount} tokens configured)`)
measure("no tokens configured", open, keepalive(undefined))
measure(`a known bearer token (of ${tokenCount})`, closed, keepalive(Redacted.value(tokens[tokenCount - 1]!.token)))
measure("no token (401)", closed, keepalive(undefined))
