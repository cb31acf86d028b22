/**
 * `npm run bench -- tui`: `orch tui` (the installed command, `bin/orch.mjs`, which starts the
 * TUI's own bundle) in tmux (120×40) against a daemon holding 10,000 jobs
 * and 500 resources. Prints `tui: rss_mb=<n> cpu_pct_idle=<n> update_ms_p99=<n>`: the TUI's
 * resident memory, its CPU while nothing changes (5 s), and the time from a change in the
 * daemon (a job enqueued) to the change on screen, over 40 changes. Goals: RSS < 120 MB,
 * idle CPU < 2 %, p99 update < 300 ms.
 */
import { ResourceKind, Resources } from "@orch/core/Resources"
import { eventually, startDaemon, tempDir, testDatabase } from "@orch/testing"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const demoBin = fileURLToPath(new URL("../dist/test/orch-demo.mjs", import.meta.url))
const orchBin = fileURLToPath(new URL("../bin/orch.mjs", import.meta.url))
// the bundles measured are built from the sources now (the tests' global setup builds the same)
// @ts-expect-error: a plain ESM build script without types
const { build, bundle } = await import("../build.mjs")
await Promise.all([build(), bundle("test/fixtures/orch-demo.ts", "dist/test/orch-demo.mjs")])
const jobs = 10_000
const resources = 500
const changes = 40

const Device = ResourceKind.make({ plugin: "lab", name: "device", states: ["ready", "busy"], initial: "ready", leasable: ["ready"] })

const dataDir = tempDir("orch-bench-tui-")
// the resources, written to the daemon's database file before it starts (several orch processes may share it)
await Effect.runPromise(Effect.gen(function*() {
  const store = yield* Resources
  for (let i = 0; i < resources; i++) {
    yield* store.upsert(Device, { name: `device-${i}`, labels: { rack: `r${i % 20}` } })
  }
}).pipe(Effect.provide(Resources.layer([Device]).pipe(Layer.provideMerge(testDatabase(path.join(dataDir, "orch.sqlite")))))))

const daemon = await startDaemon(demoBin, ["--data-dir", dataDir, "--plugins", "demo", "--set", "demo.workers=0"])
const enqueue = (count: number) =>
  fetch(`${daemon.url}/demo/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n: 1, count }) })
    .then((r) => r.json() as Promise<{ ids: Array<number> }>)
await enqueue(jobs)

/** Waits (polling every 10 ms) until `holds`. */
const until = async (holds: () => boolean, timeoutMs: number) => {
  const deadline = performance.now() + timeoutMs
  while (!holds()) {
    if (performance.now() > deadline) throw new Error(`the TUI did not show the change within ${timeoutMs} ms:\n${screen()}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const socket = `orch-bench-tui-${process.pid}`
const tmux = (...args: Array<string>) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" })
const screen = () => tmux("capture-pane", "-p", "-t", "tui")
try {
  tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", `TERM=xterm-256color ${process.execPath} ${orchBin} tui --url ${daemon.url}`)
  const pid = Number(tmux("display-message", "-p", "-t", "tui", "#{pane_pid}").trim())
  const queued = (n: number) => new RegExp(`demo\\s+task\\s+queued\\s+${n}\\b`)
  await eventually(() => (queued(jobs).test(screen()) && screen().includes("● live") ? true : undefined), 30_000)
  await new Promise((resolve) => setTimeout(resolve, 1000))

  const cpuTicks = () => {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return Number(fields[11]) + Number(fields[12]) // utime + stime, after the state field
  }
  const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
  const before = cpuTicks()
  const idleMs = 5000
  await new Promise((resolve) => setTimeout(resolve, idleMs))
  const cpuPctIdle = ((cpuTicks() - before) / ticksPerSecond) / (idleMs / 1000) * 100

  const updates: Array<number> = []
  for (let i = 1; i <= changes; i++) {
    const started = performance.now()
    await enqueue(1)
    await until(() => queued(jobs + i).test(screen()), 10_000)
    updates.push(performance.now() - started)
  }
  updates.sort((a, b) => a - b)
  const p99 = updates[Math.min(updates.length - 1, Math.ceil(updates.length * 0.99) - 1)]!
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1])
  console.log(`tui: rss_mb=${(rssKb / 1024).toFixed(0)} cpu_pct_idle=${cpuPctIdle.toFixed(1)} update_ms_p99=${p99.toFixed(0)}`)
  console.log(`(update_ms p50=${updates[Math.floor(updates.length / 2)]!.toFixed(0)} max=${updates[updates.length - 1]!.toFixed(0)}, ${changes} changes)`)
} finally {
  try {
    tmux("kill-server")
  } catch {
    // gone already
  }
  await daemon.stop("SIGKILL")
}
