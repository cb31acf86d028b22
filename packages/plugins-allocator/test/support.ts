/** Test support: an allocator over a real SQLite file in a temp folder, migrated like the daemon's. */
import * as SqlClient from "@effect/sql/SqlClient"
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import * as Notifications from "@orch/core/Notifications"
import { Resources } from "@orch/core/Resources"
import { testDatabase } from "@orch/testing"
import type { Backend } from "@orch/testing/Backends"
import { Context, Effect, Layer, Schema, type Scope } from "effect"
import * as Allocator from "../src/Allocator.js"
import { AllocatorConfig } from "../src/AllocatorConfig.js"
import { Device } from "../src/Device.js"
import * as Inventory from "../src/Inventory.js"
import { migrations } from "../src/sql.js"

/** Core's services over the backend's database at `place` (a new one by default), with core's and the allocator's migrations. */
export const servicesLayerOn = (backend: Backend, place?: string) =>
  Layer.mergeAll(Resources.layer([Device]), JobQueue.layer([Allocator.CleanJob])).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("allocator", migrations)))),
    Layer.provideMerge(backend.database(place))
  )

/** `servicesLayerOn` with core's wake-ups across nodes under them, as the daemon has them. */
export const notifiedServicesLayerOn = (backend: Backend, place?: string) =>
  Layer.mergeAll(Resources.layer([Device]), JobQueue.layer([Allocator.CleanJob])).pipe(
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("allocator", migrations)))),
    Layer.provideMerge(backend.database(place))
  )

/** `servicesLayerOn` SQLite, at `filename` (a new file by default). */
export const servicesLayer = (filename?: string) =>
  Layer.mergeAll(Resources.layer([Device]), JobQueue.layer([Allocator.CleanJob])).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("allocator", migrations)))),
    Layer.provideMerge(testDatabase(filename))
  )

export type Services = Resources | JobQueue | SqlClient.SqlClient

/** `count` devices of `type`, named `<type>-<i>`. */
export const inventoryText = (devices: ReadonlyArray<{ readonly type: string; readonly count: number; readonly labels?: Record<string, string> }>, types = "") =>
  [
    "types:" + (types === "" ? " {}" : "\n" + types),
    "devices:",
    ...devices.flatMap(({ count, labels, type }) =>
      Array.from({ length: count }, (_, i) =>
        `  - { name: ${type}-${i}, type: ${type}, labels: ${JSON.stringify(labels ?? {})}, connection: { host: 127.0.0.1, port: ${20000 + i} } }`)
    )
  ].join("\n") + "\n"

/** An allocator serving `text` as its inventory, over the services in context. */
export const makeAllocator = (
  text: string,
  config: Partial<typeof AllocatorConfig.Encoded> = {}
): Effect.Effect<Allocator.AllocatorService, never, Services | Scope.Scope> =>
  Effect.gen(function*() {
    const inventory = yield* Effect.orDie(Inventory.parse(text, "inventory.yaml"))
    const allocator = yield* Allocator.make(Schema.decodeUnknownSync(AllocatorConfig)(config), inventory)
    yield* Effect.orDie(allocator.useInventory(inventory))
    return allocator
  })

export const provideAllocator = <A, E, R>(
  allocator: Allocator.AllocatorService,
  effect: Effect.Effect<A, E, R>
) => Effect.provide(effect, Context.make(Allocator.Allocator, allocator))
