/**
 * Opening PostgreSQL: orch builds the `pg` pool itself (rather than through
 * `PgClient.make`) to set what every connection must agree on, int8 as numbers and
 * READ COMMITTED, and to fail with an error that names the server but not the password.
 */
import type * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Clock, Effect, Redacted, type Scope } from "effect"
import Pg from "pg"
import { DatabaseError } from "../Errors.js"
import { describeUrl, passwordOf } from "./databaseUrl.js"


/** Where `url` points, for messages and logs (never with its password). */
export const location = (url: Redacted.Redacted<string>): string => describeUrl(Redacted.value(url)) ?? "(a URL that does not parse)"

/**
 * int8 (BIGINT, and `count(*)`) as a number: orch's int8 columns hold epoch ms, ids and
 * tokens, all far below 2^53. A larger value stays a string, for the SQL modules' decoder
 * (`internal/integers.ts`) to refuse as a corrupt row, rather than being rounded here.
 */
const parseInt8 = (text: string): number | string => {
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : text
}

const int8Oid = 20

const types: Pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === int8Oid && format !== "binary" ? parseInt8 : Pg.types.getTypeParser(oid, format as "text")) as Pg.CustomTypesConfig["getTypeParser"]
}

/**
 * Each connection's transactions run at READ COMMITTED whatever the server's default
 * (a database set to SERIALIZABLE would otherwise fail compare-and-sets with
 * serialization errors that orch does not retry). READ COMMITTED is what the queue's SQL
 * is written for: a claim skips rows another claimer locked, and an UPDATE that waited
 * on a row re-evaluates its WHERE on the committed version, so a compare-and-set that
 * lost matches nothing instead of failing.
 */
const sessionOptions = "-c default_transaction_isolation=read\\ committed"

/** Opens a pool on `url`, checks that one connection works, and wraps it as a `PgClient`. */
export const connect = (options: {
  readonly url: Redacted.Redacted<string>
  readonly connectTimeoutMs?: number | undefined
  readonly maxConnections?: number | undefined
  readonly schema?: string | undefined
}): Effect.Effect<PgClient.PgClient, DatabaseError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const url = Redacted.value(options.url)
    const where = describeUrl(url)
    if (where === undefined || !/^postgres(ql)?:$/.test(new URL(url).protocol)) {
      return yield* new DatabaseError({
        message: "core.database.url is not a PostgreSQL URL: expected postgres://user:password@host:port/database"
      })
    }
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      return yield* new DatabaseError({ message: `schema "${options.schema}" is not a plain lower-case SQL name` })
    }
    const pool = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          new Pg.Pool({
            connectionString: url,
            connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
            max: options.maxConnections ?? 10,
            application_name: "orch",
            options: options.schema === undefined ? sessionOptions : `${sessionOptions} -c search_path=${options.schema}`,
            types
          }),
        catch: (cause) => new DatabaseError({ message: `cannot use PostgreSQL at ${where}: ${errorText(cause, url)}`, cause })
      }),
      // on real time: a socket's close is no business of a test's clock
      (pool) => Effect.promise(() => pool.end()).pipe(Effect.timeoutOption("2 seconds"), Effect.withClock(Clock.make()))
    )
    // a pool reports errors of idle connections here; without a listener they would crash the process
    pool.on("error", () => {})
    yield* Effect.tryPromise({
      try: () => pool.query("SELECT 1"),
      catch: (cause) => new DatabaseError({ message: `cannot connect to PostgreSQL at ${where}: ${errorText(cause, url)}`, cause })
    })
    return yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: "orch", types }).pipe(
      Effect.mapError((cause) => new DatabaseError({ message: `cannot use PostgreSQL at ${where}: ${errorText(cause, url)}`, cause }))
    )
  })

/** A driver error as text, with the password blanked should the driver ever quote the URL. */
const errorText = (cause: unknown, url: string): string => {
  // an unreachable name that resolves to several addresses fails with one error for each
  const text = cause instanceof AggregateError && cause.errors.length > 0
    ? cause.errors.map((error) => error instanceof Error ? error.message : String(error)).join("; ")
    : cause instanceof Error
    ? cause.message || cause.name
    : String(cause)
  const password = passwordOf(url)
  return password === "" ? text : text.split(password).join("***")
}

/** A connection of its own for LISTEN, with the event that says it is gone. */
export interface ListenConnection {
  readonly client: Pg.Client
  /** Completes when the connection fails or ends. */
  readonly lost: Effect.Effect<void>
}

/**
 * Opens a connection outside the pool for LISTEN (a pooled one would go back to the pool
 * and stop listening), closed when the scope ends. `url` as the pool's.
 */
export const listenConnection = (
  url: Redacted.Redacted<string>,
  connectTimeoutMs = 10_000
): Effect.Effect<ListenConnection, DatabaseError, Scope.Scope> =>
  Effect.gen(function*() {
    const text = Redacted.value(url)
    const client = new Pg.Client({ connectionString: text, connectionTimeoutMillis: connectTimeoutMs, application_name: "orch listen" })
    let onLost: (() => void) | undefined
    let gone = false
    const lose = () => {
      gone = true
      onLost?.()
    }
    // without listeners a dropped socket would crash the process
    client.on("error", lose)
    client.on("end", lose)
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => new DatabaseError({ message: `cannot connect to PostgreSQL at ${location(url)} to listen: ${errorText(cause, text)}`, cause })
      }),
      () => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("2 seconds"), Effect.withClock(Clock.make()))
    )
    const lost = Effect.async<void>((resume) => {
      if (gone) return resume(Effect.void)
      onLost = () => resume(Effect.void)
      return Effect.sync(() => {
        onLost = undefined
      })
    })
    return { client, lost }
  })
