/**
 * The single executable (`npm run build:binary`, dist/orch) on a machine as bare as this one
 * can be made: copied alone into an empty folder, started with a PATH that holds no `node`
 * and no node_modules in any folder above it, its cache in a fresh HOME. It must answer
 * --version, write a config, serve a daemon that allocates a device and queues a
 * WebPageTest job, run the scheduler's `$node` test through itself, and stop on SIGTERM.
 */
import { eventually, type Result, run, send, sqliteOnly, startDaemon, tempDir } from "@orch/testing"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { beforeAll, describe, expect, it } from "vitest"

const repo = fileURLToPath(new URL("../../..", import.meta.url))

/** No folder from `dir` up to `/` holds node_modules, and nothing on `PATH` is a `node`. */
const bare = (dir: string, pathVar: string) => {
  for (let d = dir; ; d = path.dirname(d)) {
    expect(fs.existsSync(path.join(d, "node_modules")), `${d}/node_modules`).toBe(false)
    if (d === path.dirname(d)) break
  }
  for (const entry of pathVar.split(":")) expect(fs.existsSync(path.join(entry, "node")), `${entry}/node`).toBe(false)
}

// the executable's build takes minutes and its database is not its subject: once, in the sqlite pass
describe.skipIf(sqliteOnly)("orch as one executable (SQLite only: built once, in the sqlite pass)", () => {
  let dir: string
  let binary: string
  let env: NodeJS.ProcessEnv
  const orch = (args: ReadonlyArray<string>): Promise<Result> => run(binary, args, { cwd: dir, env, timeoutMs: 60_000 })

  beforeAll(async () => {
    // the build is the one users run; it rebuilds the bundles too (not blocking: the worker must answer vitest meanwhile)
    await promisify(execFile)("npm", ["run", "build:binary"], { cwd: repo, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 })
    dir = tempDir("orch-binary-")
    binary = path.join(dir, "orch")
    fs.copyFileSync(path.join(repo, "dist", "orch"), binary)
    fs.chmodSync(binary, 0o755)
    fs.mkdirSync(path.join(dir, "bin"))
    // the daemon's own tools are not needed: a PATH with nothing on it but an empty folder
    env = { PATH: path.join(dir, "bin"), HOME: path.join(dir, "home"), ORCH_CACHE_DIR: "", XDG_CACHE_HOME: "" }
    bare(dir, env.PATH!)
    expect(fs.readdirSync(dir).sort()).toEqual(["bin", "orch"])
  }, 320_000)

  it("answers --version, writes a config, runs a daemon that allocates and queues, stops on SIGTERM", async () => {
    const version = await orch(["--version"])
    expect(version).toMatchObject({ code: 0, stdout: `${JSON.parse(fs.readFileSync(path.join(repo, "apps/cli/package.json"), "utf8")).version}\n` })

    // runtimes of other builds in the cache: one unused for 40 days, one used 5 days ago; an
    // unpacking whose process died; a folder that is not a runtime
    const cache = path.join(dir, "home", ".cache", "orch")
    const runtime = (name: string, daysAgo: number) => {
      fs.mkdirSync(path.join(cache, name), { recursive: true })
      const when = new Date(Date.now() - daysAgo * 24 * 3600 * 1000)
      fs.writeFileSync(path.join(cache, name, ".complete"), `${name}\n`)
      fs.utimesSync(path.join(cache, name, ".complete"), when, when)
    }
    runtime("0.0.1-old", 40)
    runtime("0.0.2-recent", 5)
    fs.mkdirSync(path.join(cache, "0.0.3-x.partial-999999999"))
    fs.mkdirSync(path.join(cache, "notes"))

    fs.writeFileSync(path.join(dir, "inventory.yaml"), "devices:\n  - { name: board-1, type: board, connection: { host: 127.0.0.1, port: 9 } }\n")
    const init = await orch(["config", "init", "-o", "orch.yaml", "--allocator-inventory", "inventory.yaml", "--scheduler-allow-root", "true"])
    expect(init.stderr).toBe("")
    expect(init.code).toBe(0)
    expect(fs.readFileSync(path.join(dir, "orch.yaml"), "utf8")).toContain("inventory: inventory.yaml")
    // the runtime was unpacked once, into the cache of the HOME it was given; the old
    // runtime and the dead unpacking are gone, the recent one and the foreign folder stay
    const left = fs.readdirSync(cache).sort()
    expect(left.filter((name) => name.startsWith(`${version.stdout.trim()}-`))).toHaveLength(1)
    expect(left.filter((name) => !name.startsWith(`${version.stdout.trim()}-`))).toEqual(["0.0.2-recent", "notes"])

    const daemon = await startDaemon(binary, ["--plugins=allocator,watchdog,scheduler"], { cwd: dir, env })
    try {
      expect((await send(`${daemon.url}/healthz`)).status).toBe(200)
      // the container's HEALTHCHECK
      expect(await orch(["health", "--url", daemon.url])).toMatchObject({ code: 0, stdout: "ok\n" })
      const lease = await send(`${daemon.url}/allocator/leases`, { method: "POST", body: { type: "board", holder: "binary-test", ttlSeconds: 60 } })
      expect(lease).toMatchObject({ status: 200 })
      expect(lease.body.device.name).toBe("board-1")
      const queued = await send(`${daemon.url}/watchdog/jobs`, {
        method: "POST",
        body: { jobs: [{ zone: "us-central1-a", browser: "chrome", agent: "agent1", url: "https://example.com/" }] }
      })
      expect(queued).toMatchObject({ status: 201 })
      const [id] = queued.body.ids as Array<number>
      const job = await send(`${daemon.url}/jobs/${id}`)
      expect(job.body.job).toMatchObject({ id, plugin: "watchdog", state: "AWAITING" })
      // the scheduler's built-in speed test runs `$node`: this executable acting as Node
      const started = await send(`${daemon.url}/scheduler/api/runner?test=speedtest&streaming=0`, { method: "POST" })
      expect(started).toMatchObject({ status: 200 })
      const result = await eventually(async () => {
        const data = await send(`${daemon.url}/scheduler/api/data?test=speedtest`)
        return Array.isArray(data.body) && data.body.length > 0 ? data.body[0] : undefined
      }, 60_000)
      expect(result.download_speed).toBeGreaterThan(0)
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0)
    }
    expect(daemon.logs.some((l) => String(l.message).startsWith("shutting down"))).toBe(true)
  }, 180_000)
})
