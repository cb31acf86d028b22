/**
 * Cleaning: after a lease ends, a device whose type has a cleaning command waits in
 * `cleaning` while the command runs (a job of core's queue, so a process that dies
 * mid-run leaves it to another). It is free again only when the command exits 0, and
 * quarantined, with the command's output logged, when it does not.
 */
import { JobQueue } from "@orch/core/Jobs"
import { Resources } from "@orch/core/Resources"
import * as Database from "@orch/core/Database"
import { Effect } from "effect"
import { Allocator, CleanJob } from "./Allocator.js"
import { Device, infoOf } from "./Device.js"
import { deviceEnvironment } from "./Environment.js"
import * as AllocatorMetrics from "./Metrics.js"
import * as Process from "./Process.js"

/** Claims one cleaning job and runs it; sleeps briefly when there is none. */
export const cleanOnce = (owner: string) =>
  Effect.gen(function*() {
    const allocator = yield* Allocator
    const queue = yield* JobQueue
    const resources = yield* Resources
    const maxTimeoutMs = Math.max(60_000, ...Object.values((yield* allocator.inventory).types).map((t) => (t.cleaning?.timeoutSeconds ?? 0) * 1000))
    const [job] = yield* queue.claim(CleanJob, { owner, leaseMs: maxTimeoutMs + 30_000 })
    if (job === undefined) return yield* Effect.sleep("500 millis")
    const name = job.payload.device
    const device = yield* resources.get(Device, name).pipe(Effect.option)
    const info = device._tag === "Some" ? infoOf(device.value) : undefined
    const cleaning = info === undefined ? undefined : (yield* allocator.typeOf(info.type))?.cleaning
    if (device._tag === "None" || device.value.state !== "cleaning" || cleaning === undefined || info === undefined) {
      // drained meanwhile, or its type lost its cleaning command: nothing to run
      if (device._tag === "Some" && device.value.state === "cleaning") {
        yield* resources.setState(Device, name, "free", { from: "cleaning", reason: "its type has no cleaning command any more" }).pipe(Effect.ignore)
      }
      yield* queue.transition(job, "cancelled", { reason: `device is ${device._tag === "Some" ? device.value.state : "gone"}: not cleaned` })
      return yield* allocator.wake
    }
    const timeoutMs = cleaning.timeoutSeconds * 1000
    yield* Effect.logInfo(`cleaning ${name}`).pipe(Effect.annotateLogs({ device: name, type: info.type }))
    const outcome = yield* Process.run(cleaning.command, { env: deviceEnvironment(info), timeoutMs })
    const ok = outcome.exitCode === 0
    const result = { exitCode: outcome.exitCode ?? -1, output: outcome.output }
    yield* Database.transaction(Effect.gen(function*() {
      // drained while it was cleaned: it stays drained
      yield* resources.setState(Device, name, ok ? "free" : "quarantined", {
        from: "cleaning",
        reason: ok ? "cleaned" : `cleaning ${Process.describe(outcome, timeoutMs)}`
      }).pipe(Effect.catchTag("ResourceStateConflict", () => Effect.void))
      yield* queue.transition(job, ok ? "cleaned" : "failed", {
        reason: ok ? "cleaned" : `cleaning ${Process.describe(outcome, timeoutMs)}`,
        result,
        ...(ok ? {} : { error: outcome.output.slice(-2000) })
      })
    }))
    yield* AllocatorMetrics.count(AllocatorMetrics.cleanings, { type: info.type, result: ok ? "succeeded" : "failed" })
    if (ok) {
      yield* Effect.logInfo(`cleaned ${name}`).pipe(Effect.annotateLogs({ device: name, type: info.type }))
      yield* allocator.wake
    } else {
      yield* Effect.logError(`cleaning ${name} ${Process.describe(outcome, timeoutMs)}: quarantined`).pipe(
        Effect.annotateLogs({ device: name, type: info.type, exitCode: outcome.exitCode, output: outcome.output })
      )
    }
  })
