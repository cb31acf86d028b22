/** Drives the built `orch` as a real child process: one command to completion, or a daemon. */
import * as Yaml from "@orch/core/Yaml"
import { Either } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { databaseFor } from "./Postgres.js"
import { testBackend } from "./TestBackend.js"

/** The real `orch` as installed (`bin` of the package), with the plugins of this build. */
export const orchBin = fileURLToPath(new URL("../../../apps/cli/bin/orch.mjs", import.meta.url))

/** How `bin` is started: a script through this Node, an executable (the single binary) by itself. */
const command = (bin: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  /\.[cm]?js$/.test(bin) ? [process.execPath, [bin, ...args]] : [bin, [...args]]

/** The value of `--name V` or `--name=V` in `args`, the last one given. */
const flagValue = (args: ReadonlyArray<string>, name: string): string | undefined => {
  let value: string | undefined
  args.forEach((arg, i) => {
    if (arg === name && i + 1 < args.length) value = args[i + 1]
    else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1)
  })
  return value
}

/** The value `V` of the last `--set key=V` for `key`. */
const setting = (args: ReadonlyArray<string>, key: string): string | undefined => {
  let value: string | undefined
  args.forEach((arg, i) => {
    const given = arg === "--set" ? args[i + 1] : arg.startsWith("--set=") ? arg.slice(6) : undefined
    if (given?.startsWith(`${key}=`)) value = given.slice(key.length + 1)
  })
  return value
}

/**
 * The SQLite file `orch args…` run in `cwd` with `env` would open, as core's Config finds
 * it: the config file (`--config`, `ORCH_CONFIG`, else `./orch.yaml`), `--set`, then
 * `--data-dir` (`ORCH_DATA_DIR`). Undefined when the config names a PostgreSQL URL itself.
 */
export const databaseFileOf = (args: ReadonlyArray<string>, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const configFile = flagValue(args, "--config") ?? env.ORCH_CONFIG ?? (fs.existsSync(path.join(cwd, "orch.yaml")) ? "orch.yaml" : undefined)
  let core: { dataDir?: unknown; database?: { file?: unknown; url?: unknown } } = {}
  if (configFile !== undefined) {
    const document = Either.getOrUndefined(Yaml.parse(fs.readFileSync(path.resolve(cwd, configFile), "utf8"), configFile))
    core = (document?.value as { core?: typeof core } | undefined)?.core ?? {}
  }
  if (core.database?.url !== undefined || setting(args, "core.database.url") !== undefined) return undefined
  const file = setting(args, "core.database.file") ?? core.database?.file
  const dataDir = flagValue(args, "--data-dir") ?? env.ORCH_DATA_DIR ?? setting(args, "core.dataDir") ?? core.dataDir ?? "./.orch"
  return path.resolve(cwd, typeof file === "string" ? file : path.join(String(dataDir), "orch.sqlite"))
}

/**
 * In the postgres pass, the environment that gives `orch args…` (a daemon, or `orch db …`)
 * the PostgreSQL database standing for its SQLite file, made on first use: a restart, a
 * second daemon on the same data and the test reading it (`openTestDatabase(file)`) meet
 * there. Nothing in the sqlite pass, nor when the test sets ORCH_DATABASE_URL itself.
 */
const databaseEnv = async (args: ReadonlyArray<string>, options: { cwd?: string | undefined; env?: NodeJS.ProcessEnv | undefined }) => {
  if (testBackend === "sqlite" || options.env?.ORCH_DATABASE_URL !== undefined) return {}
  if (!["run", "db"].includes(args.find((arg) => !arg.startsWith("-")) ?? "")) return {}
  const file = databaseFileOf(args, options.cwd, { ...process.env, ...options.env })
  return file === undefined ? {} : { ORCH_DATABASE_URL: await databaseFor(file) }
}

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion (bounded by `timeoutMs`); `bin` is a script or an executable. */
export const run = async (bin: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) => {
  const database = await databaseEnv(args, options)
  return new Promise<Result>((resolve) => {
    execFile(...command(bin, args), {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...database, ...options.env },
      timeout: options.timeoutMs ?? 30_000
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr })
    })
  })
}

export interface Daemon {
  readonly url: string
  readonly process: ChildProcess
  /** Every log line so far, parsed when it is JSON. */
  readonly logs: Array<Record<string, unknown>>
  /** Sends `signal` and resolves with the exit code (or the signal's name). */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | string | null>
}

/** Starts `orch run …` and resolves once it logs the address it listens on. */
export const startDaemon = async (bin: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
  const database = await databaseEnv(["run", ...args], options)
  return new Promise<Daemon>((resolve, reject) => {
    const child = spawn(...command(bin, ["run", "--http-port", "0", "--log-format", "json", ...args]), {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...database, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const logs: Array<Record<string, unknown>> = []
    const exited = new Promise<number | string | null>((done) => child.once("exit", (code, signal) => done(code ?? signal)))
    let buffer = ""
    let started = false
    const timer = setTimeout(() => {
      if (!started) {
        child.kill("SIGKILL")
        reject(new Error(`daemon did not start within 20 s:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`))
      }
    }, 20_000)
    child.stderr!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      let newline: number
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        let entry: Record<string, unknown>
        try {
          entry = JSON.parse(line)
        } catch {
          entry = { message: line }
        }
        logs.push(entry)
        if (!started && typeof entry.url === "string" && String(entry.message).startsWith("orch listening")) {
          started = true
          clearTimeout(timer)
          resolve({
            url: entry.url,
            process: child,
            logs,
            stop: (signal = "SIGTERM") => {
              child.kill(signal)
              return exited
            }
          })
        }
      }
    })
    child.stdout!.resume()
    void exited.then((code) => {
      if (!started) {
        clearTimeout(timer)
        reject(new Error(`daemon exited (${code}) before listening:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`))
      }
    })
  })
}

/** Polls `check` every 50 ms until it returns a value, for at most `timeoutMs`. */
export const eventually = async <A>(check: () => Promise<A | undefined> | A | undefined, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
