/**
 * The allocator inside the daemon: its services (the `Allocator` over the inventory,
 * its device gauge, SIGHUP re-reading the inventory) and its supervised loops: ending
 * expired leases, looking again for waiting allocations, health checks, and re-reading
 * the inventory when the file changes; and its job worker, cleaning devices. Core builds
 * the services under the supervisor and starts the loops and the worker on them.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { PluginContext } from "@orch/core/Plugin"
import type * as Plugin from "@orch/core/Plugin"
import { Resources } from "@orch/core/Resources"
import { Effect, Layer } from "effect"
import * as Allocator from "./Allocator.js"
import type { AllocatorConfig } from "./AllocatorConfig.js"
import * as Cleaning from "./Cleaning.js"
import { checkDue } from "./Health.js"
import * as Inventory from "./Inventory.js"
import * as AllocatorMetrics from "./Metrics.js"

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

/** The allocator with its inventory loaded, its device gauge and SIGHUP, for as long as its scope lasts. */
export const services = (config: AllocatorConfig) =>
  Layer.scoped(
    Allocator.Allocator,
    Effect.gen(function*() {
      const context = yield* PluginContext
      const resources = yield* Resources
      const empty: Inventory.Inventory = { types: {}, devices: [], source: config.inventory ?? "(example inventory)" }
      const allocator = yield* Allocator.make(config, empty)
      yield* reload(allocator, config.inventory, "start")
      yield* context.addCollector(AllocatorMetrics.devicesCollector(resources))
      // SIGHUP re-reads the inventory now (and keeps Node from exiting on it)
      const hangups = yield* Effect.runtime<never>()
      const onHangup = () => {
        void Effect.runPromiseExit(reload(allocator, config.inventory, "SIGHUP").pipe(Effect.provide(hangups)))
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on("SIGHUP", onHangup)),
        () => Effect.sync(() => process.off("SIGHUP", onHangup))
      )
      return allocator
    })
  )

type Loops = ReturnType<NonNullable<Plugin.Plugin<AllocatorConfig, Allocator.Allocator>["loops"]>>

export const loops = (config: AllocatorConfig): Loops => {
  const every = (seconds: number) => `${seconds} seconds` as const
  const lastChecked = new Map<string, number>()
  return {
    "reclaim-expired": {
      iteration: Effect.flatMap(Allocator.Allocator, (allocator) => Effect.asVoid(allocator.reclaimExpired)),
      every: every(config.reclaimIntervalSeconds)
    },
    // the path by which devices released by other nodes reach this node's waiters (and this node's waiters stay live for them)
    waiters: { iteration: Effect.flatMap(Allocator.Allocator, (allocator) => allocator.serveWaiting), every: every(config.waiterPollSeconds) },
    health: { iteration: checkDue(lastChecked), every: every(1) },
    ...(config.inventory === undefined ? {} : { inventory: watchInventory(config, config.inventory) })
  }
}

export const workers = (config: AllocatorConfig) => [Cleaning.worker(config)]

/** Re-reads the inventory when the file's size or modification time changes. */
const watchInventory = (config: AllocatorConfig, file: string) => {
  // undefined until the first look, at start, which only notes the file (the services loaded it)
  let seen: { readonly stamp: string | undefined } | undefined
  return {
    iteration: Effect.gen(function*() {
      const now = yield* stamp(file)
      const before = seen
      seen = { stamp: now }
      if (before !== undefined && before.stamp !== now) yield* reload(yield* Allocator.Allocator, file, "changed")
    }),
    every: `${config.inventoryPollSeconds} seconds` as const
  }
}
