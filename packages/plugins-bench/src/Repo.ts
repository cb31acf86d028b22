/**
 * The tracked repository (tablejohn's recurring/repo.rs and queue.rs, with the `git` binary):
 * clone and fetch, read every ref, import the commits no stored ref reached before with their
 * parents (one streamed `git log`, inserted in large chunks in one transaction), set
 * reachability and the refs' tracked flags, and queue the new commits of tracked refs.
 *
 * On the first import of a repository its history is not queued (a 100,000-commit history
 * would keep every worker busy for months): only the newest `firstImportQueue` commits of
 * the tracked refs are. From then on, every new commit a tracked ref reaches is queued.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import { Clock, Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Git from "./Git.js"
import * as Sql from "./sql/index.js"

export interface RepoRef {
  readonly name: string
  readonly hash: string
}

/** Default tracked refs, with the branch HEAD names at the first import. */
export const defaultTrackedRefs: ReadonlyArray<string> = ["refs/heads/main", "refs/heads/master"]

/** A glob as a RegExp: `*` within one path segment, `**` across segments, `?` one character. */
export const globToRegExp = (glob: string): RegExp => {
  let out = ""
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === "*" && glob[i + 1] === "*") {
      out += ".*"
      i++
    } else if (c === "*") out += "[^/]*"
    else if (c === "?") out += "[^/]"
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  }
  return new RegExp(`^${out}$`)
}

export const matcher = (globs: ReadonlyArray<string>) => {
  const patterns = globs.map(globToRegExp)
  return (name: string) => patterns.some((pattern) => pattern.test(name))
}

/** Clones `remote` bare into `dir` when `dir` is not a repository yet. */
export const ensureClone = (dir: string, remote: string): Effect.Effect<boolean, Git.GitError> =>
  Effect.suspend(() => {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) return Effect.succeed(false)
    fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true })
    return Effect.as(Git.run(path.dirname(path.resolve(dir)), ["clone", "--bare", "--quiet", "--end-of-options", remote, path.resolve(dir)]), true)
  })

/** Fetches branches and tags from `remote`, force-pushes and deletions included. */
export const fetch = (dir: string, remote: string) =>
  Git.run(dir, ["fetch", "--quiet", "--prune", "--no-write-fetch-head", "--end-of-options", remote, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"])

/** The repository `dir` belongs to (its git dir), if it is in one. */
export const gitDirOf = (dir: string): Effect.Effect<string | undefined> =>
  Git.run(dir, ["rev-parse", "--absolute-git-dir"]).pipe(
    Effect.map((out) => out.trim()),
    Effect.orElseSucceed(() => undefined)
  )

/** Every ref that names a commit (directly or through an annotated tag), with that commit. */
export const readRefs = (dir: string): Effect.Effect<ReadonlyArray<RepoRef>, Git.GitError> =>
  Effect.map(
    Git.run(dir, ["for-each-ref", "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)"]),
    (out) =>
      out.split("\n").flatMap((line) => {
        const [name, type, hash, peeledType, peeled] = line.split("\0")
        if (name === undefined || name === "" || name.endsWith("/HEAD")) return []
        if (type === "commit" && Git.isHash(hash ?? "")) return [{ name, hash: hash! }]
        // a tag of a tree or a blob names no commit (the Linux kernel has some)
        if (type === "tag" && peeledType === "commit" && Git.isHash(peeled ?? "")) return [{ name, hash: peeled! }]
        return []
      })
  )

/** The branch HEAD names (`refs/heads/main`), if it names one. */
export const headBranch = (dir: string): Effect.Effect<string | undefined> =>
  Git.run(dir, ["symbolic-ref", "--quiet", "HEAD"]).pipe(
    Effect.map((out) => out.trim() || undefined),
    Effect.orElseSucceed(() => undefined)
  )

/** The commit `rev` names in `dir` (a ref, a short hash, `HEAD~2` …), or undefined. */
export const resolve = (dir: string, rev: string): Effect.Effect<string | undefined> =>
  rev.length > 200 || /[\0\n]/.test(rev)
    ? Effect.succeed(undefined)
    : Git.run(dir, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`]).pipe(
      Effect.map((out) => {
        const hash = out.trim()
        return Git.isHash(hash) ? hash : undefined
      }),
      Effect.orElseSucceed(() => undefined)
    )

export interface ParsedCommit extends Sql.CommitRow {
  readonly parents: ReadonlyArray<string>
}

const logFormat = "--format=%H%x00%P%x00%an <%ae>%x00%at%x00%cn <%ce>%x00%ct%x00%B"
const fieldsPerCommit = 7

/**
 * The commits reachable from `tips` but not from `exclude`, read from one `git log -z` as
 * its output streams in (fields and commits are separated by NUL).
 */
export const newCommits = (dir: string, tips: ReadonlyArray<string>, exclude: ReadonlyArray<string>) =>
  Effect.async<Array<ParsedCommit>, Git.GitError>((resume) => {
    const args = ["log", "-z", "--no-color", "--no-show-signature", "--ignore-missing", "--stdin", logFormat]
    if (tips.length === 0) return resume(Effect.succeed([]))
    const child = spawn("git", args, { cwd: dir, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } })
    const commits: Array<ParsedCommit> = []
    let fields: Array<string> = []
    let rest = ""
    const err: Array<Buffer> = []
    const take = (field: string) => {
      fields.push(field)
      if (fields.length === fieldsPerCommit) {
        const [hash, parents, author, authorAt, committer, committerAt, message] = fields as [string, string, string, string, string, string, string]
        commits.push({
          hash,
          parents: parents === "" ? [] : [...new Set(parents.split(" "))],
          author,
          author_date: Number(authorAt) * 1000,
          committer,
          committer_date: Number(committerAt) * 1000,
          message: message.replace(/\n$/, "")
        })
        fields = []
      }
    }
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\0")
      rest = parts.pop()!
      for (const part of parts) take(part)
    })
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.on("error", (cause) => resume(Effect.fail(new Git.GitError({ args, message: `git log: ${cause.message}` }))))
    child.on("close", (code) => {
      if (code !== 0) {
        return resume(Effect.fail(new Git.GitError({ args, message: `git log exited ${code}: ${Buffer.concat(err).toString("utf8").trim()}` })))
      }
      if (rest !== "") take(rest)
      resume(Effect.succeed(commits))
    })
    child.stdin.on("error", () => {})
    child.stdin.end([...tips, ...exclude.map((hash) => `^${hash}`)].join("\n") + "\n")
    return Effect.sync(() => child.kill())
  })

/** The newest `count` commits of `tips` (by commit date). */
const newestOf = (dir: string, tips: ReadonlyArray<string>, count: number) =>
  count === 0 || tips.length === 0
    ? Effect.succeed([])
    : Effect.map(Git.run(dir, ["rev-list", `--max-count=${count}`, "--stdin"], tips.join("\n") + "\n"), (out) => out.split("\n").filter(Git.isHash))

export interface UpdateOptions {
  /** The repository's directory (a work tree or a bare git dir). */
  readonly dir: string
  /** Globs of the refs to track (see `BenchConfig.trackedRefs`); undefined: the defaults and HEAD's branch. */
  readonly trackedRefs?: ReadonlyArray<string> | undefined
  /** On a first import, how many of the newest tracked commits to queue. */
  readonly firstImportQueue: number
}

export interface UpdateSummary {
  readonly imported: number
  readonly refs: number
  readonly queued: number
  readonly first: boolean
}

/** One import of `dir` into the database: new commits, refs, reachability, queue. */
export const update = (options: UpdateOptions): Effect.Effect<UpdateSummary, Git.GitError | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const refs = yield* readRefs(options.dir)
    const isTracked = matcher(options.trackedRefs ?? defaultTrackedRefs)
    const stored = yield* Sql.listRefs(sql)
    // every commit a stored ref names was imported with its whole history: git log stops there
    const commits = yield* newCommits(options.dir, [...new Set(refs.map((ref) => ref.hash))], [...new Set(stored.map((ref) => ref.hash))])
    // in key order, the primary key's B-tree is filled page after page rather than all over
    commits.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))
    const now = yield* Clock.currentTimeMillis
    // nothing moved (the usual fetch): reachability over the whole history is not walked again
    const unchanged = commits.length === 0 && stored.length === refs.length && stored.length > 0 &&
      refs.every((ref) =>
        stored.some((row) =>
          row.name === ref.name && row.hash === ref.hash && (row.tracked_chosen === 1 || (row.tracked === 1) === isTracked(ref.name))
        )
      )
    if (unchanged) return { imported: 0, refs: refs.length, queued: 0, first: false }
    return yield* Database.transaction(Effect.gen(function*() {
      const first = (yield* Sql.countCommits(sql)) === 0
      yield* Sql.insertCommits(sql, commits, now)
      // a parent outside this import is stored already, or (a shallow clone's boundary) absent: its edge is left out
      const inImport = new Set(commits.map((commit) => commit.hash))
      const outside = [...new Set(commits.flatMap((commit) => commit.parents.filter((parent) => !inImport.has(parent))))]
      const known = outside.length === 0 ? new Set<string>() : yield* Sql.knownCommits(sql, outside)
      yield* Sql.insertEdges(sql, commits.flatMap((commit) =>
        commit.parents.flatMap((parent, position) => inImport.has(parent) || known.has(parent) ? [{ child: commit.hash, parent, position }] : [])
      ))
      const current = new Set(refs.map((ref) => ref.name))
      for (const ref of stored) if (!current.has(ref.name)) yield* Sql.deleteRef(sql, ref.name)
      for (const ref of refs) yield* Sql.upsertRef(sql, ref.name, ref.hash, isTracked(ref.name), now)
      // tablejohn tracks the branch HEAD names from the start (its main branch, whatever its name); kept as a choice
      const head = first && options.trackedRefs === undefined ? yield* headBranch(options.dir) : undefined
      if (head !== undefined && current.has(head)) yield* Sql.setRefTracked(sql, head, true)
      yield* Sql.updateReachable(sql)
      let queued = 0
      if (first) {
        yield* Sql.markAllCommitsOld(sql)
        const tracked = (yield* Sql.listRefs(sql)).filter((ref) => ref.tracked === 1).map((ref) => ref.hash)
        const newest = yield* newestOf(options.dir, [...new Set(tracked)], options.firstImportQueue)
        for (const hash of newest) yield* Sql.enqueue(sql, hash, 0, "new", now)
        queued = newest.length
      } else {
        queued = yield* Sql.queueNewTrackedCommits(sql, now)
      }
      yield* Sql.dropUntrackedNewFromQueue(sql)
      return { imported: commits.length, refs: refs.length, queued, first }
    }))
  })
