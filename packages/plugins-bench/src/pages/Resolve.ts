/**
 * What a person types for a commit or a run, resolved: a full hash, a unique hash prefix
 * (4 or more hex digits), a ref (`refs/heads/main`) or a branch or tag name (`main`, `v1.0`);
 * for a run, also its id. Pages redirect these to the canonical URL (the full hash, the run id).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import * as PagesSql from "../sql/pages.js"

export type Resolved =
  | { readonly _tag: "Found"; readonly hash: string }
  | { readonly _tag: "Missing"; readonly rev: string }
  | { readonly _tag: "Ambiguous"; readonly rev: string }

const refCandidates = (rev: string) =>
  rev.startsWith("refs/") ? [rev] : [rev, `refs/heads/${rev}`, `refs/tags/${rev}`, `refs/remotes/origin/${rev}`]

export const resolveRev = (rev: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (/^[0-9a-f]{40}$/.test(rev) && (yield* PagesSql.getCommit(sql, rev)).length === 1) {
      return { _tag: "Found", hash: rev } as Resolved
    }
    for (const name of refCandidates(rev)) {
      const [ref] = yield* PagesSql.getRef(sql, name)
      if (ref !== undefined) return { _tag: "Found", hash: ref.hash } as Resolved
    }
    const prefix = rev.toLowerCase()
    if (/^[0-9a-f]{4,40}$/.test(prefix)) {
      const found = yield* PagesSql.commitsByPrefix(sql, prefix)
      if (found.length === 1) return { _tag: "Found", hash: found[0]!.hash } as Resolved
      if (found.length > 1) return { _tag: "Ambiguous", rev } as Resolved
    }
    return { _tag: "Missing", rev } as Resolved
  })

export type ResolvedRun =
  | { readonly _tag: "Found"; readonly run: PagesSql.RunRow }
  | { readonly _tag: "Missing"; readonly message: string }

/** A run id, else a commit (any form `resolveRev` takes) standing for its newest run. */
export const resolveRun = (text: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [byId] = yield* PagesSql.getRun(sql, text)
    if (byId !== undefined) return { _tag: "Found", run: byId } as ResolvedRun
    const rev = yield* resolveRev(text)
    if (rev._tag === "Missing") return { _tag: "Missing", message: `no run, commit or ref ${JSON.stringify(text)}` } as ResolvedRun
    if (rev._tag === "Ambiguous") return { _tag: "Missing", message: `${JSON.stringify(text)} is the prefix of several commits` } as ResolvedRun
    const [newest] = yield* PagesSql.newestRunOf(sql, rev.hash)
    if (newest === undefined) return { _tag: "Missing", message: `commit ${rev.hash} has no run yet` } as ResolvedRun
    const [run] = yield* PagesSql.getRun(sql, newest.id)
    return { _tag: "Found", run: run! } as ResolvedRun
  })
