import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as Conditions from "../src/Conditions.js"
import * as EndpointFiles from "../src/EndpointFiles.js"
import { probe } from "../src/Probe.js"
import { judge } from "../src/Verdict.js"
import { selfSignedCertificate } from "./support.js"

const defaults = { timeoutMs: 2_000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }

const listen = <S extends net.Server>(server: S) =>
  Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
    }),
    () => Effect.async<void>((resume) => {
      ;(server as unknown as http.Server).closeAllConnections?.()
      server.close(() => resume(Effect.void))
    })
  )

const endpointFrom = (yaml: string) => {
  const load = EndpointFiles.loadText(yaml, "t.yml", defaults)
  expect(load.problems.map(String)).toEqual([])
  return load.endpoints[0]!
}

const statusServer = () =>
  http.createServer((request, response) => {
    if (request.url === "/health") {
      response.setHeader("content-type", "application/json")
      response.end(JSON.stringify({ status: "ok", app: "mixsig", version: "1.2.3", items: [1, 2, 3] }))
    } else if (request.url === "/slow") setTimeout(() => response.end("late"), 5_000).unref()
    else if (request.url === "/echo") {
      let body = ""
      request.on("data", (chunk) => body += chunk)
      request.on("end", () => response.end(JSON.stringify({ method: request.method, header: request.headers["x-probe"], body })))
    } else {
      response.statusCode = 503
      response.end(JSON.stringify({ status: "down" }))
    }
  })

describe("conditions", () => {
  it("parse Gatus' forms, and say what is wrong with a bad one", () => {
    for (const text of ["[STATUS] == 200", "[BODY].status == ok", "[RESPONSE_TIME] < 500", "len([BODY].items) == 3", "[STATUS] == any(200, 204)", "[BODY] == pat(*ok*)", "has([BODY].error) == false", "[CERTIFICATE_EXPIRATION] > 48h", "[CONNECTED] == true"]) {
      expect(Either.isRight(Conditions.parse(text)), text).toBe(true)
    }
    expect(Conditions.parse("[STATUS] < any(1)")).toEqual(Either.left(`condition "[STATUS] < any(1)": any() goes with == or !=`))
    expect(Conditions.parse("[CERTIFICATE_EXPIRATION] > soon")).toEqual(
      Either.left(`condition "[CERTIFICATE_EXPIRATION] > soon": [CERTIFICATE_EXPIRATION] is compared with a duration such as 48h or 30d, not "soon"`)
    )
  })

  it("evaluate against what was seen, failures shown with the value", () => {
    const parsed = ["[STATUS] == 200", "[BODY].status == ok", "len([BODY].items) >= 2", "[STATUS] == any(200, 204)", "[BODY].status == pat(o*)", "has([BODY].error) == false"]
      .map((text) => Either.getOrThrow(Conditions.parse(text)))
    const body = JSON.stringify({ status: "ok", items: [1, 2] })
    expect(Conditions.evaluate(parsed, { connected: true, status: 200, body })).toEqual([])
    expect(Conditions.evaluate(parsed, { connected: true, status: 500, body: JSON.stringify({ status: "down", items: [], error: "x" }) })).toEqual([
      "[STATUS] (500) == 200",
      "[BODY].status (down) == ok",
      "len([BODY].items) (0) >= 2",
      "[STATUS] (500) == any(200, 204)",
      "[BODY].status (down) == pat(o*)",
      "has([BODY].error) (true) == false"
    ])
  })
})

describe("probes against local targets", () => {
  it.scoped("HTTP: status, body, timing phases, extracted values, success_test and conditions", () =>
    Effect.gen(function*() {
      const port = yield* listen(statusServer())
      const endpoint = endpointFrom(`
mixsig:
  interval: 1m
  url: http://127.0.0.1:${port}/health
  response_json_values: [status, app, version, "items[1]"]
  success_test: { key: status, value: ok }
  conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 5000", "len([BODY].items) == 3", "[CONNECTED] == true"]
`)
      const result = yield* probe(endpoint.target, { timeoutMs: 2_000 })
      expect(result).toMatchObject({ connected: true, status: 200, ip: "127.0.0.1" })
      expect(result.phases.connect).toBeGreaterThanOrEqual(0)
      expect(result.phases.processing).toBeGreaterThanOrEqual(0)
      expect(result.phases.transfer).toBeGreaterThanOrEqual(0)
      expect(result.phases.resolve).toBeUndefined() // an IP: no lookup
      expect(result.phases.tls).toBeUndefined()
      expect(judge(endpoint, result, Date.now())).toEqual({
        success: true,
        reasons: [],
        values: { status: "ok", app: "mixsig", version: "1.2.3", "items[1]": 2 }
      })
      const down = endpointFrom(`down:\n  interval: 1m\n  url: http://127.0.0.1:${port}/other\n  success_test: { key: status, value: ok }\n  response_json_values: [status]\n`)
      expect(judge(down, yield* probe(down.target, { timeoutMs: 2_000 }), Date.now())).toEqual({
        success: false,
        reasons: [`success_test: status is "down", not "ok"`],
        values: { status: "down" }
      })
    }))

  it.scoped("HTTP: method, headers and body are sent; a timeout and a refused connection are failures with their reason", () =>
    Effect.gen(function*() {
      const port = yield* listen(statusServer())
      const echo = endpointFrom(`echo:\n  interval: 1m\n  url: http://127.0.0.1:${port}/echo\n  method: POST\n  headers: { x-probe: yes }\n  body: { a: 1 }\n  response_json_values: [method, header, body]\n`)
      expect(judge(echo, yield* probe(echo.target, { timeoutMs: 2_000 }), 0).values).toEqual({ method: "POST", header: "yes", body: `{"a":1}` })
      const slow = endpointFrom(`slow:\n  interval: 1m\n  url: http://127.0.0.1:${port}/slow\n`)
      const timedOut = yield* probe(slow.target, { timeoutMs: 200 })
      expect(timedOut).toMatchObject({ connected: true, error: "timed out after 200 ms" })
      const refused = endpointFrom(`gone:\n  interval: 1m\n  url: http://127.0.0.1:1/\n`)
      const result = yield* probe(refused.target, { timeoutMs: 2_000 })
      expect(result.connected).toBe(false)
      expect(result.error).toMatch(/^ECONNREFUSED/)
      expect(judge(refused, result, 0).success).toBe(false)
    }))

  it.scoped("HTTPS and TLS: the certificate's expiry read, [CERTIFICATE_EXPIRATION] judged; an untrusted certificate fails unless insecure", () =>
    Effect.gen(function*() {
      const { key, cert, notAfter } = selfSignedCertificate(10)
      const port = yield* listen(https.createServer({ key, cert }, (_, response) => response.end("{\"status\":\"ok\"}")))
      const secure = endpointFrom(`s:\n  interval: 1m\n  url: https://127.0.0.1:${port}/\n  insecure: true\n  conditions: ["[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 48h"]\n`)
      const result = yield* probe(secure.target, { timeoutMs: 2_000, insecure: true })
      expect(result.certificateExpiresAt).toBe(notAfter)
      expect(result.phases.tls).toBeGreaterThanOrEqual(0)
      expect(judge(secure, result, Date.now())).toMatchObject({ success: true })
      // 12 days before expiry, 30d is not met
      const month = endpointFrom(`s:\n  interval: 1m\n  url: https://127.0.0.1:${port}/\n  conditions: ["[CERTIFICATE_EXPIRATION] > 30d"]\n`)
      expect(judge(month, result, Date.now()).reasons).toEqual([expect.stringMatching(/^\[CERTIFICATE_EXPIRATION\] \((23\d|240)h\) > 30d$/)])
      const strict = yield* probe(secure.target, { timeoutMs: 2_000 })
      expect(strict.error).toMatch(/self[- ]signed/i)

      const tlsEndpoint = endpointFrom(`t:\n  interval: 1m\n  url: tls://127.0.0.1:${port}\n  conditions: ["[CERTIFICATE_EXPIRATION] > 7d"]\n`)
      const handshake = yield* probe(tlsEndpoint.target, { timeoutMs: 2_000, insecure: true })
      expect(handshake).toMatchObject({ connected: true, certificateExpiresAt: notAfter })
      expect(judge(tlsEndpoint, handshake, Date.now()).success).toBe(true)
    }))

  it.scoped("TCP: connect or refuse", () =>
    Effect.gen(function*() {
      const port = yield* listen(net.createServer((socket) => socket.end()))
      const open = endpointFrom(`db:\n  interval: 1m\n  url: tcp://127.0.0.1:${port}\n`)
      const result = yield* probe(open.target, { timeoutMs: 2_000 })
      expect(result.connected).toBe(true)
      expect(judge(open, result, 0).success).toBe(true)
      const shut = endpointFrom(`db:\n  interval: 1m\n  url: tcp://127.0.0.1:1\n`)
      const refused = yield* probe(shut.target, { timeoutMs: 2_000 })
      expect(judge(shut, refused, 0)).toMatchObject({ success: false, reasons: [expect.stringMatching(/^ECONNREFUSED/)] })
    }))
})
