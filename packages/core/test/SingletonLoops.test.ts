/**
 * A plugin loop declared `singleton: true`, through a real daemon (`Runtime.start`: a real
 * SQLite file, HTTP on 127.0.0.1:0): it runs once this node holds its lease, gets the lease
 * as `SingletonLease`, and `/readyz` shows it as leader; stopping the daemon gives the
 * lease up.
 */
import { expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { tempDir, waitFor } from "@orch/testing"
import { Effect, Exit, Schema, Scope } from "effect"
import * as Config from "../src/Config.js"
import * as Database from "../src/Database.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"
import { SingletonLease, type SingletonLeaseService } from "../src/Singletons.js"
import * as Sql from "../src/sql/singletons.js"

it.live("a singleton loop runs on the node holding its lease, shown in /readyz, given up at stop", () =>
  (Effect.gen(function*() {
    const seen: Array<SingletonLeaseService> = []
    const solo = Plugin.make({
      name: "solo",
      description: "one loop for the whole cluster",
      config: Schema.Struct({}),
      loops: () => ({
        tick: { iteration: Effect.flatMap(SingletonLease, (lease) => Effect.sync(() => void seen.push(lease))), every: "50 millis", singleton: true }
      })
    })
    const dataDir = tempDir("orch-singleton-")
    const loaded = yield* Config.load([solo], { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, {})
    const scope = yield* Scope.make()
    const { info } = yield* Runtime.start({ config: loaded, available: [solo], selected: [solo], version: "test" }).pipe(Scope.extend(scope))
    yield* waitFor("the loop ran", Effect.sync(() => (seen.length > 0 ? true : undefined)))
    expect(seen[0]).toMatchObject({ name: "solo:tick", holder: Plugin.ownerId("solo") })
    const ready = yield* Effect.promise(() => fetch(`${info.url}/readyz`).then((response) => response.json() as Promise<{ loops: unknown }>))
    const tick = (ready.loops as Array<{ name: string; singleton?: { leader: boolean; holder: string; token: number } }>)
      .find((loop) => loop.name === "solo:tick")
    expect(tick?.singleton).toMatchObject({ leader: true, holder: Plugin.ownerId("solo"), token: seen[0]!.token })
    yield* Scope.close(scope, Exit.void)
    const row = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => Sql.getSingleton(sql, "solo:tick")).pipe(
      Effect.provide(Database.layer({ filename: loaded.database.dialect === "sqlite" ? loaded.database.file : "" }))
    )
    expect(row).toMatchObject({ holder: Plugin.ownerId("solo"), expires_at: 0 })
  }) as Effect.Effect<void, unknown>), 30_000)
