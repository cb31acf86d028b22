/**
 * The gate every request passes on core's servers (the main one and a plugin's own
 * listener), from Node's `request` event, before any route runs or any body is read:
 *
 * 1. `Host` must be a name the daemon serves (DNS rebinding): 421;
 * 2. a browser request from another origin (`Sec-Fetch-Site`, `Origin`) is refused: 403;
 * 3. with tokens configured, the caller's bearer token (401) and its role (403);
 * 4. a body must be `application/json` unless the route accepts another type: 415.
 *
 * What a route needs is stated by `Rule`s: a route's role defaults from its method (GET,
 * HEAD → `read`, else `operate`); a plugin lists the routes that need more (`admin`) or
 * that act on GET (`operate`), and the bodies they take that are not JSON, beside its
 * routes (`PluginHttp.access`). Rules are matched by the router's own path matcher, so a
 * rule matches the requests its route does (trailing slash, escapes).
 * Non-browser clients (curl, the CLI: no `Origin`, no `Sec-Fetch-*`) pass 2 untouched.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Either } from "effect"
import type * as http from "node:http"
import { isIP } from "node:net"
import * as Auth from "./Auth.js"
import { error, type Reply } from "./HotRoutes.js"

/**
 * What a route needs: `route` is `"POST /devices/:name/drain"` (that method) or `"/api/exit"`
 * (any method), with paths as the router takes them. `role`: the least role that may call it
 * (`public`: no token at all, for probes). `accepts`: media types its body may have besides JSON.
 */
export interface Rule {
  readonly route: string
  readonly role?: Auth.Role | "public" | undefined
  readonly accepts?: ReadonlyArray<string> | undefined
}

export interface GateOptions {
  readonly tokens: ReadonlyArray<Auth.Token>
  /** The address the server binds: its name is served; a wildcard (0.0.0.0, ::) serves any IP literal. */
  readonly host: string
  /** More names the daemon is reached by (behind a proxy): `core.http.allowedHosts`. */
  readonly allowedHosts: ReadonlyArray<string>
  readonly rules: ReadonlyArray<Rule>
}

/** Decides a request: its caller, or the answer that refuses it. */
export type Gate = (incoming: http.IncomingMessage) => Either.Either<Auth.Caller, Reply>

/** Rules whose paths are relative to `prefix` (a plugin's rules, mounted under `/<name>`). */
export const prefixRules = (prefix: string, rules: ReadonlyArray<Rule>): ReadonlyArray<Rule> =>
  rules.map((rule) => {
    const { method, path } = parseRoute(rule.route)
    const full = path === "/" ? prefix : prefix + path
    return { ...rule, route: method === undefined ? full : `${method} ${full}` }
  })

const parseRoute = (route: string): { readonly method: string | undefined; readonly path: `/${string}` } => {
  const match = /^(?:([A-Z]+)\s+)?(\/\S*)$/.exec(route.trim())
  if (match === null) throw new Error(`access rule ${JSON.stringify(route)}: expected "METHOD /path" or "/path"`)
  return { method: match[1], path: match[2] as `/${string}` }
}

/** Whether `host` is an address that listens on every interface. */
export const isWildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === "[::]" || host === ""

/** Whether `host` is a loopback address or name. */
export const isLoopback = (host: string) => {
  const name = host.replace(/^\[|\]$/g, "").toLowerCase()
  return name === "localhost" || name === "::1" || /^127\./.test(name)
}

/** The hostname of a `Host` header or a bare name, as URL normalizes it (`[::1]`, lower case); undefined if unparsable. */
const hostnameOf = (host: string): string | undefined => {
  try {
    const url = new URL(`http://${host}`)
    return url.username === "" && url.password === "" && url.pathname === "/" ? url.hostname : undefined
  } catch {
    return undefined
  }
}

const nameOf = (host: string) => hostnameOf(host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)

const mediaType = (contentType: string) => contentType.split(";")[0]!.trim().toLowerCase()

/** The gate of a server with `options`. */
export const gate = (options: GateOptions): Gate => {
  const authenticate = Auth.authenticator(options.tokens)
  const tokensOn = options.tokens.length > 0
  const anyIp = isWildcard(options.host)
  const proxied = new Set(options.allowedHosts.flatMap((name) => nameOf(name) ?? []))
  const served = new Set(["localhost", "127.0.0.1", "[::1]", ...proxied, ...(anyIp ? [] : [nameOf(options.host) ?? ""])])
  const servesHost = (hostname: string) => served.has(hostname) || (anyIp && isIP(hostname.replace(/^\[|\]$/g, "")) !== 0)
  // A daemon is asked by few names: each Host header's verdict is kept (parsing one costs
  // more than the rest of the gate), in a table that starts over when a flood of names fills it.
  const hostVerdicts = new Map<string, boolean>()
  const hostAllowed = (hostHeader: string) => {
    let verdict = hostVerdicts.get(hostHeader)
    if (verdict === undefined) {
      const hostname = hostnameOf(hostHeader)
      verdict = hostname !== undefined && servesHost(hostname)
      if (hostVerdicts.size >= 256) hostVerdicts.clear()
      hostVerdicts.set(hostHeader, verdict)
    }
    return verdict
  }

  const router = HttpLayerRouter.FindMyWay.make<Rule>()
  for (const rule of options.rules) {
    const { method, path } = parseRoute(rule.route)
    if (method === undefined) router.all(path, rule)
    else router.on(method, path, rule)
  }
  const ruleOf = (method: string, url: string): Rule | undefined =>
    (router.find(method, url) ?? (method === "HEAD" ? router.find("GET", url) : undefined))?.handler

  return (incoming) => {
    const headers = incoming.headers
    const method = incoming.method ?? "GET"
    // an absolute-form or `*` target would match no rule (and no route): refused, not guessed at
    if (!(incoming.url ?? "/").startsWith("/")) return Either.left(error(400, "the request target must be a path"))
    // 1. DNS rebinding: a page on another name that resolves to this address
    const hostHeader = headers.host
    if (hostHeader !== undefined) {
      if (!hostAllowed(hostHeader)) {
        return Either.left(error(421, `the Host ${JSON.stringify(hostHeader)} is not a name this daemon serves (add it to core.http.allowedHosts)`))
      }
    }
    // 2. a browser request from another origin (a form post, a fetch from another site)
    const site = headers["sec-fetch-site"]
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      return Either.left(error(403, `a request from another site (Sec-Fetch-Site: ${site}) is refused`))
    }
    const origin = headers.origin
    if (origin !== undefined) {
      let allowed = false
      try {
        const url = new URL(origin)
        allowed = url.host === hostOfHeader(hostHeader) || proxied.has(url.hostname)
      } catch {
        // `null` (a sandboxed page, a file) or garbage: not an origin of this daemon
      }
      if (!allowed) return Either.left(error(403, `a request from another origin (${origin}) is refused`))
    }
    // 3. the caller, and what the route needs
    const hasBody = headers["transfer-encoding"] !== undefined || Number(headers["content-length"] ?? 0) > 0
    // looked up only when it can matter: a role to check, or a body's type
    const rule = tokensOn || hasBody ? ruleOf(method, incoming.url ?? "/") : undefined
    // a public route's caller, with tokens on, is no one in particular: it may read
    let caller: Auth.Caller = tokensOn ? { name: undefined, role: "read" } : Auth.anonymous
    if (rule?.role !== "public") {
      const authenticated = authenticate(headers.authorization)
      if (Either.isLeft(authenticated)) {
        return Either.left(error(401, authenticated.left.message, undefined, { "www-authenticate": "Bearer realm=\"orch\"" }))
      }
      caller = authenticated.right
      const needed = rule?.role ?? (method === "GET" || method === "HEAD" || method === "OPTIONS" ? "read" : "operate")
      if (tokensOn && !Auth.allows(caller.role, needed)) {
        return Either.left(error(
          403,
          `${method} ${(incoming.url ?? "/").split("?")[0]} needs the ${needed} role; the token ${JSON.stringify(caller.name)} has ${caller.role}`,
          { needed, role: caller.role }
        ))
      }
    }
    // 4. a body the route would read as JSON must say it is JSON: no form or text/plain post reaches it
    if (hasBody) {
      const type = mediaType(headers["content-type"] ?? "")
      if (type !== "application/json" && !(rule?.accepts ?? []).includes(type)) {
        return Either.left(error(415, `the body must be application/json${rule?.accepts?.length ? ` or ${rule.accepts.join(", ")}` : ""}, not ${type === "" ? "untyped" : type}`))
      }
    }
    return Either.right(caller)
  }
}

// `Host` as `URL.host` writes it (lower case, default port dropped), to compare with an origin's
const hostOfHeader = (hostHeader: string | undefined): string | undefined => {
  if (hostHeader === undefined) return undefined
  try {
    return new URL(`http://${hostHeader}`).host
  } catch {
    return undefined
  }
}

const callers = new WeakMap<http.IncomingMessage, Auth.Caller>()

/** Records the caller the gate admitted `incoming` as. */
export const admit = (incoming: http.IncomingMessage, caller: Auth.Caller) => {
  callers.set(incoming, caller)
}

/** The caller `incoming` was admitted as; a request that passed no gate may only read. */
export const callerOf = (incoming: http.IncomingMessage): Auth.Caller => callers.get(incoming) ?? { name: undefined, role: "read" }
