/**
 * The allocator inside the daemon: the service with its routes, and its supervised
 * loops: ending expired leases, looking again for waiting allocations, cleaning,
 * health checks, and re-reading the inventory on change or SIGHUP.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Metrics from "@orch/core/Metrics"
import { Resources } from "@orch/core/Resources"
import { Supervisor } from "@orch/core/Supervisor"
import { Effect, Layer, Ref } from "effect"
import * as os from "node:os"
import * as Allocator from "./Allocator.js"
import type { AllocatorConfig } from "./AllocatorConfig.js"
import { cleanOnce } from "./Cleaning.js"
import { checkDue } from "./Health.js"
import * as Inventory from "./Inventory.js"
import * as AllocatorMetrics from "./Metrics.js"
import { routes } from "./Routes.js"

/** Loads the inventory; on error logs where and keeps what is served (the database's devices at start). */
const reload = (allocator: Allocator.AllocatorService, file: string | undefined, why: string) =>
  Inventory.load(file).pipe(
    Effect.flatMap((inventory) =>
      Effect.zipRight(
        allocator.useInventory(inventory),
        Effect.logInfo(`inventory ${inventory.source} (${why}): ${inventory.devices.length} devices of ${Object.keys(inventory.types).length} declared types`)
      )
    ),
    Effect.catchTag("ConfigError", (error) =>
      Effect.logError(`inventory not loaded (${why}): ${String(error)}; the last good inventory keeps serving`).pipe(
        Effect.annotateLogs({ file: error.file, line: error.line, key: error.key })
      ))
  )

/** A file's identity for change detection: size and modification time (missing: undefined). */
const stamp = (file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) => fs.stat(file)).pipe(
    Effect.map((info) => `${info.size}:${info.mtime._tag === "Some" ? info.mtime.value.getTime() : 0}`),
    Effect.orElseSucceed(() => undefined)
  )

export const layer = (config: AllocatorConfig) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const supervisor = yield* Supervisor
    const resources = yield* Resources
    const empty: Inventory.Inventory = { types: {}, devices: [], source: config.inventory ?? "(example inventory)" }
    const allocator = yield* Allocator.make(config, empty)
    yield* reload(allocator, config.inventory, "start")
    yield* Metrics.addCollector(AllocatorMetrics.devicesCollector(resources))

    const every = (seconds: number) => ({ every: `${seconds} seconds` as const })
    yield* supervisor.loop("allocator:reclaim-expired", Effect.asVoid(allocator.reclaimExpired), every(config.reclaimIntervalSeconds))
    yield* supervisor.loop("allocator:waiters", allocator.wake, every(config.waiterPollSeconds))
    const owner = `${os.hostname()}:${process.pid}:allocator`
    yield* supervisor.loop("allocator:cleaning", cleanOnce(owner).pipe(Effect.provideService(Allocator.Allocator, allocator)))
    const lastChecked = new Map<string, number>()
    yield* supervisor.loop("allocator:health", checkDue(lastChecked).pipe(Effect.provideService(Allocator.Allocator, allocator)), every(1))

    if (config.inventory !== undefined) {
      const file = config.inventory
      const seen = yield* Ref.make(yield* stamp(file))
      yield* supervisor.loop("allocator:inventory", Effect.gen(function*() {
        const now = yield* stamp(file)
        if (now !== (yield* Ref.getAndSet(seen, now))) yield* reload(allocator, file, "changed")
      }), every(config.inventoryPollSeconds))
    }
    // SIGHUP re-reads the inventory now (and keeps Node from exiting on it)
    const hangups = yield* Effect.runtime<never>()
    const onHangup = () => {
      void Effect.runPromiseExit(reload(allocator, config.inventory, "SIGHUP").pipe(Effect.provide(hangups)))
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("SIGHUP", onHangup)),
      () => Effect.sync(() => process.off("SIGHUP", onHangup))
    )
    return routes(allocator, resources)
  }).pipe(Effect.annotateLogs({ plugin: "allocator" })))
