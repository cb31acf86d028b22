import { describe, expect, it } from "@effect/vitest"
import { Either, Redacted } from "effect"
import type * as http from "node:http"
import * as Access from "../src/Access.js"
import * as Auth from "../src/Auth.js"

const tokens: ReadonlyArray<Auth.Token> = [
  { name: "ci", token: Redacted.make("ci-secret-token-0001"), role: "operate" },
  { name: "ops", token: Redacted.make("ops-secret-token-001"), role: "admin" },
  { name: "viewer", token: Redacted.make("viewer-secret-token1"), role: "read" }
]

const incoming = (method: string, url: string, headers: Record<string, string> = {}) =>
  ({ method, url, headers: { host: "127.0.0.1:7600", ...headers } }) as unknown as http.IncomingMessage

const status = (decided: Either.Either<Auth.Caller, { readonly status: number }>) => Either.isLeft(decided) ? decided.left.status : 200

describe("Auth", () => {
  it("sameSecret: equal strings only, whatever their lengths", () => {
    expect(Auth.sameSecret("worker-token-0001", "worker-token-0001")).toBe(true)
    expect(Auth.sameSecret("worker-token-0002", "worker-token-0001")).toBe(false)
    expect(Auth.sameSecret("short", "worker-token-0001")).toBe(false)
    expect(Auth.sameSecret("", "")).toBe(true)
  })

  it("a public rule lets a request in without a bearer token (a plugin's own auth, such as bench's workers)", () => {
    const decide = Access.gate({ tokens, host: "127.0.0.1", allowedHosts: [], rules: [{ route: "/bench/api/worker/*", role: "public" }] })
    expect(status(decide(incoming("POST", "/bench/api/worker/status", { authorization: "Basic d29ya2VyOnRva2Vu", "content-type": "application/json", "content-length": "2" })))).toBe(200)
    expect(status(decide(incoming("GET", "/bench/api/queue", { authorization: "Basic d29ya2VyOnRva2Vu" })))).toBe(401)
  })

  it("knows each token's caller, refuses unknown or missing ones, and lets anyone in without tokens", () => {
    const authenticate = Auth.authenticator(tokens)
    expect(authenticate("Bearer ci-secret-token-0001")).toEqual(Either.right({ name: "ci", role: "operate" }))
    expect(authenticate("bearer ops-secret-token-001")).toEqual(Either.right({ name: "ops", role: "admin" }))
    for (const wrong of ["Bearer ci-secret-token-000", "Bearer ci-secret-token-00011", "ci-secret-token-0001", undefined]) {
      expect(Either.isLeft(authenticate(wrong))).toBe(true)
    }
    expect(Auth.authenticator([])(undefined)).toEqual(Either.right(Auth.anonymous))
  })

  it("nests the roles: admin ⊇ operate ⊇ read", () => {
    expect([Auth.allows("admin", "operate"), Auth.allows("operate", "read"), Auth.allows("read", "operate"), Auth.allows("operate", "admin")])
      .toEqual([true, true, false, false])
  })
})

describe("Access.gate", () => {
  const gate = Access.gate({
    tokens,
    host: "127.0.0.1",
    allowedHosts: ["orch.example.com"],
    rules: [
      { route: "GET /healthz", role: "public" },
      ...Access.prefixRules("/p", [
        { route: "POST /things/:name/drain", role: "admin" },
        { route: "/run", role: "operate" },
        { route: "POST /form", accepts: ["application/x-www-form-urlencoded"] }
      ])
    ]
  })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  it("asks for the role a route needs: read for GET, operate for other methods, more where a rule says", () => {
    expect(status(gate(incoming("GET", "/p/things")))).toBe(401)
    expect(status(gate(incoming("GET", "/healthz")))).toBe(200)
    expect(status(gate(incoming("GET", "/p/things", bearer("viewer-secret-token1"))))).toBe(200)
    expect(status(gate(incoming("HEAD", "/p/things", bearer("viewer-secret-token1"))))).toBe(200)
    expect(status(gate(incoming("POST", "/p/things", bearer("viewer-secret-token1"))))).toBe(403)
    expect(status(gate(incoming("POST", "/p/things", bearer("ci-secret-token-0001"))))).toBe(200)
    // a GET that acts, and admin routes, however the path is written
    expect(status(gate(incoming("GET", "/p/run?x=1", bearer("viewer-secret-token1"))))).toBe(403)
    for (const path of ["/p/things/a/drain", "/p/things/a/drain/", "/p/things/a/dr%61in"]) {
      expect(status(gate(incoming("POST", path, bearer("ci-secret-token-0001"))))).toBe(403)
      expect(status(gate(incoming("POST", path, bearer("ops-secret-token-001"))))).toBe(200)
    }
    // a target that is not a path matches no rule: refused rather than given the default
    expect(status(gate(incoming("POST", "http://127.0.0.1:7600/p/things/a/drain", bearer("ci-secret-token-0001"))))).toBe(400)
    const refused = gate(incoming("POST", "/p/things/a/drain", bearer("ci-secret-token-0001")))
    expect(Either.isLeft(refused) && refused.left.body).toMatchObject({ needed: "admin", role: "operate" })
  })

  it("refuses a foreign Host, a request from another origin, and a body that is not JSON", () => {
    const ok = bearer("ops-secret-token-001")
    for (const host of ["evil.example", "evil.example:7600", "10.0.0.1:7600", "not a host"]) {
      expect(status(gate(incoming("GET", "/p/x", { ...ok, host })))).toBe(421)
    }
    for (const host of ["localhost:7600", "[::1]:7600", "127.0.0.1", "orch.example.com"]) {
      expect(status(gate(incoming("GET", "/p/x", { ...ok, host })))).toBe(200)
    }
    expect(status(gate(incoming("POST", "/p/x", { ...ok, origin: "http://evil.example" })))).toBe(403)
    expect(status(gate(incoming("POST", "/p/x", { ...ok, origin: "null" })))).toBe(403)
    expect(status(gate(incoming("POST", "/p/x", { ...ok, origin: "http://127.0.0.1:7601" })))).toBe(403)
    expect(status(gate(incoming("POST", "/p/x", { ...ok, origin: "http://127.0.0.1:7600" })))).toBe(200)
    expect(status(gate(incoming("POST", "/p/x", { ...ok, origin: "https://orch.example.com" })))).toBe(200)
    expect(status(gate(incoming("GET", "/p/x", { ...ok, "sec-fetch-site": "cross-site" })))).toBe(403)
    expect(status(gate(incoming("GET", "/p/x", { ...ok, "sec-fetch-site": "same-site" })))).toBe(403)
    expect(status(gate(incoming("GET", "/p/x", { ...ok, "sec-fetch-site": "same-origin" })))).toBe(200)
    expect(status(gate(incoming("GET", "/p/x", { ...ok, "sec-fetch-site": "none" })))).toBe(200)
    const body = (type: string) => ({ ...ok, "content-length": "2", "content-type": type })
    expect(status(gate(incoming("POST", "/p/x", body("text/plain"))))).toBe(415)
    expect(status(gate(incoming("POST", "/p/x", body("application/x-www-form-urlencoded"))))).toBe(415)
    expect(status(gate(incoming("POST", "/p/x", body("application/json; charset=utf-8"))))).toBe(200)
    expect(status(gate(incoming("POST", "/p/form", body("application/x-www-form-urlencoded"))))).toBe(200)
  })

  it("serves any IP literal when bound to every interface, and everyone when no tokens are configured", () => {
    const open = Access.gate({ tokens: [], host: "0.0.0.0", allowedHosts: [], rules: [] })
    expect(open(incoming("POST", "/x", { host: "192.168.1.9:7600" }))).toEqual(Either.right(Auth.anonymous))
    expect(status(open(incoming("POST", "/x", { host: "[fe80::1]:7600" })))).toBe(200)
    expect(status(open(incoming("POST", "/x", { host: "rebound.evil.example:7600" })))).toBe(421)
    expect(status(open(incoming("POST", "/x", { host: "192.168.1.9:7600", origin: "http://evil.example" })))).toBe(403)
  })
})
