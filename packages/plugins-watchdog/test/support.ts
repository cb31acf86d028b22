/** Test support: a migrated database (SQLite, or either engine) with the watchdog's kinds, and config for the doubles. */
import { JobQueue } from "@orch/core/Jobs"
import * as Migrations from "@orch/core/Migrations"
import { Resources } from "@orch/core/Resources"
import { Layer } from "effect"
import { testDatabase } from "@orch/testing"
import type { Backend } from "@orch/testing/Backends"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "../src/Config.js"
import { InstanceKind } from "../src/Instances.js"
import { migrations } from "../src/sql.js"
import { WptTest } from "../src/WptJob.js"

const withWatchdog = <E, R>(database: Layer.Layer<SqlClient.SqlClient, E, R>) =>
  Layer.mergeAll(JobQueue.layer([WptTest]), Resources.layer([InstanceKind])).pipe(
    Layer.provideMerge(Layer.orDie(Layer.effectDiscard(Migrations.apply("watchdog", migrations)))),
    Layer.provideMerge(database)
  )

/** A SQLite file at `filename` (a new one by default), migrated, with the watchdog's queue and resources. */
export const watchdogDatabase = (filename?: string) => withWatchdog(testDatabase(filename))

/** The same over `backend`'s database at `place` (a new one by default). */
export const watchdogDatabaseOn = (backend: Backend, place?: string) => withWatchdog(backend.database(place))

/** The plugin's config pointed at the doubles, with `overrides` merged per section. */
export const configFor = (
  doubles: { readonly wptUrl: string; readonly gcePort?: number },
  overrides: Record<string, Record<string, unknown> | string> = {}
) =>
  Config.decode({
    ...overrides,
    wpt: { server: doubles.wptUrl, requestTimeoutMs: 5_000, ...(overrides.wpt as object | undefined) },
    gce: {
      project: "test-project",
      image: "wptagent-image",
      apiEndpoint: "127.0.0.1",
      port: doubles.gcePort ?? 1,
      protocol: "http",
      credentials: "none",
      ...(overrides.gce as object | undefined)
    }
  })
