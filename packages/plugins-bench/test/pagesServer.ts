/**
 * A real daemon in this process (`Runtime.start`: HTTP on 127.0.0.1:0, a SQLite file in a temp
 * folder) running the bench plugin with `pageRoutes` mounted, and a second
 * connection to the same file to seed the tables with rows, as the importer and the worker
 * API would write them. Shared by the page tests and `bench/bench.ts`.
 */
import * as Config from "@orch/core/Config"
import * as Plugin from "@orch/core/Plugin"
import * as Runtime from "@orch/core/Runtime"
import { tempDir } from "@orch/testing"
import Database from "better-sqlite3"
import { Effect, Exit, Logger, LogLevel, Scope } from "effect"
import { plugin } from "../src/index.js"

/**
 * The bench plugin with its pages and read API mounted beside its own routes (what the
 * coordinator wires in `index.ts`), without its loops: the seeded rows stand for what the
 * repository loop would import (it would import the repository the test runs in).
 */
/** The plugin without its loops: the repo loop would import the git repository the test runs in over the seeded rows. */
export const benchPlugin = () => Plugin.make({ ...plugin, loops: undefined })

export interface PagesServer {
  readonly url: string
  readonly db: Database.Database
  readonly seed: Seed
  readonly close: () => Promise<void>
}

export const startPagesServer = async (): Promise<PagesServer> => {
  const scope = Effect.runSync(Scope.make())
  const plugins = [benchPlugin()]
  const { url, file } = await Effect.runPromise(
    Effect.gen(function*() {
      const config = yield* Config.load(plugins, { dataDir: tempDir("orch-bench-pages-"), httpHost: "127.0.0.1", httpPort: 0, logLevel: "error" }, {})
      const { info, running } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "0.0.0-test" })
      // its routes answer 503 until its services are up
      yield* Effect.forEach(running, (p) => p.started, { discard: true })
      return { url: info.url, file: config.database.location }
      // (the plugin list's types leave the requirements `any`: core provides them all)
    }).pipe((effect) => effect as Effect.Effect<{ url: string; file: string }, unknown>,Logger.withMinimumLogLevel(LogLevel.Warning), Scope.extend(scope))
  )
  const db = new Database(file)
  db.pragma("busy_timeout = 5000")
  return {
    url,
    db,
    seed: seeder(db),
    close: async () => {
      db.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

export interface CommitSeed {
  readonly hash: string
  readonly message?: string
  readonly date?: number
  readonly parents?: ReadonlyArray<string>
  readonly author?: string
}

export interface MeasurementSeed {
  readonly value: number
  readonly lower?: number
  readonly upper?: number
  readonly samples?: ReadonlyArray<number>
  readonly unit?: string
  /** -1 less is better, 1 more is better */
  readonly direction?: number
}

export type Seed = ReturnType<typeof seeder>

/** Inserts rows as the importer, the queue and the worker API would. */
export const seeder = (db: Database.Database) => {
  const commit = db.prepare(`INSERT INTO bench_commits (hash, author, author_date, committer, committer_date, message, reachable, new, seen_at)
    VALUES (?, ?, ?, ?, ?, ?, 2, 0, ?)`)
  const edge = db.prepare(`INSERT INTO bench_commit_edges (child, parent, position) VALUES (?, ?, ?)`)
  const ref = db.prepare(`INSERT INTO bench_refs (name, hash, tracked, updated_at) VALUES (?, ?, ?, ?)`)
  const run = db.prepare(`INSERT INTO bench_runs (id, hash, bench_method, worker_name, worker_info, fingerprint, started_at, ended_at, exit_code, source)
    VALUES (?, ?, 'internal', ?, NULL, ?, ?, ?, ?, ?)`)
  const metric = db.prepare(`INSERT INTO bench_metrics (name, unit, direction) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`)
  const measurement = db.prepare(`INSERT INTO bench_measurements (run_id, metric, value, lower_value, upper_value, samples) VALUES (?, ?, ?, ?, ?, ?)`)
  const output = db.prepare(`INSERT INTO bench_run_output (run_id, line, source, text) VALUES (?, ?, ?, ?)`)
  const queue = db.prepare(`INSERT INTO bench_queue (hash, priority, reason, queued_at) VALUES (?, ?, ?, ?)`)
  const worker = db.prepare(`INSERT INTO bench_workers (name, secret, info, fingerprint, status, run_id, run_hash, first_seen, last_seen) VALUES (?, 'secret', ?, ?, ?, ?, ?, ?, ?)`)
  const alert = db.prepare(`INSERT INTO bench_alerts (id, good_hash, bad_hash, blamed_hash, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
  const alertMetric = db.prepare(`INSERT INTO bench_alert_metrics (alert_id, metric, before_mean, after_mean, change, p_value, regression) VALUES (?, ?, ?, ?, ?, ?, ?)`)
  return {
    commits: (commits: ReadonlyArray<CommitSeed>) =>
      db.transaction(() => {
        for (const c of commits) {
          const date = c.date ?? 1_700_000_000_000
          commit.run(c.hash, c.author ?? "A U Thor <a@example.com>", date, c.author ?? "A U Thor <a@example.com>", date, c.message ?? `commit ${c.hash.slice(0, 7)}`, date)
        }
        for (const c of commits) (c.parents ?? []).forEach((parent, position) => edge.run(c.hash, parent, position))
      })(),
    ref: (name: string, hash: string, tracked = true) => ref.run(name, hash, tracked ? 1 : 0, 1_700_000_000_000),
    run: (options: {
      readonly id: string
      readonly hash: string
      readonly worker?: string | null
      readonly fingerprint?: unknown
      readonly endedAt?: number
      readonly exitCode?: number
      readonly measurements?: Readonly<Record<string, MeasurementSeed>>
      readonly output?: ReadonlyArray<readonly [1 | 2, string]>
    }) =>
      db.transaction(() => {
        const ended = options.endedAt ?? 1_700_000_100_000
        run.run(
          options.id,
          options.hash,
          options.worker === undefined ? "worker-1" : options.worker,
          options.fingerprint === undefined ? null : JSON.stringify(options.fingerprint),
          ended - 1000,
          ended,
          options.exitCode ?? 0,
          options.worker === null ? "import" : "worker"
        )
        for (const [name, m] of Object.entries(options.measurements ?? {})) {
          metric.run(name, m.unit ?? null, m.direction ?? 0)
          measurement.run(options.id, name, m.value, m.lower ?? null, m.upper ?? null, m.samples === undefined ? null : JSON.stringify(m.samples))
        }
        ;(options.output ?? []).forEach(([source, text], line) => output.run(options.id, line, source, text))
      })(),
    queue: (hash: string, priority = 0, reason = "new", queuedAt = 1_700_000_200_000) => queue.run(hash, priority, reason, queuedAt),
    worker: (name: string, status: unknown, options: { readonly fingerprint?: unknown; readonly info?: string; readonly runId?: string; readonly runHash?: string; readonly lastSeen?: number } = {}) =>
      worker.run(
        name,
        options.info ?? null,
        options.fingerprint === undefined ? null : JSON.stringify(options.fingerprint),
        JSON.stringify(status),
        options.runId ?? null,
        options.runHash ?? null,
        1_700_000_000_000,
        options.lastSeen ?? Date.now()
      ),
    alert: (
      id: number,
      good: string,
      bad: string,
      state: string,
      blamed: string | null,
      metrics: ReadonlyArray<{ readonly metric: string; readonly before: number; readonly after: number; readonly p: number; readonly regression: boolean }>
    ) =>
      db.transaction(() => {
        alert.run(id, good, bad, blamed, state, 1_700_000_300_000, 1_700_000_300_000)
        for (const m of metrics) alertMetric.run(id, m.metric, m.before, m.after, (m.after - m.before) / m.before, m.p, m.regression ? 1 : 0)
      })()
  }
}

/** A 40-digit hex hash from a number, distinct per number in its first `prefix.length + 8` digits. */
export const hashOf = (n: number, prefix = "") => (prefix + n.toString(16).padStart(8, "0")).padEnd(40, "0")
