/** Test support: real git repositories made with the git binary, and a migrated database (SQLite, or either engine). */
import * as Migrations from "@orch/core/Migrations"
import { tempDir, testDatabase } from "@orch/testing"
import type { Backend } from "@orch/testing/Backends"
import { Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { migrations } from "../src/sql/index.js"

/** Core's database with the bench plugin's migrations, in a new temp file (or `filename`). */
export const benchDatabase = (filename?: string) =>
  Layer.effectDiscard(Migrations.apply("bench", migrations)).pipe(Layer.provideMerge(testDatabase(filename)), Layer.orDie)

/** The same over `backend`'s database at `place` (a new one by default). */
export const benchDatabaseOn = (backend: Backend, place?: string) =>
  Layer.effectDiscard(Migrations.apply("bench", migrations)).pipe(Layer.provideMerge(backend.database(place)), Layer.orDie)

/** A work tree with `git` bound to it; commits get increasing dates so "newest" is well defined. */
export const makeRepo = (dir = path.join(tempDir("orch-bench-repo-"), "repo")) => {
  fs.mkdirSync(dir, { recursive: true })
  let clock = 1_700_000_000
  const git = (...args: Array<string>): string =>
    execFileSync("git", args, {
      cwd: dir,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Ada",
        GIT_AUTHOR_EMAIL: "ada@example.com",
        GIT_COMMITTER_NAME: "Ada",
        GIT_COMMITTER_EMAIL: "ada@example.com",
        GIT_AUTHOR_DATE: `${clock} +0000`,
        GIT_COMMITTER_DATE: `${clock} +0000`,
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_CONFIG_NOSYSTEM: "1"
      }
    }).trim()
  git("init", "--quiet", "--initial-branch=main")
  /** A commit that writes `file` (default: a file named for the message); its hash. */
  const commit = (message: string, file = `${message.replace(/\W+/g, "_")}.txt`) => {
    clock += 60
    fs.writeFileSync(path.join(dir, file), `${message}\n`)
    git("add", "-A")
    git("commit", "--quiet", "-m", message)
    return git("rev-parse", "HEAD")
  }
  return { dir, git, commit }
}
