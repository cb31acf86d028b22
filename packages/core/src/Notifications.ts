/**
 * Wake-ups: "there is new work of this kind", for whoever waits on it to look at once
 * rather than at its next poll. Core publishes a topic when jobs of a kind are enqueued or
 * retried (`jobs(kind)`) and when resources of a kind may have become free (`released(kind)`); the
 * job worker and a plugin's waiters subscribe. A wake-up is a hint: the waiter looks in the
 * database, and its poll stays the safety net for any wake-up lost.
 *
 * On SQLite a wake-up reaches this process only (other processes sharing the file poll).
 * On PostgreSQL it reaches every node: published topics go out as `pg_notify` on one
 * channel, gathered per moment (one NOTIFY for what was published meanwhile, however many
 * jobs), and each node LISTENs on a connection of its own, which it opens again when lost,
 * then wakes every subscriber, since what was sent in between is gone.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Duration, Effect, Layer, Option, PubSub, type Queue, Redacted, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import { dialectOf } from "./internal/dialect.js"
import * as Postgres from "./internal/postgres.js"
import { Signal } from "./internal/signal.js"

export interface NotificationsService {
  /** `process`: wake-ups stay in this process (SQLite); `cluster`: they reach every node (PostgreSQL). */
  readonly reach: "process" | "cluster"
  /**
   * Wakes the subscribers of `topic` here at once and, on PostgreSQL, on every node. Call
   * it after the commit that made the work visible; inside a transaction the NOTIFY is part
   * of it (sent at commit, dropped on rollback), though this process's subscribers wake now.
   */
  readonly publish: (topic: string) => Effect.Effect<void>
  /**
   * A wake-up per publish of `topic` (here or, on PostgreSQL, on any node) until the scope
   * closes; sliding with room for one, so wake-ups that arrive while one waits collapse into it.
   */
  readonly subscribe: (topic: string) => Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
  /** Whether wake-ups from other nodes arrive now (the LISTEN connection is up); always true in-process. */
  readonly listening: Effect.Effect<boolean>
}

export class Notifications extends Context.Tag("@orch/core/Notifications")<Notifications, NotificationsService>() {}

/** The topic of new runnable jobs of a kind. */
export const jobs = (kind: { readonly plugin: string; readonly name: string }): string => `jobs:${kind.plugin}/${kind.name}`

/**
 * The topic of a resource kind whose resources may have become free: a lease ended
 * (released or reclaimed) or a resource moved into a leasable state (a device cleaned).
 */
export const released = (kind: { readonly plugin: string; readonly name: string }): string =>
  `released:${kind.plugin}/${kind.name}`

/** The one channel of every node's wake-ups (per database: schemas sharing a database share it, waking spuriously at worst). */
export const channel = "orch_wake"

/** PostgreSQL refuses a payload of 8000 bytes or more; a NOTIFY carries at most this many. */
const maxPayloadBytes = 7_000

/** Subscribers of this process, by topic. */
const localHub = Effect.gen(function*() {
  const topics = new Map<string, PubSub.PubSub<void>>()
  const hubFor = (topic: string) =>
    Effect.suspend(() => {
      const existing = topics.get(topic)
      if (existing !== undefined) return Effect.succeed(existing)
      return Effect.map(PubSub.sliding<void>(1), (pubsub) => {
        topics.set(topic, pubsub)
        return pubsub
      })
    })
  yield* Effect.addFinalizer(() => Effect.forEach(topics.values(), PubSub.shutdown, { discard: true }))
  return {
    wake: (topic: string) =>
      Effect.suspend(() => {
        const pubsub = topics.get(topic)
        return pubsub === undefined ? Effect.void : Effect.asVoid(PubSub.publish(pubsub, undefined))
      }),
    wakeAll: Effect.suspend(() => Effect.forEach(topics.values(), (pubsub) => PubSub.publish(pubsub, undefined), { discard: true })),
    subscribe: (topic: string) => Effect.flatMap(hubFor(topic), PubSub.subscribe)
  }
})

/** Wake-ups within this process only. */
export const makeLocal: Effect.Effect<NotificationsService, never, Scope.Scope> = Effect.map(localHub, (hub) => ({
  reach: "process",
  publish: hub.wake,
  subscribe: hub.subscribe,
  listening: Effect.succeed(true)
}))

/** Splits topics into payloads under PostgreSQL's limit, each led by the sender's id. */
const payloadsOf = (sender: string, topics: ReadonlyArray<string>): Array<string> => {
  const payloads: Array<string> = []
  let current = sender
  for (const topic of topics) {
    if (current !== sender && Buffer.byteLength(current) + Buffer.byteLength(topic) + 1 > maxPayloadBytes) {
      payloads.push(current)
      current = sender
    }
    current += `\n${topic}`
  }
  if (current !== sender) payloads.push(current)
  return payloads
}

/**
 * Wake-ups across the nodes sharing the PostgreSQL database of `client`: LISTEN on a
 * connection of its own, NOTIFY through the pool.
 */
export const makePostgres = (
  client: PgClient.PgClient,
  options: { readonly reconnect?: { readonly initial: Duration.DurationInput; readonly max: Duration.DurationInput } | undefined } = {}
): Effect.Effect<NotificationsService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hub = yield* localHub
    // a node's own NOTIFYs come back to it: it has woken its subscribers already
    const self = randomUUID().slice(0, 8)
    const url = client.config.url
    if (url === undefined) return yield* Effect.dieMessage("notifications: the PostgreSQL client has no URL to listen with")

    // -- sending: topics published since the last NOTIFY go out together
    const pending = new Set<string>()
    const ready = new Signal()
    const send = (topics: ReadonlyArray<string>) =>
      Effect.forEach(payloadsOf(self, topics), (payload) => client`SELECT pg_notify(${channel}, ${payload})`, { discard: true })
    const sender = Effect.forever(Effect.gen(function*() {
      yield* ready.wait
      const topics = [...pending]
      pending.clear()
      // a lost NOTIFY costs a poll interval, no more: logged, not retried
      yield* send(topics).pipe(Effect.catchAllCause((cause) => Effect.logDebug("notifications: NOTIFY failed", cause)))
    }))
    yield* Effect.forkScoped(sender)

    const publish = (topic: string) =>
      Effect.zipRight(
        hub.wake(topic),
        Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (transaction) => {
          // in the caller's transaction: goes out with its commit, or not at all
          if (Option.isSome(transaction)) return Effect.ignore(send([topic]))
          pending.add(topic)
          ready.notify()
          return Effect.void
        })
      )

    // -- listening: one connection, opened again when lost
    let listening = false
    const onPayload = (payload: string | undefined) => {
      if (payload === undefined) return
      const [sender, ...topics] = payload.split("\n")
      if (sender === self) return
      for (const topic of topics) Effect.runFork(hub.wake(topic))
    }
    const listen = Effect.scoped(Effect.gen(function*() {
      const connection = yield* Postgres.listenConnection(Redacted.make(Redacted.value(url) as string))
      connection.client.on("notification", (message) => {
        if (message.channel === channel) onPayload(message.payload)
      })
      yield* Effect.tryPromise({
        try: () => connection.client.query(`LISTEN ${channel}`),
        catch: (cause) => new Error(`LISTEN failed: ${String(cause)}`)
      })
      listening = true
      // anything sent while this node was not listening is lost: everyone looks again
      yield* hub.wakeAll
      yield* connection.lost
    }).pipe(Effect.ensuring(Effect.sync(() => {
      listening = false
    }))))
    const backoff = options.reconnect ?? { initial: "500 millis", max: "30 seconds" }
    const listener = Effect.gen(function*() {
      let failures = 0
      while (true) {
        const startedListening = yield* Effect.either(listen)
        // a connection that was up resets the backoff
        failures = startedListening._tag === "Right" ? 0 : failures + 1
        const delay = Duration.min(
          Duration.times(Duration.decode(backoff.initial), 2 ** Math.min(failures, 20)),
          Duration.decode(backoff.max)
        )
        yield* Effect.logWarning(
          `notifications: the LISTEN connection ${
            startedListening._tag === "Right" ? "was lost" : `failed (${startedListening.left.message})`
          }; wake-ups from other nodes wait for polls until it is back, in ${Duration.format(delay)}`
        )
        yield* Effect.sleep(delay)
      }
    })
    yield* Effect.forkScoped(listener)

    return {
      reach: "cluster",
      publish,
      subscribe: hub.subscribe,
      listening: Effect.sync(() => listening)
    } satisfies NotificationsService
  })

/** Wake-ups over the current database: across nodes on PostgreSQL, in-process on SQLite. */
export const layer: Layer.Layer<Notifications, never, SqlClient.SqlClient> = Layer.scoped(
  Notifications,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    return dialectOf(sql) === "pg" && Option.isSome(pg) ? yield* makePostgres(pg.value) : yield* makeLocal
  })
)

/** Wake-ups within this process, whatever the database. */
export const layerLocal: Layer.Layer<Notifications> = Layer.scoped(Notifications, makeLocal)
