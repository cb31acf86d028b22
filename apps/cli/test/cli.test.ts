import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import packageJson from "../package.json" with { type: "json" }
import { type Daemon, orchBin, run, sqliteOnly, startDaemon, tempDir } from "@orch/testing"
import { demoBin } from "./support.js"

/** A demo daemon whose tasks stay queued (no workers), for the commands that ask it. */
let demo: Daemon
beforeAll(async () => {
  demo = await startDaemon(demoBin, ["--data-dir", tempDir(), "--plugins", "demo", "--set", "demo.workers=0"])
})
afterAll(async () => {
  await demo?.stop("SIGKILL")
})
const demoOrch = (...args: Array<string>) => run(demoBin, [...args, "--url", demo.url])

describe("orch binary", () => {
  it("--version prints the version and exits 0", async () => {
    const result = await run(orchBin, ["--version"])
    expect(result).toMatchObject({ code: 0, stdout: `${packageJson.version}\n` })
  })

  it("--help lists the commands, and every command has its own --help", async () => {
    const root = await run(orchBin, ["--help"])
    expect(root.code).toBe(0)
    for (const command of ["run", "config", "db", "jobs", "resources"]) expect(root.stdout).toContain(command)
    const jobs = await run(orchBin, ["jobs", "list", "--help"])
    expect(jobs.code).toBe(0)
    expect(jobs.stdout).toContain("--url")
    expect(jobs.stdout).toContain("--token")
    expect(jobs.stdout).toContain("--state")
    expect(jobs.stdout).not.toContain("--data-dir")
  })

  it("a plugin's subcommands appear under its name, and ask the daemon", async () => {
    const help = await run(demoBin, ["demo", "--help"])
    expect(help.stdout).toContain("enqueue")
    const enqueued = await demoOrch("demo", "enqueue", "21")
    const id = Number(enqueued.stdout.match(/enqueued (\d+)/)![1])
    const listed = await demoOrch("jobs", "list", "--json", "--plugin", "demo")
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ id, plugin: "demo", kind: "task", state: "queued", payload: { n: 21 } }))
  })

  it("config init writes a commented file that config check accepts", async () => {
    const dir = tempDir()
    const file = path.join(dir, "orch.yaml")
    const init = await run(demoBin, ["config", "init", "-o", file, "--http-port", "7611", "--demo-workers", "3"])
    expect(init.code).toBe(0)
    const text = fs.readFileSync(file, "utf8")
    expect(text).toContain("# Worker loops claiming demo tasks")
    expect(text).toContain("workers: 3")
    expect(text).toContain("port: 7611")
    const check = await run(demoBin, ["config", "check", "--config", file])
    expect(check.code).toBe(0)
    expect(check.stdout).toContain("is valid")
    const again = await run(demoBin, ["config", "init", "-o", file])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain("already exists")
  })

  it("config check names the file, line and key of a mistake", async () => {
    const dir = tempDir()
    const file = path.join(dir, "orch.yaml")
    fs.writeFileSync(file, "core:\n  http:\n    port: 70000\n")
    const check = await run(orchBin, ["config", "check", "--config", file])
    expect(check.code).toBe(2)
    expect(check.stderr).toContain(`${file}:3:`)
    expect(check.stderr).toContain("core.http.port")
  })

  it("ORCH_CONFIG names the config file", async () => {
    const dir = tempDir()
    const file = path.join(dir, "custom.yaml")
    fs.writeFileSync(file, "core:\n  log:\n    level: loud\n")
    const check = await run(orchBin, ["config", "check"], { env: { ORCH_CONFIG: file } })
    expect(check.code).toBe(2)
    expect(check.stderr).toContain("custom.yaml:3:")
  })

  it.skipIf(sqliteOnly)("db status on no database says so and creates none; it shows pending migrations, db migrate applies them (SQLite only: a missing file, an empty file)", async () => {
    const dir = tempDir()
    const missing = await run(demoBin, ["db", "status", "--data-dir", dir])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`no database at ${path.join(dir, "orch.sqlite")}`)
    expect(fs.readdirSync(dir)).toEqual([])
    // an empty file is an empty SQLite database
    fs.writeFileSync(path.join(dir, "orch.sqlite"), "")
    const before = await run(demoBin, ["db", "status", "--data-dir", dir])
    expect(before.code).toBe(0)
    expect(before.stdout).toMatch(/core\s+1\s+fencing\s+pending/)
    const migrate = await run(demoBin, ["db", "migrate", "--data-dir", dir])
    expect(migrate.code).toBe(0)
    const after = await run(demoBin, ["db", "status", "--data-dir", dir])
    expect(after.stdout).not.toContain("pending")
    expect(fs.existsSync(path.join(dir, "orch.sqlite"))).toBe(true)
  })

  it.skipIf(sqliteOnly)("ORCH_DATA_DIR sets where the data lives (SQLite only: the SQLite file's folder)", async () => {
    const dir = tempDir()
    const result = await run(orchBin, ["db", "migrate"], { env: { ORCH_DATA_DIR: dir } })
    expect(result.code).toBe(0)
    expect(fs.existsSync(path.join(dir, "orch.sqlite"))).toBe(true)
  })

  it("run --plugins with an unknown name lists the valid ones", async () => {
    const result = await run(demoBin, ["run", "--plugins", "demo,nope", "--data-dir", tempDir()])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`unknown plugin "nope"; valid: all, demo`)
  })

  it("jobs show, cancel and retry by id", async () => {
    const enqueued = await demoOrch("demo", "enqueue", "5")
    const id = enqueued.stdout.match(/enqueued (\d+)/)![1]!
    const cancelled = await demoOrch("jobs", "cancel", id, "--reason", "not needed")
    expect(cancelled.stdout).toContain("cancelled")
    const again = await demoOrch("jobs", "cancel", id)
    expect(again.code).toBe(1)
    const retried = await demoOrch("jobs", "retry", id)
    expect(retried.stdout).toContain("queued")
    const shown = await demoOrch("jobs", "show", id)
    expect(shown.stdout).toContain("not needed")
    const missing = await demoOrch("jobs", "show", "9999")
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("9999")
  })
})

describe("orch tui", () => {
  it("--once prints one frame with the queue by plugin, kind and state, from the daemon", async () => {
    const before = JSON.parse((await demoOrch("jobs", "list", "--json", "--state", "queued")).stdout) as Array<unknown>
    await demoOrch("demo", "enqueue", "1")
    await demoOrch("demo", "enqueue", "2")
    const frame = await demoOrch("tui", "--once")
    expect(frame.code).toBe(0)
    expect(frame.stdout).toMatch(new RegExp(`demo\\s+task\\s+queued\\s+${before.length + 2}`))
    expect(frame.stdout).toContain(`daemon ${demo.url} ready`)
  })

  it("--once without a daemon says so in one line and exits 1", async () => {
    const frame = await run(demoBin, ["tui", "--once", "--url", "http://127.0.0.1:9"])
    expect(frame.code).toBe(1)
    expect(frame.stderr).toBe("orch: no orch daemon answers at http://127.0.0.1:9 (bad port); start one with `orch run`, or give its address with --url or ORCH_URL\n")
  })
})

describe("orch tui through the installed command (the TUI's own bundle)", () => {
  it("--once draws the frame from the daemon, ORCH_URL and ORCH_TOKEN read as by the full CLI", async () => {
    const frame = await run(orchBin, ["tui", "--once", "--url", demo.url])
    expect(frame.code).toBe(0)
    expect(frame.stdout).toMatch(/demo\s+task\s+queued\s+\d+/)
    expect(frame.stdout).toContain(`daemon ${demo.url} ready`)
    const fromEnv = await run(orchBin, ["tui", "--once"], { env: { ORCH_URL: demo.url, ORCH_TOKEN: "unused" } })
    expect(fromEnv.stdout).toContain(`daemon ${demo.url} ready`)
  })

  it("without a daemon says so in the full CLI's line and exits 1", async () => {
    const frame = await run(orchBin, ["tui", "--once", "--url=http://127.0.0.1:9"])
    expect(frame.code).toBe(1)
    expect(frame.stderr).toBe("orch: no orch daemon answers at http://127.0.0.1:9 (bad port); start one with `orch run`, or give its address with --url or ORCH_URL\n")
  })

  it("hands --help, bad options and ./orch.yaml to the full CLI", async () => {
    const help = await run(orchBin, ["tui", "--help"])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("--once")
    expect(help.stdout).toContain("--config")
    const wrong = await run(orchBin, ["tui", "--nope"])
    expect(wrong.code).toBe(2)
    // the config file places the daemon: only the full CLI reads it
    const folder = tempDir()
    fs.writeFileSync(path.join(folder, "orch.yaml"), `core:\n  http:\n    port: ${new URL(demo.url).port}\n`)
    const configured = await run(orchBin, ["tui", "--once"], { cwd: folder, env: { ORCH_URL: "" } })
    expect(configured.code).toBe(0)
    expect(configured.stdout).toContain(`ready`)
    expect(configured.stdout).toMatch(/demo\s+task\s+queued/)
  })
})
