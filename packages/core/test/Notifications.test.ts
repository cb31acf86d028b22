/**
 * Wake-ups across nodes: two database layers on one database (two pools, as two orch
 * nodes would have), each with its own Notifications, queue and resources. On real time:
 * a worker's poll interval is ten minutes, so a job it takes within the test's timeout was
 * taken on a wake-up.
 */
import { expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Queue, Schema } from "effect"
import * as SqlClient from "@effect/sql/SqlClient"
import { waitFor, waitUntil } from "@orch/testing"
import { type Backend, describeBackends } from "@orch/testing/Backends"
import { JobKind, JobQueue } from "../src/Jobs.js"
import * as JobWorker from "../src/JobWorker.js"
import * as Notifications from "../src/Notifications.js"
import { ResourceKind, Resources } from "../src/Resources.js"

const Work = JobKind.simple({
  plugin: "test",
  name: "work",
  payload: Schema.Struct({ n: Schema.Number }),
  result: Schema.Struct({ n: Schema.Number })
})

const Device = ResourceKind.make({ plugin: "test", name: "device", states: ["ready", "cleaning"], initial: "ready", leasable: ["ready"] })

/** One node: its own pool on the database at `place`, its own wake-ups, queue and resources. */
const node = (backend: Backend, place: string) =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.map(
      Layer.buildWithScope(
        Layer.mergeAll(JobQueue.layer([Work]), Resources.layer([Device])).pipe(
          Layer.provideMerge(Notifications.layer),
          Layer.provideMerge(backend.database(place))
        ),
        scope
      ),
      (context) => ({
        queue: Context.get(context, JobQueue),
        resources: Context.get(context, Resources),
        notifications: Context.get(context, Notifications.Notifications),
        sql: Context.get(context, SqlClient.SqlClient),
        context
      })
    ))

const nothingWithin = <A>(queue: Queue.Dequeue<A>) => Effect.map(Queue.poll(queue), Option.isNone)

/** A wake-up taken from `queue`, or undefined: for `waitFor`. */
const woken = <A>(queue: Queue.Dequeue<A>) => Effect.map(Queue.poll(queue), (taken) => (Option.isSome(taken) ? true : undefined))

describeBackends("Notifications", (backend) => {
  const cluster = backend.name === "postgres"

  it.live("a job enqueued on one node is taken at once by a worker on another, long before its poll", () =>
    Effect.scoped(Effect.gen(function*() {
      const place = backend.place()
      const a = yield* node(backend, place)
      // SQLite: both "nodes" are this process, whose wake-ups stay in it; the test is the same
      const b = cluster ? yield* node(backend, place) : a
      yield* waitUntil("node B listens", b.notifications.listening)
      expect(b.notifications.reach).toBe(cluster ? "cluster" : "process")
      const handled: Array<number> = []
      const worker = JobWorker.make({
        kind: Work,
        concurrency: 1,
        pollInterval: "10 minutes",
        handler: (job) => Effect.sync(() => (handled.push(job.payload.n), { n: job.payload.n }))
      })
      yield* Effect.forkScoped(Effect.provide(JobWorker.run(worker, { owner: "node-b:1:test" }), b.context))
      // the first job may be found by the worker's first claim; the second only by a wake-up
      yield* a.queue.enqueue(Work, { n: 1 })
      yield* waitUntil("node B handled job 1", Effect.sync(() => handled.length === 1))
      const { job } = yield* a.queue.enqueue(Work, { n: 2 })
      yield* waitUntil("node B handled job 2", Effect.sync(() => handled.length === 2))
      expect(handled).toEqual([1, 2])
      yield* waitUntil("job 2 succeeded", Effect.map(a.queue.get(job.id), (j) => j.state === "succeeded"))
    })), 20_000)

  it.live("an enqueued batch wakes the workers of its kind; an ended lease or a device back in service wakes the waiters of its resource kind", () =>
    Effect.scoped(Effect.gen(function*() {
      const place = backend.place()
      const a = yield* node(backend, place)
      const b = cluster ? yield* node(backend, place) : a
      yield* waitUntil("node B listens", b.notifications.listening)
      const released = yield* b.notifications.subscribe(Notifications.released(Device))
      const work = yield* b.notifications.subscribe(Notifications.jobs(Work))
      // a wake-up on connecting (for what was missed) is no part of this test
      yield* Effect.sleep("100 millis")
      yield* Queue.takeAll(released)
      yield* Queue.takeAll(work)

      yield* a.queue.enqueueMany(Work, Array.from({ length: 50 }, (_, n) => ({ payload: { n } })))
      yield* waitFor("node B was woken for the jobs", woken(work))
      expect(yield* nothingWithin(released)).toBe(true)

      yield* a.resources.upsert(Device, { name: "d1", labels: {} })
      const lease = yield* a.resources.lease(Device, { holder: "someone", ttlMs: 60_000 })
      yield* a.resources.release(Option.getOrThrow(lease).id, { reason: "done" })
      yield* waitFor("node B was woken for the release", woken(released))
      // cleaned after use: free again once back in a leasable state
      yield* a.resources.setState(Device, "d1", "cleaning", { reason: "cleaning" })
      yield* Effect.sleep("100 millis")
      expect(yield* nothingWithin(released)).toBe(true)
      yield* a.resources.setState(Device, "d1", "ready", { reason: "cleaned" })
      yield* waitFor("node B was woken for the device back in service", woken(released))
    })), 20_000)

  it.live.skipIf(!cluster)("a node whose LISTEN connection was cut listens again, waking everyone for what it missed", () =>
    Effect.scoped(Effect.gen(function*() {
      const place = backend.place()
      const a = yield* node(backend, place)
      const b = yield* node(backend, place)
      yield* waitUntil("node B listens", b.notifications.listening)
      const work = yield* b.notifications.subscribe(Notifications.jobs(Work))
      yield* Effect.sleep("100 millis")
      yield* Queue.takeAll(work)

      // the server ends every listening connection of this database (node A's and B's)
      const cut = yield* a.sql<{ pid: number }>`SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
        WHERE application_name = 'orch listen' AND datname = current_database()`
      expect(cut.length).toBeGreaterThanOrEqual(2)
      yield* waitUntil("node B noticed", Effect.map(b.notifications.listening, (up) => !up))
      yield* waitUntil("node B listens again", b.notifications.listening)
      // the wake-up for whatever was sent while it was not listening
      yield* waitFor("node B woke its subscribers on reconnecting", woken(work))

      yield* waitUntil("node A listens again", a.notifications.listening)
      yield* a.queue.enqueue(Work, { n: 1 })
      yield* waitFor("node B hears node A again", woken(work))
    })), 20_000)
})
