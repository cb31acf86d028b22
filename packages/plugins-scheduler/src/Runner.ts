/**
 * Runs one test as a child process, never as root: when orch is root the child gets the
 * uid and gid of an unprivileged user and a clean environment, as Neubot's chuser did.
 * The child leads its own process group, so a run past its longest time is killed with
 * everything it started. stdout is the result (JSON); stderr lines are log lines.
 */
import { Data, Effect, Either } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import type { Severity } from "./Stores.js"

export interface Identity {
  readonly user: string
  readonly uid: number
  readonly gid: number
}

export class RunAsError extends Data.TaggedError("RunAsError")<{ readonly message: string }> {}

/** The uid and gid of `user`, through the system's own lookup (`id`), so NSS users count too. */
export const lookupUser = (user: string): Either.Either<Identity, string> => {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, user], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim())
    const uid = id("-u")
    const gid = id("-g")
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return Either.left(`cannot read the ids of user ${JSON.stringify(user)}`)
    return Either.right({ user, uid, gid })
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return Either.left(`cannot look up user ${JSON.stringify(user)}: no \`id\` command on PATH`)
    const stderr = String((error as { stderr?: unknown }).stderr ?? "").trim()
    return Either.left(`no user ${JSON.stringify(user)} on this system${stderr ? ` (${stderr})` : ""}`)
  }
}

/**
 * Who tests run as. Not root: as orch itself. Root: as `runAs`, or, when that user does
 * not exist, as root only with `allowRoot` (`asRoot` tells the runner to warn each run).
 */
export type RunIdentity =
  | { readonly _tag: "Self" }
  | { readonly _tag: "User"; readonly identity: Identity }
  | { readonly _tag: "Root"; readonly reason: string }

export const resolveIdentity = (
  options: { readonly runAs: string; readonly allowRoot: boolean },
  uid: number | undefined = process.getuid?.()
): Either.Either<RunIdentity, RunAsError> => {
  if (uid !== 0) return Either.right({ _tag: "Self" })
  const found = lookupUser(options.runAs)
  if (Either.isRight(found)) {
    if (found.right.uid === 0) {
      return options.allowRoot
        ? Either.right({ _tag: "Root", reason: `runAs user ${options.runAs} is root` })
        : Either.left(new RunAsError({ message: `runAs user ${JSON.stringify(options.runAs)} is root; tests never run as root unless scheduler.allowRoot is true` }))
    }
    return Either.right({ _tag: "User", identity: found.right })
  }
  if (options.allowRoot) return Either.right({ _tag: "Root", reason: found.left })
  return Either.left(
    new RunAsError({
      message: `the scheduler will not start: orch runs as root and tests must not, but ${found.left}; ` +
        `set scheduler.runAs to an existing unprivileged user, or scheduler.allowRoot: true to run tests as root`
    })
  )
}

export interface RunSpec {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly maxRuntimeMs: number
  readonly identity: RunIdentity
}

export type RunOutcome =
  | { readonly _tag: "Succeeded"; readonly result: unknown; readonly exitCode: number }
  | { readonly _tag: "Failed"; readonly reason: string; readonly exitCode: number | null; readonly signal: string | null }

/** A stderr line: a leading DEBUG, INFO, WARNING, ERROR or ERR word sets its severity (INFO otherwise; ERR is ERROR). */
export const parseLine = (line: string): { severity: Severity; message: string } => {
  const match = /^(DEBUG|INFO|WARNING|ERR|ERROR)[:\s]\s*(.*)$/.exec(line)
  if (!match) return { severity: "INFO", message: line }
  return { severity: match[1] === "ERR" ? "ERROR" : (match[1] as Severity), message: match[2]! }
}

/** The result is stdout as one JSON object, or failing that its last line as one. */
export const parseResult = (stdout: string): unknown | undefined => {
  const attempt = (text: string) => {
    try {
      const value = JSON.parse(text)
      return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined
    } catch {
      return undefined
    }
  }
  const trimmed = stdout.trim()
  if (trimmed === "") return undefined
  return attempt(trimmed) ?? attempt(trimmed.split("\n").at(-1)!)
}

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is gone already
  }
}

const stdoutLimit = 16 * 1024 * 1024

/**
 * Runs `spec` to its end; `onLine` gets each stderr line as it comes. Never fails: a
 * process that cannot start, exits non-zero, prints no JSON object or runs too long is
 * a `Failed` outcome with the reason.
 */
export const execute = (
  spec: RunSpec,
  onLine: (severity: Severity, message: string) => void
): Effect.Effect<RunOutcome> =>
  Effect.async<RunOutcome>((resume) => {
    const [file, ...args] = spec.argv
    const asUser = spec.identity._tag === "User" ? spec.identity.identity : undefined
    const env: NodeJS.ProcessEnv = asUser === undefined
      ? { ...process.env }
      : {
        // a clean environment for the unprivileged user, as Neubot's chuser set it
        HOME: "/",
        LOGNAME: asUser.user,
        USER: asUser.user,
        PATH: "/usr/local/bin:/usr/bin:/bin",
        TMPDIR: "/tmp",
        LANG: process.env.LANG ?? "C.UTF-8"
      }
    // in orch's single executable `$node` is that executable, which acts as Node when told
    if (process.env.ORCH_BINARY !== undefined && file === process.env.ORCH_BINARY) env.ORCH_AS_NODE = "1"
    // Node reports a missing working directory as the command being missing (ENOENT)
    if (!fs.existsSync(spec.cwd)) {
      resume(Effect.succeed({ _tag: "Failed", reason: `working directory ${spec.cwd} does not exist`, exitCode: null, signal: null }))
      return
    }
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(file!, args, {
        cwd: spec.cwd,
        env,
        detached: true, // its own process group, killed as a whole
        stdio: ["ignore", "pipe", "pipe"],
        ...(asUser === undefined ? {} : { uid: asUser.uid, gid: asUser.gid })
      })
    } catch (error) {
      resume(Effect.succeed({ _tag: "Failed", reason: `cannot start ${file}: ${(error as Error).message}`, exitCode: null, signal: null }))
      return
    }
    let stdout = ""
    let truncated = false
    let pending = ""
    let timedOut = false
    let finished = false
    child.stdout!.setEncoding("utf8")
    child.stdout!.on("data", (chunk: string) => {
      if (stdout.length + chunk.length > stdoutLimit) truncated = true
      else stdout += chunk
    })
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => {
      pending += chunk
      let newline: number
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline).replace(/\r$/, "")
        pending = pending.slice(newline + 1)
        if (line.trim() !== "") {
          const parsed = parseLine(line)
          onLine(parsed.severity, parsed.message)
        }
      }
    })
    const timer = setTimeout(() => {
      timedOut = true
      // the test first, then whatever it started
      child.kill("SIGKILL")
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL")
    }, spec.maxRuntimeMs)
    const finish = (outcome: RunOutcome) => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      if (pending.trim() !== "") {
        const parsed = parseLine(pending.trim())
        onLine(parsed.severity, parsed.message)
      }
      resume(Effect.succeed(outcome))
    }
    child.once("error", (error) => {
      finish({ _tag: "Failed", reason: `cannot start ${file}: ${error.message}`, exitCode: null, signal: null })
    })
    child.once("exit", (code, signal) => {
      // leftovers of the test (it exited, its children may not have) would hold the pipes open
      if (child.pid !== undefined) killGroup(child.pid, "SIGKILL")
      child.once("close", () => {
        if (timedOut) {
          finish({ _tag: "Failed", reason: `killed after running longer than ${spec.maxRuntimeMs} ms`, exitCode: code, signal })
        } else if (code !== 0) {
          finish({
            _tag: "Failed",
            reason: code === null ? `killed by ${signal}` : `exited with code ${code}`,
            exitCode: code,
            signal
          })
        } else if (truncated) {
          finish({ _tag: "Failed", reason: `printed more than ${stdoutLimit} bytes on stdout`, exitCode: code, signal })
        } else {
          const result = parseResult(stdout)
          finish(
            result === undefined
              ? { _tag: "Failed", reason: stdout.trim() === "" ? "printed no result on stdout" : "printed no valid JSON object on stdout", exitCode: code, signal }
              : { _tag: "Succeeded", result, exitCode: 0 }
          )
        }
      })
    })
    // interrupted (the daemon stops): the test and its group go with it
    return Effect.sync(() => {
      clearTimeout(timer)
      if (!finished && child.pid !== undefined) {
        child.kill("SIGKILL")
        killGroup(child.pid, "SIGKILL")
      }
    })
  })
