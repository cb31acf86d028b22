/**
 * The `git` binary as the bench plugin uses it: a command run to its end (its stdout as
 * text), or its stdout as a stream of bytes (a tarball, a long log). Arguments are never
 * given to a shell; hashes are checked by `isHash` before they reach git.
 */
import { Data, Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import type { Readable } from "node:stream"

export class GitError extends Data.TaggedError("GitError")<{ readonly args: ReadonlyArray<string>; readonly message: string }> {}

/** A full SHA-1 object name, lower case: the only form of a hash orch passes to git. */
export const isHash = (text: string): boolean => /^[0-9a-f]{40}$/.test(text)

const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" }

/** Runs `git <args>` in `cwd`; its stdout, or a GitError with its stderr. */
export const run = (cwd: string, args: ReadonlyArray<string>, input?: string): Effect.Effect<string, GitError> =>
  Effect.async<string, GitError>((resume, signal) => {
    const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"], signal })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
    child.on("error", (cause) => resume(Effect.fail(new GitError({ args, message: `git ${args[0]}: ${cause.message}` }))))
    child.on("close", (code) => {
      if (code === 0) return resume(Effect.succeed(Buffer.concat(out).toString("utf8")))
      const stderr = Buffer.concat(err).toString("utf8").trim()
      resume(Effect.fail(new GitError({ args, message: `git ${args.join(" ")} exited ${code}: ${stderr.split("\n").slice(-3).join(" ")}` })))
    })
    child.stdin.on("error", () => {})
    child.stdin.end(input ?? "")
  })

/** Whether `git <args>` succeeds (a check such as `cat-file -e`). */
export const succeeds = (cwd: string, args: ReadonlyArray<string>): Effect.Effect<boolean> =>
  Effect.match(run(cwd, args), { onFailure: () => false, onSuccess: () => true })

/**
 * `git <args>`'s stdout as a Node stream, with `input` on its stdin; a failing exit is an
 * error on the stream (after what it wrote). The process is killed when the stream is destroyed.
 */
export const spawnStream = (cwd: string, args: ReadonlyArray<string>, input?: string): Readable => {
  const child = spawn("git", args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] })
  const err: Array<Buffer> = []
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk))
  child.stdin.on("error", () => {})
  child.stdin.end(input ?? "")
  child.on("close", (code) => {
    if (code !== 0 && code !== null) {
      child.stdout.destroy(new Error(`git ${args.join(" ")} exited ${code}: ${Buffer.concat(err).toString("utf8").trim()}`))
    }
  })
  child.stdout.on("close", () => {
    if (child.exitCode === null) child.kill()
  })
  return child.stdout
}

/** A Node stream as an Effect stream of bytes (for a response body). */
export const bytes = (readable: Readable): Stream.Stream<Uint8Array, GitError> =>
  Stream.fromAsyncIterable(readable as AsyncIterable<Uint8Array>, (cause) =>
    new GitError({ args: [], message: String(cause) }))
