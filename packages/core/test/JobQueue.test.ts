import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Queue, Schema } from "effect"
import { JobKind, JobQueue } from "../src/Jobs.js"
import { testDatabase } from "@orch/testing"

const Work = JobKind.simple({ plugin: "test", name: "work", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Void })
const Other = JobKind.simple({ plugin: "test", name: "other", payload: Schema.Struct({}), result: Schema.Void })

const queueLayer = JobQueue.layer([Work, Other]).pipe(Layer.provideMerge(testDatabase()))

describe("JobQueue.wakeups", () => {
  it.scoped("signals a committed enqueue or retry of its kind, collapsing signals not yet taken", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const work = yield* queue.wakeups(Work)
      const other = yield* queue.wakeups(Other)
      expect(yield* Queue.size(work)).toBe(0)

      const first = yield* queue.enqueue(Work, { n: 1 }, { idempotencyKey: "a" })
      yield* queue.enqueueMany(Work, [{ payload: { n: 2 } }, { payload: { n: 3 } }])
      // two enqueues, one signal waiting: a worker that wakes claims whatever is there
      expect(yield* Queue.size(work)).toBe(1)
      expect(yield* Queue.size(other)).toBe(0)
      yield* Queue.take(work)

      // an enqueue that creates nothing (the key names a job already there) wakes nobody
      expect((yield* queue.enqueue(Work, { n: 1 }, { idempotencyKey: "a" })).created).toBe(false)
      expect(Option.isNone(yield* Queue.poll(work))).toBe(true)

      yield* queue.cancel(first.job.id, "test")
      expect(yield* Queue.size(work)).toBe(0)
      yield* queue.retry(first.job.id, "test")
      expect(yield* Queue.size(work)).toBe(1)

      yield* queue.enqueue(Other, {})
      expect(yield* Queue.size(other)).toBe(1)
    }).pipe(Effect.provide(queueLayer)))

  it.scoped("every subscriber gets its own signal", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const a = yield* queue.wakeups(Work)
      const b = yield* queue.wakeups(Work)
      yield* queue.enqueue(Work, { n: 1 })
      yield* Queue.take(a)
      yield* Queue.take(b)
    }).pipe(Effect.provide(queueLayer)))
})
