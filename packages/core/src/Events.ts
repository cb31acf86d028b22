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
 *
 * A plugin's changes to its own tables (a watcher endpoint going down, a bench run queued)
 * move no mark of core's: the plugin says `changed(name)` after committing them, which
 * moves its counter in the database, so every process's probe sends it as a change. Pages
 * follow the stream with `GET /events/live.js`, which keeps their `[data-live]` parts current.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import { bumpPluginMark, type ChangeMark, decodeMark, selectChangeMark } from "./sql/changes.js"
import { Supervisor } from "./Supervisor.js"

export type { ChangeMark } from "./sql/changes.js"

export interface EventsOptions {
  /**
   * How often the database is probed while someone listens (50 ms: the probe costs about
   * 10 µs; at 100 ms the wait for it was about 75 ms of a change's ~200 ms to the TUI's
   * screen, `npm run bench -- tui` on a loaded machine).
   */
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

/**
 * Says that `plugin` changed something of its own (after its transaction committed), for
 * every `/events` stream on the database to send. Best effort: a hint for screens, so a
 * failed write (the database busy) is not the caller's failure.
 */
export const changed = (plugin: string): Effect.Effect<void, never, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => bumpPluginMark(sql, plugin)).pipe(Effect.ignore)

const sameMark = (a: ChangeMark, b: ChangeMark) =>
  a.job === b.job && a.history === b.history && a.resource === b.resource && a.lease === b.lease && a.open === b.open &&
  a.plugins === b.plugins

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
      changes(options.pollMs ?? 50),
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
    return Layer.mergeAll(
      HttpLayerRouter.add(
        "GET",
        "/events",
        Effect.succeed(HttpServerResponse.stream(body, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
        }))
      ),
      HttpLayerRouter.add("GET", "/events/live.js", Effect.succeed(HttpServerResponse.text(liveScript, { contentType: "text/javascript; charset=utf-8" })))
    )
  }))

/**
 * The pages' side of `/events` (`<script src="/events/live.js" defer>`, same origin, so the
 * page's own access applies to the stream too): on each change, at most every 300 ms, the
 * page is fetched again and each element with `data-live` and an id is replaced by its
 * new version in place (no reload: the scroll, and a part being typed in, stay). An
 * element's `data-live-every="30"` also refreshes it every 30 s, for what changes without
 * a change event. Without script a page does as it did (its own meta refresh, say).
 */
export const liveScript = `"use strict";
(function () {
  if (document.querySelectorAll("[data-live][id]").length === 0) return;
  var timer, busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { headers: { accept: "text/html" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var next = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (part) {
          var fresh = next.getElementById(part.id);
          var active = document.activeElement;
          if (!fresh || (active && active !== document.body && part.contains(active))) return;
          part.replaceWith(document.importNode(fresh, true));
        });
        if (next.title) document.title = next.title;
        document.documentElement.setAttribute("data-live-refreshed", String(Date.now()));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    if (timer === undefined) timer = setTimeout(function () { timer = undefined; refresh(); }, 300);
  }
  var every = Number((document.querySelector("[data-live-every]") || { getAttribute: function () { return "0"; } }).getAttribute("data-live-every"));
  if (every > 0) setInterval(schedule, every * 1000);
  if (!window.EventSource) return;
  // the stream's first event is the mark as it is now, which the page already shows
  var first = true;
  var source = new EventSource("/events");
  source.addEventListener("change", function () {
    if (first) { first = false; return; }
    schedule();
  });
  // closed, not cut, when the page goes (a link followed, a reload)
  window.addEventListener("pagehide", function () { source.close(); });
})();
`
