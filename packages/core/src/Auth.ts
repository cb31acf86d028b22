/**
 * Bearer tokens with roles (`core.auth.tokens`): who a request comes from, and what it may
 * do. Roles nest, `admin` ⊇ `operate` ⊇ `read`. Tokens are compared in constant time: the
 * presented token is hashed and compared with the digest of every configured one, with no
 * early exit, so neither length nor content leaks through timing.
 */
import { Either, FiberRef, Redacted, Schema } from "effect"
import * as crypto from "node:crypto"

export const Role = Schema.Literal("read", "operate", "admin")
export type Role = typeof Role.Type

/** The shortest token accepted: a guessable bearer token is no token. */
export const minTokenLength = 16

export const Token = Schema.Struct({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({
    description: "Who the token is; the allocator's lease holder it acts as"
  }),
  token: Schema.Redacted(
    Schema.String.pipe(Schema.minLength(minTokenLength, { message: () => `a token must be at least ${minTokenLength} characters` }))
  ).annotations({ description: "The bearer token (use ${ENV} substitution; it is never logged)" }),
  role: Role.annotations({ description: "read: GETs; operate: also jobs, leases and runs; admin: also drain, config and exit" })
})
export type Token = typeof Token.Type

/** Who made a request: the token's name and role. */
export interface Caller {
  /** The token's name; undefined when no tokens are configured. */
  readonly name: string | undefined
  readonly role: Role
}

/** Anyone, when no tokens are configured: may do anything. */
export const anonymous: Caller = { name: undefined, role: "admin" }

const rank: Record<Role, number> = { read: 0, operate: 1, admin: 2 }

/** Whether `role` may do what `needed` may. */
export const allows = (role: Role, needed: Role): boolean => rank[role] >= rank[needed]

/**
 * The caller of the request being served, set by core's server before a route of the
 * Effect router runs (hot routes get it as `request.caller`). Outside a request: read only.
 */
export const currentCaller: FiberRef.FiberRef<Caller> = FiberRef.unsafeMake<Caller>({ name: undefined, role: "read" })

/** The caller of the request being served. */
export const caller = FiberRef.get(currentCaller)

/** Why a request was not authenticated (401). */
export interface Unauthenticated {
  readonly message: string
}

// the one-shot `crypto.hash` (Node 20.12+) costs half of a `createHash` chain, once per request
const digest: (value: string) => Buffer = typeof crypto.hash === "function"
  ? (value) => crypto.hash("sha256", value, "buffer")
  : (value) => crypto.createHash("sha256").update(value, "utf8").digest()

/**
 * Whether `presented` is `expected`, in constant time: both are hashed first, so neither
 * their content nor their lengths leak through timing. For secrets a plugin checks itself
 * (the bench plugin's worker token, sent as HTTP Basic).
 */
export const sameSecret = (presented: string, expected: string): boolean =>
  crypto.timingSafeEqual(digest(presented), digest(expected))

/**
 * Who an `Authorization` header says the caller is, against `tokens`: with none configured,
 * everyone is `anonymous`; otherwise a known bearer token, or a refusal.
 */
export const authenticator = (tokens: ReadonlyArray<Token>) => {
  const known = tokens.map((token) => ({ caller: { name: token.name, role: token.role } as Caller, digest: digest(Redacted.value(token.token)) }))
  return (authorization: string | undefined): Either.Either<Caller, Unauthenticated> => {
    if (known.length === 0) return Either.right(anonymous)
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "")
    if (match === null) return Either.left({ message: "this daemon needs a bearer token (Authorization: Bearer …)" })
    const presented = digest(match[1]!)
    let found: Caller | undefined
    for (const candidate of known) {
      // no early exit: every candidate is compared
      if (crypto.timingSafeEqual(candidate.digest, presented) && found === undefined) found = candidate.caller
    }
    return found === undefined ? Either.left({ message: "the bearer token is not one this daemon knows" }) : Either.right(found)
  }
}
