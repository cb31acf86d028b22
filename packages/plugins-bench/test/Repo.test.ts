/** The tracked repository's import with the git binary, over real repositories and a real SQLite file. */
import { expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { tempDir } from "@orch/testing"
import { Effect } from "effect"
import * as path from "node:path"
import * as Repo from "../src/Repo.js"
import { benchDatabaseOn, makeRepo } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

const rows = <A extends object>(query: string) => Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(query))
const reachableOf = (hash: string) =>
  Effect.map(rows<{ reachable: number }>(`SELECT reachable FROM bench_commits WHERE hash = '${hash}'`), (r) => r[0]?.reachable)
const queued = Effect.map(rows<{ hash: string; reason: string }>("SELECT hash, reason FROM bench_queue ORDER BY hash"), (r) => r.map((x) => x.hash))

describeBackends("Repo.update", (backend) => {
  const benchDatabase = () => benchDatabaseOn(backend)
  it.effect("imports commits, parents, refs and reachability; the first import queues only the newest tracked commit", () =>
    Effect.gen(function*() {
      const repo = makeRepo()
      const a = repo.commit("a")
      const b = repo.commit("b")
      repo.git("checkout", "--quiet", "-b", "feature")
      const f = repo.commit("f")
      repo.git("checkout", "--quiet", "main")
      const c = repo.commit("c")
      repo.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
      const m = repo.git("rev-parse", "HEAD")
      repo.git("tag", "-a", "-m", "release", "v1", b)
      repo.git("checkout", "--quiet", "--orphan", "lonely")
      const l = repo.commit("lonely root")
      repo.git("checkout", "--quiet", "main")

      const summary = yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      expect(summary).toMatchObject({ imported: 6, refs: 4, queued: 1, first: true })
      const edges = yield* rows<{ child: string; parent: string; position: number }>("SELECT child, parent, position FROM bench_commit_edges ORDER BY child, position")
      expect(edges).toHaveLength(5)
      expect(edges.filter((e) => e.child === m)).toEqual([{ child: m, parent: c, position: 0 }, { child: m, parent: f, position: 1 }])
      const commit = (yield* rows<any>(`SELECT * FROM bench_commits WHERE hash = '${b}'`))[0]
      expect(commit).toMatchObject({ author: "Ada <ada@example.com>", message: "b", author_date: 1_700_000_120_000, new: 0 })
      const refs = yield* rows<{ name: string; hash: string; tracked: number }>("SELECT name, hash, tracked FROM bench_refs ORDER BY name")
      expect(refs).toEqual([
        { name: "refs/heads/feature", hash: f, tracked: 0 },
        { name: "refs/heads/lonely", hash: l, tracked: 0 },
        { name: "refs/heads/main", hash: m, tracked: 1 },
        // an annotated tag names the commit it points at
        { name: "refs/tags/v1", hash: b, tracked: 0 }
      ])
      for (const hash of [a, b, c, f, m]) expect(yield* reachableOf(hash)).toBe(2)
      expect(yield* reachableOf(l)).toBe(1)
      // the history is not queued, only the tip of main
      expect(yield* queued).toEqual([m])

      // nothing new: nothing imported, nothing queued
      expect(yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })).toMatchObject({ imported: 0, queued: 0, first: false })
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("new commits on a tracked ref are queued; on an untracked one only once a tracked ref reaches them", () =>
    Effect.gen(function*() {
      const repo = makeRepo()
      const a = repo.commit("a")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      const b = repo.commit("b")
      const c = repo.commit("c")
      repo.git("checkout", "--quiet", "-b", "topic")
      const t = repo.commit("t")
      expect(yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })).toMatchObject({ imported: 3, queued: 2 })
      expect(yield* queued).toEqual([a, b, c].sort())
      expect(yield* reachableOf(t)).toBe(1)
      // main fast-forwards to the topic: its commit is queued now
      repo.git("checkout", "--quiet", "main")
      repo.git("merge", "--quiet", "--ff-only", "topic")
      expect(yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })).toMatchObject({ imported: 0, queued: 1 })
      expect(yield* queued).toEqual([a, b, c, t].sort())
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("a force-push and a deleted branch: the dropped commits become unreachable and leave the queue", () =>
    Effect.gen(function*() {
      const repo = makeRepo()
      const a = repo.commit("a")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      const b = repo.commit("b")
      repo.git("branch", "gone")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      expect(yield* queued).toEqual([a, b].sort())
      // main is reset to a and b replaced: b stays reachable from the branch "gone" only
      repo.git("reset", "--quiet", "--hard", a)
      const b2 = repo.commit("b2")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      expect(yield* reachableOf(b)).toBe(1)
      expect(yield* queued).toEqual([a, b2].sort())
      repo.git("branch", "-D", "gone")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      expect(yield* reachableOf(b)).toBe(0)
      expect((yield* rows<{ name: string }>("SELECT name FROM bench_refs")).map((r) => r.name)).toEqual(["refs/heads/main"])
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("a clone of a remote: a commit pushed there arrives with the next fetch; a person's tracked choice is kept", () =>
    Effect.gen(function*() {
      const origin = makeRepo()
      origin.commit("a")
      origin.git("branch", "release")
      const clone = path.join(tempDir(), "clone")
      expect(yield* Repo.ensureClone(clone, origin.dir)).toBe(true)
      expect(yield* Repo.ensureClone(clone, origin.dir)).toBe(false)
      const options = { dir: clone, trackedRefs: ["refs/heads/rel*"], firstImportQueue: 1 }
      yield* Repo.update(options)
      const sql = yield* SqlClient.SqlClient
      // a person stops tracking release and starts tracking main; the config's globs no longer decide for them
      yield* sql`UPDATE bench_refs SET tracked = CASE WHEN name = 'refs/heads/main' THEN 1 ELSE 0 END, tracked_chosen = 1`
      const b = origin.commit("b")
      yield* Repo.fetch(clone, origin.dir)
      expect(yield* Repo.update(options)).toMatchObject({ imported: 1, queued: 1 })
      expect(yield* queued).toContain(b)
      expect(yield* rows<{ name: string; tracked: number }>("SELECT name, tracked FROM bench_refs ORDER BY name")).toEqual([
        { name: "refs/heads/main", tracked: 1 },
        { name: "refs/heads/release", tracked: 0 }
      ])
      // resolving revs through git
      expect(yield* Repo.resolve(clone, "main")).toBe(b)
      expect(yield* Repo.resolve(clone, "--upload-pack=touch /tmp/x")).toBeUndefined()
      expect(yield* Repo.resolve(clone, "nope")).toBeUndefined()
    }).pipe(Effect.provide(benchDatabase())))

  it.effect("the branch HEAD names at the first import is tracked, whatever its name, and stays so", () =>
    Effect.gen(function*() {
      const repo = makeRepo()
      repo.git("checkout", "--quiet", "-b", "trunk")
      repo.commit("a")
      yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })
      repo.git("checkout", "--quiet", "-b", "elsewhere")
      const b = repo.commit("b")
      repo.git("checkout", "--quiet", "trunk")
      const c = repo.commit("c")
      expect(yield* Repo.update({ dir: repo.dir, firstImportQueue: 1 })).toMatchObject({ imported: 2, queued: 1 })
      expect(yield* rows<{ name: string; tracked: number }>("SELECT name, tracked FROM bench_refs ORDER BY name")).toEqual([
        { name: "refs/heads/elsewhere", tracked: 0 },
        { name: "refs/heads/trunk", tracked: 1 }
      ])
      expect(yield* reachableOf(b)).toBe(1)
      expect(yield* queued).toContain(c)
    }).pipe(Effect.provide(benchDatabase())))

  it("globs: * within a segment, ** across", () => {
    const tracked = Repo.matcher(["refs/heads/release-*", "refs/tags/**"])
    expect(tracked("refs/heads/release-1")).toBe(true)
    expect(tracked("refs/heads/release-1/x")).toBe(false)
    expect(tracked("refs/tags/a/b")).toBe(true)
    expect(tracked("refs/heads/main")).toBe(false)
  })
})
