/**
 * The bench plugin's service: where the tracked repository and the bench repository are,
 * the worker token, and the repository update (fetch, then import) that the loop and the
 * API run one at a time.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import * as path from "node:path"
import type { BenchConfig } from "./BenchConfig.js"
import * as Git from "./Git.js"
import type * as Protocol from "./Protocol.js"
import * as Repo from "./Repo.js"
import * as Runs from "./Runs.js"

export interface BenchService {
  readonly config: BenchConfig
  /** The tracked repository's directory; undefined when there is none (no config, not run in a repository). */
  readonly repoDir: string | undefined
  readonly benchRepoDir: string | undefined
  /** The password workers send: `bench.token`, or a random one this process made (for a local worker). */
  readonly token: Redacted.Redacted<string>
  /** Fetches (when there is a remote) and imports; one at a time. */
  readonly update: Effect.Effect<Repo.UpdateSummary | undefined, Git.GitError | SqlError, SqlClient.SqlClient>
  /** How runs handed out now are benchmarked: with the bench repository's HEAD, else internally. */
  readonly benchMethod: Effect.Effect<Protocol.BenchMethod>
}

export class Bench extends Context.Tag("@orch/plugins-bench/Bench")<Bench, BenchService>() {}

/** Where the repository is: `repo` (cloned from `remote` when missing), else `./bench-repo` for a remote, else the repository orch runs in. */
export const locateRepo = (config: BenchConfig): Effect.Effect<string | undefined, Git.GitError> =>
  Effect.gen(function*() {
    if (config.remote !== undefined) {
      const dir = path.resolve(config.repo ?? "bench-repo")
      const cloned = yield* Repo.ensureClone(dir, config.remote)
      if (cloned) yield* Effect.logInfo(`bench: cloned ${config.remote} into ${dir}`)
      return dir
    }
    if (config.repo !== undefined) {
      const dir = path.resolve(config.repo)
      const gitDir = yield* Repo.gitDirOf(dir)
      if (gitDir === undefined) return yield* new Git.GitError({ args: [], message: `bench.repo: ${dir} is not a git repository (and bench.remote is not set to clone one)` })
      return dir
    }
    return yield* Repo.gitDirOf(process.cwd())
  })

export const make = (config: BenchConfig) =>
  Effect.gen(function*() {
    const repoDir = yield* locateRepo(config)
    if (repoDir === undefined) {
      yield* Effect.logInfo("bench: no repository (set bench.repo or bench.remote, or run orch in a git repository); serving the API without one")
    } else {
      yield* Effect.logInfo(`bench: tracking ${repoDir}`)
    }
    const benchRepoDir = config.benchRepo === undefined ? undefined : path.resolve(config.benchRepo)
    if (benchRepoDir !== undefined && (yield* Repo.gitDirOf(benchRepoDir)) === undefined) {
      return yield* new Git.GitError({ args: [], message: `bench.benchRepo: ${benchRepoDir} is not a git repository` })
    }
    const lock = yield* Effect.makeSemaphore(1)
    const update = repoDir === undefined ? Effect.succeed(undefined) : lock.withPermits(1)(Effect.gen(function*() {
      if (config.remote !== undefined) yield* Repo.fetch(repoDir, config.remote)
      const summary = yield* Repo.update({ dir: repoDir, trackedRefs: config.trackedRefs, firstImportQueue: config.firstImportQueue })
      if (summary.imported > 0 || summary.queued > 0) {
        yield* Effect.logInfo(`bench: imported ${summary.imported} commit(s), ${summary.refs} ref(s); queued ${summary.queued}`)
      }
      return summary
    }))
    const benchMethod: Effect.Effect<Protocol.BenchMethod> = benchRepoDir === undefined
      ? Effect.succeed({ type: "internal" })
      : Effect.map(Repo.resolve(benchRepoDir, "HEAD"), (hash) => hash === undefined ? { type: "internal" as const } : { type: "repo" as const, hash })
    return {
      config,
      repoDir,
      benchRepoDir,
      token: Option.getOrElse(Option.fromNullable(config.token), () => Redacted.make(Runs.randomId("t-"))),
      update,
      benchMethod
    } satisfies BenchService
  })

export const layer = (config: BenchConfig) => Layer.effect(Bench, make(config))
