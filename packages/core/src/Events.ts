/**
 * `GET /events`: core's live endpoint, shared by the TUI and the pages. A server-sent
 * events stream that says `change` (with the database's change mark) when a job or a
 * resource changed, and a comment line as a heartbeat so a client (and any proxy) sees a
 * dead connection.
 *
 * Changes are found by probing the database (`sql/changes.ts`) every `pollMs` while at
 * least one client listens, rather than by hooks in `JobQueue` and `Resources`: several
 * orch processes may write the same database, and a probe sees all their writes. One
 * probe serves every client (`Stream.share`); each client has a small sliding buffer, so a
 * slow reader misses intermediate marks (it only needs the newest) and never grows memory.
 * At shutdown the streams end when the supervisor starts draining, so an open stream
 * never holds the server past its grace.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import { type ChangeMark, decodeMark, selectChangeMark } from "./sql/changes.js"
import { Supervisor } from "./Supervisor.js"

export type { ChangeMark } from "./sql/changes.js"

export interface EventsOptions {
  /** How often the database is probed while someone listens (100 ms: the probe costs about 10 µs, a change shows within a tenth of a second). */
  readonly pollMs?: number | undefined
  /** How often an idle stream sends a heartbeat. */
  readonly heartbeatMs?: number | undefined
  /** Marks a client may have unread before older ones are dropped. */
  readonly bufferSize?: number | undefined
}

/** A `change` event as sent: the mark and when it was seen. */
export interface Change extends ChangeMark {
  readonly at: number
}

const sameMark = (a: ChangeMark, b: ChangeMark) =>
  a.job === b.job && a.history === b.history && a.resource === b.resource && a.lease === b.lease && a.open === b.open

/** The database's marks as they change, probed every `pollMs` (the first one at once). */
export const changes = (pollMs: number) =>
  Effect.map(SqlClient.SqlClient, (sql) =>
    Stream.repeatEffectWithSchedule(
      selectChangeMark(sql).pipe(Effect.map((rows) => decodeMark(rows[0]!)), Effect.option),
      Schedule.spaced(Duration.millis(pollMs))
    ).pipe(
      // a failed probe (the database busy) is skipped: the next one tries again
      Stream.filterMap((mark) => mark),
      Stream.changesWith(sameMark),
      Stream.mapEffect((mark) => Effect.map(Clock.currentTimeMillis, (at): Change => ({ ...mark, at })))
    ))

/** One server-sent event; `data` is one line of JSON. */
export const sseEvent = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

const encoder = new TextEncoder()

/** The route, over one shared probe built in the layer's scope. */
export const route = (options: EventsOptions = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const bufferSize = options.bufferSize ?? 16
    const shared = yield* Effect.flatMap(
      changes(options.pollMs ?? 100),
      Stream.share({ capacity: bufferSize, strategy: "sliding", replay: 1 })
    )
    const supervisor = yield* Effect.serviceOption(Supervisor)
    const drained = Option.match(supervisor, { onNone: () => Effect.never, onSome: (s) => s.drained })
    const heartbeat = Stream.tick(Duration.millis(options.heartbeatMs ?? 15_000)).pipe(Stream.drop(1), Stream.as(": ping\n\n"))
    const body = Stream.make("retry: 2000\n\n").pipe(
      Stream.concat(Stream.merge(Stream.map(shared, (change) => sseEvent("change", change)), heartbeat)),
      Stream.interruptWhen(drained),
      Stream.map((text) => encoder.encode(text))
    )
    return HttpLayerRouter.add(
      "GET",
      "/events",
      Effect.succeed(HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      }))
    )
  }))
