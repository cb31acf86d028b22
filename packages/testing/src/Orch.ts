/** Drives the built `orch` as a real child process: one command to completion, or a daemon. */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The real `orch` as installed (`bin` of the package), with the plugins of this build. */
export const orchBin = fileURLToPath(new URL("../../../apps/cli/bin/orch.mjs", import.meta.url))

/** How `bin` is started: a script through this Node, an executable (the single binary) by itself. */
const command = (bin: string, args: ReadonlyArray<string>): [string, Array<string>] =>
  /\.[cm]?js$/.test(bin) ? [process.execPath, [bin, ...args]] : [bin, [...args]]

export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to completion (bounded by `timeoutMs`); `bin` is a script or an executable. */
export const run = (bin: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) =>
  new Promise<Result>((resolve) => {
    execFile(...command(bin, args), {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      timeout: options.timeoutMs ?? 30_000
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr })
    })
  })

export interface Daemon {
  readonly url: string
  readonly process: ChildProcess
  /** Every log line so far, parsed when it is JSON. */
  readonly logs: Array<Record<string, unknown>>
  /** Sends `signal` and resolves with the exit code (or the signal's name). */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | string | null>
}

/** Starts `orch run …` and resolves once it logs the address it listens on. */
export const startDaemon = (bin: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  new Promise<Daemon>((resolve, reject) => {
    const child = spawn(...command(bin, ["run", "--http-port", "0", "--log-format", "json", ...args]), {
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
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
