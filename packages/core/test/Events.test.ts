/**
 * `GET /events` through a real daemon (`Runtime.start`: 127.0.0.1:0, a real SQLite file):
 * a `change` when a job is enqueued or cancelled, the gate's tokens, and a shutdown that
 * ends open streams rather than waiting out its grace.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { tempDir, testDaemonEnv, testDatabase } from "@orch/testing"
import * as path from "node:path"
import * as Events from "../src/Events.js"
import { Effect, Exit, Redacted, Schema, Scope } from "effect"
import * as Config from "../src/Config.js"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"

const Chore = JobKind.simple({ plugin: "crew", name: "chore", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Struct({}) })

const crew = Plugin.make({
  name: "crew",
  description: "enqueues a chore on request",
  config: Schema.Struct({}),
  jobKinds: [Chore],
  http: () => ({
    routes: HttpLayerRouter.add(
      "POST",
      "/chores",
      Effect.gen(function*() {
        const { job } = yield* (yield* JobQueue).enqueue(Chore, { n: 1 })
        return HttpServerResponse.unsafeJson({ id: job.id })
      }).pipe(Effect.orDie)
    )
  })
})

const secret = "events-test-token-0123456789"

/** A daemon in `scope`; a grace far beyond the test's timeout, so a shutdown that waited on a stream would fail the test. */
const start = (scope: Scope.Scope, tokens = false, dataDir = tempDir("orch-events-")) =>
  Effect.gen(function*() {
    const loaded = yield* Config.load([crew], { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, yield* testDaemonEnv(dataDir))
    const config = {
      ...loaded,
      core: {
        ...loaded.core,
        shutdownGraceSeconds: 600,
        auth: { ...loaded.core.auth, tokens: tokens ? [{ name: "viewer", token: Redacted.make(secret), role: "read" as const }] : [] }
      }
    }
    const { info } = yield* Runtime.start({ config, available: [crew], selected: [crew], version: "test" }).pipe(Scope.extend(scope))
    return info.url
  })

/** An open `/events` stream, read event by event. */
const listen = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/events`, { headers })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let buffered = ""
    /** The next `change` event's data, or undefined when the stream ended. */
    const next = async (): Promise<Record<string, number> | undefined> => {
      for (;;) {
        const end = buffered.indexOf("\n\n")
        if (end >= 0) {
          const block = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          const data = block.split("\n").find((line) => line.startsWith("data: "))
          if (block.startsWith("event: change") && data !== undefined) return JSON.parse(data.slice(6))
          continue
        }
        const { done, value } = await reader.read()
        if (done) return undefined
        buffered += decoder.decode(value, { stream: true })
      }
    }
    return { status: response.status, type: response.headers.get("content-type"), next, cancel: () => reader.cancel() }
  })

describe("GET /events", () => {
  it.scopedLive("says change when a job is enqueued and when it is cancelled", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const url = yield* start(scope)
      const events = yield* listen(url)
      expect(events.status).toBe(200)
      expect(events.type).toContain("text/event-stream")
      const first = (yield* Effect.promise(events.next))!
      const { id } = yield* Effect.promise(() => fetch(`${url}/crew/chores`, { method: "POST" }).then((r) => r.json() as Promise<{ id: number }>))
      const enqueued = (yield* Effect.promise(events.next))!
      expect(enqueued.job).toBe(id)
      expect(enqueued.history).toBeGreaterThan(first.history)
      const cancel = yield* Effect.promise(() =>
        fetch(`${url}/jobs/${id}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason: "test" }) })
      )
      expect(cancel.status).toBe(200)
      const cancelled = (yield* Effect.promise(events.next))!
      expect(cancelled.history).toBeGreaterThan(enqueued.history)
      // shutdown ends the open stream: the scope closes well within the test's timeout, not after the 600 s grace
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.promise(events.next)).toBeUndefined()
    }), 20_000)

  it.scopedLive("says change when a plugin changed something of its own, written through another connection as another orch process would", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const dataDir = tempDir("orch-events-")
      const url = yield* start(scope, false, dataDir)
      const events = yield* listen(url)
      const first = (yield* Effect.promise(events.next))!
      expect(first.plugins).toBe(0)
      // not this daemon's connection: the mark lives in the database, not in a process
      yield* Events.changed("crew").pipe(Effect.provide(testDatabase(path.join(dataDir, "orch.sqlite"))))
      const changed = (yield* Effect.promise(events.next))!
      expect(changed).toMatchObject({ job: first.job, history: first.history, plugins: 1 })
      yield* Effect.promise(events.cancel)
      yield* Scope.close(scope, Exit.void)
    }), 20_000)

  it.scopedLive("is behind core's gate: a read token is needed once tokens are configured", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const url = yield* start(scope, true)
      const refused = yield* Effect.promise(() => fetch(`${url}/events`))
      expect(refused.status).toBe(401)
      const events = yield* listen(url, { authorization: `Bearer ${secret}` })
      expect(events.status).toBe(200)
      expect(yield* Effect.promise(events.next)).toMatchObject({ job: 0, history: 0 })
      yield* Effect.promise(events.cancel)
      yield* Scope.close(scope, Exit.void)
    }), 20_000)
})
