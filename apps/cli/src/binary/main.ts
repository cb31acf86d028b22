/**
 * The entry of the single executable (`dist/orch`, a Node single executable application):
 * what `bin/orch.mjs` is to the npm install. The executable carries one asset, `runtime`,
 * a gzipped tar of the CLI's bundles and the few packages they load from disk (the native
 * SQLite addon, the Compute and AWS clients, the pages' scripts). It is unpacked once per
 * build into a cache folder, and every later start imports the bundles from there, so the
 * binary needs no Node and no node_modules on the machine.
 *
 * Built by `binary.mjs` (esbuild, CommonJS: Node's single executables start CommonJS only);
 * `__ORCH_VERSION__` and `__ORCH_RUNTIME__` (the asset's hash) are set there.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as sea from "node:sea"
import { pathToFileURL } from "node:url"
import * as tar from "tar"
import { runAsNode } from "./asNode.js"

declare const __ORCH_VERSION__: string
declare const __ORCH_RUNTIME__: string

/** Where the runtime is unpacked: `ORCH_CACHE_DIR`, else the user's cache folder, else the temporary folder. */
const cacheRoots = (): ReadonlyArray<string> => {
  const env = process.env
  if (env.ORCH_CACHE_DIR) return [env.ORCH_CACHE_DIR]
  const home = os.homedir()
  const user = env.XDG_CACHE_HOME || (home ? path.join(home, ".cache") : undefined)
  const uid = typeof process.getuid === "function" ? process.getuid() : "user"
  return [...(user ? [path.join(user, "orch")] : []), path.join(os.tmpdir(), `orch-${uid}`)]
}

const day = 24 * 60 * 60 * 1000

/** Marks `dir` used now (at most once a day: most starts write nothing). */
const markUsed = (dir: string) => {
  const complete = path.join(dir, ".complete")
  try {
    if (Date.now() - fs.statSync(complete).mtimeMs > day) fs.utimesSync(complete, new Date(), new Date())
  } catch {
    // a read-only cache (a container image's) is fine: it is never pruned either
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes, beside a runtime just unpacked, those of other builds unused for 30 days (each
 * is ~100 MB; a daemon still running an old build started within them keeps its files)
 * and unpackings left half-done by a process that died.
 */
const prune = (root: string, keep: string) => {
  for (const name of fs.readdirSync(root)) {
    const dir = path.join(root, name)
    if (dir === keep) continue
    const partial = /\.partial-(\d+)$/.exec(name)
    try {
      const stale = partial !== null
        ? !isAlive(Number(partial[1]))
        : Date.now() - fs.statSync(path.join(dir, ".complete")).mtimeMs > 30 * day
      if (stale) fs.rmSync(dir, { recursive: true, force: true })
    } catch {
      // not a runtime of ours (no .complete): left alone
    }
  }
}

/**
 * The runtime's folder, unpacked if it is not there yet. Unpacking goes to a folder of
 * this process's own and is renamed into place when complete, so concurrent first starts
 * (several services, a test's parallel runs) never see a half-written runtime.
 */
const runtimeDir = (): string => {
  const name = `${__ORCH_VERSION__}-${__ORCH_RUNTIME__}`
  const failures: Array<string> = []
  for (const root of cacheRoots()) {
    const dir = path.join(root, name)
    if (fs.existsSync(path.join(dir, ".complete"))) {
      markUsed(dir)
      return dir
    }
    const partial = `${dir}.partial-${process.pid}`
    try {
      fs.mkdirSync(partial, { recursive: true, mode: 0o700 })
      tar.x({ cwd: partial, sync: true, gzip: true }).end(Buffer.from(sea.getAsset("runtime")))
      fs.writeFileSync(path.join(partial, ".complete"), `${name}\n`)
      try {
        fs.renameSync(partial, dir)
      } catch (error) {
        // another start unpacked the same runtime first: use its copy
        if (!fs.existsSync(path.join(dir, ".complete"))) throw error
        fs.rmSync(partial, { recursive: true, force: true })
      }
      prune(root, dir)
      return dir
    } catch (error) {
      fs.rmSync(partial, { recursive: true, force: true })
      failures.push(`${root}: ${(error as Error).message}`)
    }
  }
  process.stderr.write(`orch: cannot unpack its runtime into a cache folder (set ORCH_CACHE_DIR to a writable folder):\n  ${failures.join("\n  ")}\n`)
  return process.exit(1)
}

const main = async (argv: ReadonlyArray<string>) => {
  // `$node` of a scheduler test, run by this executable (see asNode.ts)
  if (process.env.ORCH_AS_NODE === "1") return runAsNode(argv)
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`${__ORCH_VERSION__}\n`)
    return
  }
  const dir = runtimeDir()
  // what the scheduler's `$node` runs as: this executable, told to act as Node
  process.env.ORCH_BINARY = process.execPath
  const bundle = (name: string) => import(pathToFileURL(path.join(dir, name)).href)
  // the same choice as bin/orch.mjs: the TUI's light bundle serves what it can
  if (argv[0] === "tui" && (await bundle("tui.mjs")).start(argv.slice(1))) return
  await bundle("orch.mjs")
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`orch: ${error?.stack ?? String(error)}\n`)
  process.exit(1)
})
