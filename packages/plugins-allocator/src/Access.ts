/**
 * Bearer tokens from config, each acting as one holder, some as admin. Tokens are
 * compared in constant time: every presented token is hashed and compared with the
 * digest of every configured one, so neither length nor content leaks through timing.
 */
import { Redacted } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type { AccessToken } from "./AllocatorConfig.js"

export interface Caller {
  /** The holder the token acts as; undefined when tokens are off (anyone may do anything). */
  readonly holder: string | undefined
  readonly admin: boolean
}

export type Authorization =
  | { readonly _tag: "Allowed"; readonly caller: Caller }
  | { readonly _tag: "Refused"; readonly message: string }

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest()

export const make = (tokens: ReadonlyArray<AccessToken>) => {
  const known = tokens.map((token) => ({ holder: token.holder, admin: token.admin, digest: digest(Redacted.value(token.token)) }))
  return (authorization: string | undefined): Authorization => {
    if (known.length === 0) return { _tag: "Allowed", caller: { holder: undefined, admin: true } }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")
    if (match === null) return { _tag: "Refused", message: "this allocator needs a bearer token (Authorization: Bearer …)" }
    const presented = digest(match[1]!)
    let found: (typeof known)[number] | undefined
    for (const candidate of known) {
      // no early exit: every candidate is compared
      if (timingSafeEqual(candidate.digest, presented) && found === undefined) found = candidate
    }
    return found === undefined
      ? { _tag: "Refused", message: "the bearer token is not one this allocator knows" }
      : { _tag: "Allowed", caller: { holder: found.holder, admin: found.admin } }
  }
}
