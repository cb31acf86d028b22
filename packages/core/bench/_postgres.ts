/**
 * The queue benchmark's PostgreSQL side (a helper: `npm run bench` skips files starting
 * with "_"): a fresh database per run on the server of `--postgres-url`, dropped when the
 * benchmark ends, and a count of what the client sends.
 *
 * Every `query` of node-postgres is one round trip (the extended protocol sends parse,
 * bind, execute and sync together and waits for one answer), so counting the calls
 * counts round trips; BEGIN and COMMIT are calls of their own.
 */
import { execute, withDatabase } from "@orch/testing/Postgres"
import Pg from "pg"

const made: Array<string> = []

/** Creates an empty database beside `url`'s and returns its URL. */
export const freshDatabase = async (url: string): Promise<string> => {
  const name = `orch_bench_${process.pid}_${made.length}`
  await execute(url, `DROP DATABASE IF EXISTS ${name}`)
  await execute(url, `CREATE DATABASE ${name}`)
  made.push(name)
  return withDatabase(url, name)
}

/** Drops every database `freshDatabase` made (after their pools have closed). */
export const dropAll = async (url: string): Promise<void> => {
  for (const name of made.splice(0)) await execute(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
}

/** What the client sent so far, by the statement's first word (BEGIN, SELECT, UPDATE, WITH …). */
export interface Sent {
  readonly roundTrips: number
  readonly byVerb: ReadonlyMap<string, number>
}

const byVerb = new Map<string, number>()
let roundTrips = 0
let counting = false

/** Counts every query of every `pg` client from now on. */
export const countQueries = (): void => {
  if (counting) return
  counting = true
  const query = Pg.Client.prototype.query as (...args: Array<unknown>) => unknown
  Pg.Client.prototype.query = function(this: Pg.Client, ...args: Array<unknown>) {
    const first = args[0]
    const text = typeof first === "string" ? first : (first as { text?: string } | undefined)?.text ?? ""
    const verb = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? "?"
    roundTrips++
    byVerb.set(verb, (byVerb.get(verb) ?? 0) + 1)
    return query.apply(this, args)
  } as typeof Pg.Client.prototype.query
}

export const sent = (): Sent => ({ roundTrips, byVerb: new Map(byVerb) })

/** What was sent between two readings. */
export const since = (before: Sent): Sent => {
  const now = sent()
  const diff = new Map<string, number>()
  for (const [verb, n] of now.byVerb) {
    const d = n - (before.byVerb.get(verb) ?? 0)
    if (d > 0) diff.set(verb, d)
  }
  return { roundTrips: now.roundTrips - before.roundTrips, byVerb: diff }
}
