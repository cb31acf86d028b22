/**
 * Importing a 100,000-commit history: a repository made with `git fast-import` (a linear
 * main branch with a merge from a side branch every 100 commits and a tag every 1,000) is
 * imported into a fresh SQLite database by `Repo.update`, timed. The goal: under 30 s.
 * `importSeconds()` is what `npm run bench -- bench` reports as import_100k_s; run
 * directly, this file prints it.
 */
import * as Migrations from "@orch/core/Migrations"
import { testDatabase } from "@orch/testing"
import { Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Repo from "../src/Repo.js"
import { migrations } from "../src/sql/index.js"

/** A fast-import stream of `count` commits on main (every 100th merges a side-branch commit). */
const fastImportStream = (count: number): string => {
  const parts: Array<string> = []
  const base = 1_600_000_000
  let mark = 0
  let main = 0
  for (let i = 0; i < count; i++) {
    const side = i > 0 && i % 100 === 0
    let sideMark = 0
    if (side) {
      sideMark = ++mark
      parts.push(`commit refs/heads/side\nmark :${sideMark}\ncommitter Side <side@example.com> ${base + i * 60 - 30} +0000\ndata 12\nside commit\nfrom :${main}\nM 644 inline side.txt\ndata 4\n${String(i % 1000).padStart(3, "0")}\n\n`)
      i++
    }
    const own = ++mark
    const message = `commit ${i}\n\nbody of commit ${i}\n`
    parts.push(`commit refs/heads/main\nmark :${own}\nauthor Dev <dev@example.com> ${base + i * 60} +0000\ncommitter Dev <dev@example.com> ${base + i * 60} +0000\ndata ${Buffer.byteLength(message)}\n${message}`)
    if (main > 0) parts.push(`from :${main}\n`)
    if (side) parts.push(`merge :${sideMark}\n`)
    parts.push(`M 644 inline counter.txt\ndata ${String(i).length + 1}\n${i}\n\n`)
    if (i % 1000 === 0) parts.push(`reset refs/tags/v${i}\nfrom :${own}\n\n`)
    main = own
  }
  return parts.join("")
}

/** A bare repository of `count` commits in a temp folder. */
export const makeRepo = (count: number): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orch-bench-import-"))
  const git = (args: Array<string>, input?: string) => {
    const result = spawnSync("git", args, { cwd: dir, input, maxBuffer: 1 << 30 })
    if (result.status !== 0) throw new Error(`git ${args[0]}: ${result.stderr.toString()}`)
  }
  git(["init", "--bare", "--quiet", "--initial-branch=main"])
  git(["fast-import", "--quiet"], fastImportStream(count))
  return dir
}

/** Seconds to import a 100,000-commit history into a fresh database. */
export async function importSeconds(count = 100_000): Promise<number> {
  const dir = makeRepo(count)
  const layer = Layer.effectDiscard(Migrations.apply("bench", migrations)).pipe(Layer.provideMerge(testDatabase()), Layer.orDie)
  try {
    return await Effect.runPromise(Effect.gen(function*() {
      const started = performance.now()
      const summary = yield* Repo.update({ dir, firstImportQueue: 1 })
      const seconds = (performance.now() - started) / 1000
      if (summary.imported < count) throw new Error(`imported ${summary.imported} of ${count} commits`)
      return seconds
    }).pipe(Effect.provide(layer)))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const seconds = await importSeconds()
  console.log(`bench: import_100k_s=${seconds.toFixed(2)}`)
}
