/**
 * The three stores of Neubot's spec (config, data, log), each its own SQLite file in the
 * plugin's folder of the data dir, so that its size on disk is plainly the file's (plus
 * its WAL) and pruning one never rewrites another. Each is capped at `max_database_size`
 * bytes: after a write that leaves it over the cap, the oldest half of its rows go and
 * VACUUM gives the space back.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { Clock, Context, Effect, Layer, Metric, Ref, type Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Sql from "./sql.js"

export type StoreName = "config" | "data" | "log"
export const storeNames: ReadonlyArray<StoreName> = ["config", "data", "log"]

/** Neubot 0.4's severities (log.py): its web UI colours ERROR, WARNING and INFO rows (log.js). */
export const Severities = ["DEBUG", "INFO", "WARNING", "ERROR"] as const
export type Severity = typeof Severities[number]

export const storePrunes = Metric.counter("orch_scheduler_store_prunes_total", {
  description: "Times a scheduler store passed max_database_size and lost its oldest half, by store",
  incremental: true
})

const tables: Record<StoreName, Sql.StoreTable> = {
  config: { table: "scheduler_config", order: "name" },
  data: { table: "scheduler_data", order: "timestamp_msec" },
  log: { table: "scheduler_log", order: "id" }
}

const migrations = { config: Sql.configMigrations, data: Sql.dataMigrations, log: Sql.logMigrations }

/** Bytes the store takes on disk: the file and its write-ahead log. */
const bytesOnDisk = (file: string): number => {
  let total = 0
  for (const name of [file, `${file}-wal`]) {
    try {
      total += fs.statSync(name).size
    } catch {
      // no WAL yet
    }
  }
  return total
}

export interface PruneReport {
  readonly store: StoreName
  readonly removed: number
  readonly before: number
  readonly after: number
}

/**
 * @effect/sql finds an open transaction through one context tag shared by every client:
 * a store query made inside a transaction of orch's database (a schedule firing) would
 * run on that database's connection. Store operations drop the tag and use their own file.
 */
const own = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(effect, (context: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(context) as Context.Context<R>)

interface Capped {
  readonly name: StoreName
  readonly file: string
  readonly sql: SqlClient.SqlClient
}

export interface StoresService {
  readonly dir: string
  readonly files: Readonly<Record<StoreName, string>>
  /** The cap in bytes, shared by the three stores. */
  readonly maxBytes: Ref.Ref<number>
  readonly config: {
    readonly all: Effect.Effect<ReadonlyArray<Sql.ConfigRow>, SqlError>
    /** Writes every row in one transaction. */
    readonly put: (rows: ReadonlyArray<Sql.ConfigRow>) => Effect.Effect<void, SqlError>
  }
  readonly data: {
    /** Returns the timestamp (ms) the row is stored under. */
    readonly insert: (row: Sql.DataRow) => Effect.Effect<number, SqlError>
    readonly select: (filter: Parameters<typeof Sql.selectData>[1]) => Effect.Effect<ReadonlyArray<Sql.DataRow>, SqlError>
    readonly latestPerTest: Effect.Effect<ReadonlyArray<Sql.DataRow>, SqlError>
  }
  readonly log: {
    readonly insert: (severity: Severity, message: string) => Effect.Effect<void, SqlError>
    readonly select: (filter: Parameters<typeof Sql.selectLog>[1]) => Effect.Effect<ReadonlyArray<Sql.LogRow>, SqlError>
  }
  /** Bytes on disk per store. */
  readonly sizes: Effect.Effect<Readonly<Record<StoreName, number>>>
  /** Prunes `store` when it is over the cap (after a checkpoint folds its WAL in). */
  readonly enforceCap: (store: StoreName) => Effect.Effect<PruneReport | undefined, SqlError>
}

export class Stores extends Context.Tag("@orch/plugins-scheduler/Stores")<Stores, StoresService>() {}

const openOne = (name: StoreName, file: string): Effect.Effect<Capped, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(Database.layer({ filename: file }))
    const sql = Context.get(context, SqlClient.SqlClient)
    yield* Migrations.apply(`scheduler-${name}`, migrations[name]).pipe(Effect.provideService(SqlClient.SqlClient, sql))
    return { name, file, sql }
  })

/**
 * Opens (creating) the three stores under `dir`. `maxBytes` is the cap to start with;
 * the config store's `max_database_size`, when set, replaces it (see Settings).
 */
export const make = (options: { readonly dir: string; readonly maxBytes: number }) =>
  Effect.gen(function*() {
    const dir = path.resolve(options.dir)
    yield* Effect.try(() => fs.mkdirSync(dir, { recursive: true }))
    const files = {
      config: path.join(dir, "config.sqlite3"),
      data: path.join(dir, "data.sqlite3"),
      log: path.join(dir, "log.sqlite3")
    }
    const stores = {
      config: yield* openOne("config", files.config),
      data: yield* openOne("data", files.data),
      log: yield* openOne("log", files.log)
    }
    const maxBytes = yield* Ref.make(options.maxBytes)
    // every store's series shows from the start, at 0 until it is first pruned
    for (const name of storeNames) yield* Metric.incrementBy(Metric.tagged(storePrunes, "store", name), 0)

    const enforceCap = (name: StoreName) =>
      Effect.gen(function*() {
        const store = stores[name]
        const cap = yield* Ref.get(maxBytes)
        if (bytesOnDisk(store.file) <= cap) return undefined
        // the WAL holds pages already counted in the file or about to be: fold it in first
        yield* Sql.checkpoint(store.sql)
        const before = bytesOnDisk(store.file)
        if (before <= cap) return undefined
        // halve until under the cap: one halving is not enough when the cap was just lowered
        let removed = 0
        for (;;) {
          const rows = yield* Sql.countRows(store.sql, tables[name])
          if (rows === 0) break
          const half = Math.ceil(rows / 2)
          yield* Sql.deleteOldest(store.sql, tables[name], half)
          removed += half
          yield* Sql.vacuum(store.sql)
          yield* Sql.checkpoint(store.sql)
          if (bytesOnDisk(store.file) <= cap) break
        }
        const after = bytesOnDisk(store.file)
        yield* Metric.increment(Metric.tagged(storePrunes, "store", name))
        yield* Effect.logInfo(`scheduler ${name} store was ${before} bytes, over its cap of ${cap}: removed its ${removed} oldest rows, now ${after} bytes`)
        return { store: name, removed, before, after }
      })

    const afterWrite = (name: StoreName) => <A, E>(write: Effect.Effect<A, E>) =>
      Effect.tap(write, () => enforceCap(name))

    const service: StoresService = {
      dir,
      files,
      maxBytes,
      config: {
        all: own(Sql.listConfig(stores.config.sql)),
        put: (rows) =>
          own(
            stores.config.sql.withTransaction(Effect.forEach(rows, (row) => Sql.putConfig(stores.config.sql, row), { discard: true })).pipe(
              afterWrite("config")
            )
          )
      },
      data: {
        insert: (row) => own(Sql.insertData(stores.data.sql, row).pipe(afterWrite("data"))),
        select: (filter) => own(Sql.selectData(stores.data.sql, filter)),
        latestPerTest: own(Sql.latestPerTest(stores.data.sql))
      },
      log: {
        insert: (severity, message) =>
          own(
            Effect.flatMap(Clock.currentTimeMillis, (timestamp) => Sql.insertLog(stores.log.sql, { timestamp, severity, message })).pipe(
              afterWrite("log")
            )
          ),
        select: (filter) => own(Sql.selectLog(stores.log.sql, filter))
      },
      sizes: Effect.sync(() => ({ config: bytesOnDisk(files.config), data: bytesOnDisk(files.data), log: bytesOnDisk(files.log) })),
      enforceCap: (name) => own(enforceCap(name))
    }
    return service
  })

export const layer = (options: { readonly dir: string; readonly maxBytes: number }) => Layer.scoped(Stores, make(options))

/** The newest result of each test, read from the data store's file if there is one (for the TUI). */
export const latestResults = (dir: string): Effect.Effect<ReadonlyArray<Sql.DataRow>, unknown> => {
  const file = path.join(path.resolve(dir), "data.sqlite3")
  if (!fs.existsSync(file)) return Effect.succeed([])
  return Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(Database.layer({ filename: file }))
    return yield* Sql.latestPerTest(Context.get(context, SqlClient.SqlClient))
  }))
}
