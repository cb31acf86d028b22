/**
 * Cleaning: after a lease ends, a device whose type has a cleaning command waits in
 * `cleaning` while the command runs. Each run is a `CleanJob` handled by core's job
 * worker, which holds the job's lease (extended while the command runs), so a process
 * that dies mid-run leaves the job to another. The device is free again only when the
 * command exits 0, and quarantined, with the command's output logged, when it does not.
 *
 * The device's change and the job's outcome are two commits: the device first, then the
 * worker records the outcome. A process that dies between them leaves a job whose lease
 * expires and runs again; it finds the device no longer `cleaning`, runs nothing, and
 * records the outcome the device's history shows.
 */
import type { Job, JobKind } from "@orch/core/Jobs"
import * as JobWorker from "@orch/core/JobWorker"
import { type ResourceEvent, Resources } from "@orch/core/Resources"
import { Effect } from "effect"
import { Allocator, CleanJob } from "./Allocator.js"
import type { AllocatorConfig } from "./AllocatorConfig.js"
import { Device, infoOf } from "./Device.js"
import { deviceEnvironment } from "./Environment.js"
import * as AllocatorMetrics from "./Metrics.js"
import * as Process from "./Process.js"

type CleanJob = Job<
  JobKind.Payload<typeof CleanJob>,
  JobKind.Result<typeof CleanJob>,
  JobKind.State<typeof CleanJob>
>

/** The device's reason when its cleaning succeeded. */
const cleanedReason = "cleaned"
/** The device's reason when its cleaning failed. */
const failedReason = (outcome: Process.Outcome, timeoutMs: number) => `cleaning ${Process.describe(outcome, timeoutMs)}`

/**
 * A job's lease, extended by the worker while the command runs: a process that dies
 * mid-cleaning leaves its job to another within this time.
 */
export const leaseMs = 60_000

/**
 * The outcome of a cleaning whose device already left `cleaning` since the job was
 * enqueued: the device's first change out of `cleaning` after that says what happened.
 */
const alreadyEnded = (job: CleanJob, history: ReadonlyArray<ResourceEvent>, now: string) => {
  // newest first: the oldest change out of cleaning since the job was enqueued
  const left = history.filter((event) => event.from === "cleaning" && event.at >= job.createdAt).at(-1)
  const at = left === undefined ? "" : ` at ${new Date(left.at).toISOString()}`
  if (left?.to === "free" && left.reason === cleanedReason) {
    return JobWorker.transition("cleaned", { reason: `device was cleaned${at} before this job's outcome was recorded: not run again` })
  }
  if (left?.to === "quarantined" && left.reason.startsWith("cleaning ")) {
    return JobWorker.transition("failed", {
      reason: `device was quarantined${at} (${left.reason}) before this job's outcome was recorded: not run again`,
      error: left.reason
    })
  }
  return JobWorker.transition("cancelled", {
    reason: `device is ${now}${left === undefined ? "" : ` (${left.reason}${at})`}: not cleaned`
  })
}

/** Runs one cleaning job: the device's command, then the device's new state. */
export const clean = (job: CleanJob) =>
  Effect.gen(function*() {
    const allocator = yield* Allocator
    const resources = yield* Resources
    const name = job.payload.device
    const device = yield* resources.get(Device, name).pipe(Effect.option)
    const info = device._tag === "Some" ? infoOf(device.value) : undefined
    const cleaning = info === undefined ? undefined : (yield* allocator.typeOf(info.type))?.cleaning
    if (device._tag === "None" || info === undefined) {
      return JobWorker.transition("cancelled", { reason: "device is gone: not cleaned" })
    }
    if (device.value.state !== "cleaning") {
      // drained meanwhile, or cleaned by an attempt whose process died before recording it
      const outcome = alreadyEnded(job, yield* resources.history(Device, name, { limit: 50 }), device.value.state)
      yield* allocator.wake
      return outcome
    }
    if (cleaning === undefined) {
      yield* resources.setState(Device, name, "free", { from: "cleaning", reason: "its type has no cleaning command any more" }).pipe(
        Effect.catchTag("ResourceStateConflict", () => Effect.void)
      )
      yield* allocator.wake
      return JobWorker.transition("cancelled", { reason: "its type has no cleaning command any more: not cleaned" })
    }
    const timeoutMs = cleaning.timeoutSeconds * 1000
    const annotations = { device: name, type: info.type }
    yield* Effect.logInfo(`cleaning ${name}`).pipe(Effect.annotateLogs(annotations))
    const outcome = yield* Process.run(cleaning.command, { env: deviceEnvironment(info), timeoutMs })
    const ok = outcome.exitCode === 0
    const reason = ok ? cleanedReason : failedReason(outcome, timeoutMs)
    // committed before the job's outcome: see the module's comment for a death in between
    yield* resources.setState(Device, name, ok ? "free" : "quarantined", { from: "cleaning", reason }).pipe(
      // drained while it was cleaned: it stays drained
      Effect.catchTag("ResourceStateConflict", () => Effect.void)
    )
    yield* AllocatorMetrics.count(AllocatorMetrics.cleanings, { type: info.type, result: ok ? "succeeded" : "failed" })
    if (ok) {
      yield* Effect.logInfo(`cleaned ${name}`).pipe(Effect.annotateLogs(annotations))
      yield* allocator.wake
    } else {
      yield* Effect.logError(`cleaning ${name} ${Process.describe(outcome, timeoutMs)}: quarantined`).pipe(
        Effect.annotateLogs({ ...annotations, exitCode: outcome.exitCode, output: outcome.output })
      )
    }
    const result = { exitCode: outcome.exitCode ?? -1, output: outcome.output }
    return ok
      ? JobWorker.transition("cleaned", { reason, result })
      : JobWorker.transition("failed", { reason, result, error: outcome.output.slice(-2000) })
  })

/** The worker running cleaning jobs, `cleaningConcurrency` devices at once. */
export const worker = (config: AllocatorConfig) =>
  JobWorker.make({ kind: CleanJob, handler: clean, concurrency: config.cleaningConcurrency, leaseMs })
