/**
 * The allocator under load, end to end: the real daemon (the built bundle, a temp data
 * dir, an inventory in a temp file, port 0) driven over HTTP on 127.0.0.1 by autocannon.
 *
 *   node --import tsx packages/plugins-allocator/bench/allocator.ts [--seconds 5] [--rounds 3] [--connections 32] [--devices 64]
 *
 * Side by side with reference servers in a process of their own (bench/_raw.mjs: plain
 * `node:http`, one better-sqlite3 UPDATE commit per keepalive, SQLite set up as orch's, and an
 * in-memory /healthz), the same load generator and connection count, interleaved over
 * `--rounds` rounds after a 2 s unmeasured run of each (JIT warm-up); each run prints requests/s, p50/p99 latency, errors (any non-2xx, socket
 * error or timeout) and the server's CPU per request:
 * - core's /healthz against the raw one;
 * - keepalive: every connection keeps alive leases of its own, round robin, against the raw UPDATE;
 * - allocate+release (orch only): every connection allocates a device and releases it, again and again.
 * The last two lines are the medians' ratios:
 *   allocator-keepalive: orch=<req/s> raw=<req/s> ratio=<orch/raw>
 *   healthz: orch=<req/s> raw=<req/s> ratio=<orch/raw>
 * Each lease change is committed before its reply. After the runs the daemon is killed with
 * SIGKILL and its SQLite file is read back: every acknowledged release must be there, and
 * every lease must expire no earlier than the last expiry a keepalive acknowledged.
 */
import autocannon from "autocannon"
import Database from "better-sqlite3"
import { eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { spawn, spawnSync } from "node:child_process"
import * as readline from "node:readline"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    devices: { type: "string", default: "64" }
  }
})
const seconds = Number(args.seconds)
const rounds = Math.max(1, Number(args.rounds))
const connections = Number(args.connections)
const deviceCount = Math.max(Number(args.devices), connections)

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bundle = path.join(root, "apps/cli/dist/orch.mjs")
if (!fs.existsSync(bundle)) {
  console.log("building the orch bundle (npm run build) …")
  const built = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" })
  if (built.status !== 0) process.exit(1)
}

const dir = tempDir("orch-allocator-bench-")
const inventory = path.join(dir, "inventory.yaml")
fs.writeFileSync(inventory, [
  "types:",
  "  bench-board: { description: boards for the benchmark }",
  "devices:",
  ...Array.from({ length: deviceCount }, (_, i) => `  - { name: board-${i}, type: bench-board, connection: { host: 127.0.0.1, port: ${10000 + i} } }`)
].join("\n") + "\n")

const daemon = await startDaemon(orchBin, ["--plugins=allocator", "--data-dir", dir, "--set", `allocator.inventory=${inventory}`])
// ready once the inventory is in the database
await eventually(() => daemon.logs.some((line) => String(line.message).startsWith("inventory ")) || undefined)

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`)
  return response.json() as Promise<any>
}

/** A process's CPU time so far in ms (user + system, from /proc; Linux's clock tick is 10 ms). */
const cpuMs = (pid: number): number => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Runs autocannon, and how much of the server's CPU (`pid`) the run took. */
const measure = async (options: autocannon.Options, pid = daemon.process.pid!) => {
  const before = cpuMs(pid)
  const result = await autocannon(options)
  return { result, cpuMs: cpuMs(pid) - before }
}

// the reference servers, in a process of their own as the daemon is
const raw = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), "_raw.mjs"), path.join(dir, "raw.sqlite"), String(connections * 2)], {
  stdio: ["ignore", "pipe", "inherit"]
})
const rawInfo = JSON.parse(await new Promise<string>((resolve) => readline.createInterface({ input: raw.stdout! }).once("line", resolve))) as {
  keepalivePort: number
  healthzPort: number
  ids: Array<string>
}

interface Figures {
  readonly name: string
  readonly perSecond: number
  readonly unit: string
  readonly requests: number
  readonly p50: number
  readonly p99: number
  readonly errors: number
  /** Server CPU per request in µs: one core gives the server at most 1e6 / this requests/s, whatever else the machine runs. */
  readonly cpuPerRequestUs: number
}

const figures = (name: string, { cpuMs, result }: { result: autocannon.Result; cpuMs: number }, perRequest = 1, unit = "requests/s"): Figures => ({
  name,
  cpuPerRequestUs: (cpuMs * 1000) / Math.max(1, result.requests.total),
  perSecond: result.requests.average / perRequest,
  unit,
  requests: result.requests.total,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.non2xx + result.errors + result.timeouts
})

const show = (f: Figures, target?: number) =>
  console.log(
    `${f.name.padEnd(18)} ${f.perSecond.toFixed(0).padStart(6)} ${f.unit.padEnd(12)} p50 ${f.p50} ms  p99 ${f.p99} ms  ` +
      `${f.requests} requests, ${f.errors} errors, server CPU ${f.cpuPerRequestUs.toFixed(0)} µs/request${target === undefined ? "" : `  (target ≥ ${target}: ${f.perSecond >= target && f.errors === 0 ? "met" : "NOT met"})`}`
  )

const base = daemon.url
console.log(`orch daemon at ${base}, ${deviceCount} devices, ${connections} connections, ${seconds} s per run, ${os.cpus().length} CPUs`)

const healthzRun = (target: "orch" | "raw", duration = seconds) =>
  target === "orch"
    ? measure({ url: `${base}/healthz`, connections, duration })
    : measure({ url: `http://127.0.0.1:${rawInfo.healthzPort}/healthz`, connections, duration }, raw.pid!)

// keepalive: two leases per connection, kept alive round robin; the last acknowledged expiry of each is remembered
const leases: Array<string> = []
for (let i = 0; i < Math.min(deviceCount, connections * 2); i++) {
  leases.push((await post(`${base}/allocator/leases`, { type: "bench-board", holder: `bench-${i}`, ttlSeconds: 3600 })).id)
}
const acknowledged = new Map<string, string>()
const keepaliveRun = (target: "orch" | "raw", duration = seconds) => {
  let next = 0
  const ids = target === "orch" ? leases : rawInfo.ids
  return measure({
    url: target === "orch" ? base : `http://127.0.0.1:${rawInfo.keepalivePort}`,
    connections,
    duration,
    requests: [{
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      setupRequest: (request) => ({ ...request, path: `/allocator/leases/${ids[next++ % ids.length]}/keepalive` }),
      onResponse: (status, body) => {
        if (status !== 200 || target !== "orch") return
        const answer = JSON.parse(body) as { id: string; expiresAt: string }
        if ((acknowledged.get(answer.id) ?? "") < answer.expiresAt) acknowledged.set(answer.id, answer.expiresAt)
      }
    }]
  }, target === "orch" ? daemon.process.pid! : raw.pid!)
}

// a short unmeasured run of each first, so that no side is measured while the JIT still compiles
// its hot path (orch's is far longer than the raw servers', and its first run was the slowest)
for (const target of ["orch", "raw"] as const) {
  await healthzRun(target, Math.min(2, seconds))
  await keepaliveRun(target, Math.min(2, seconds))
}

// interleaved, the order swapped each round, so that drift in the machine's load hits both alike
const side: Record<"healthz" | "keepalive", Record<"orch" | "raw", Array<Figures>>> = {
  healthz: { orch: [], raw: [] },
  keepalive: { orch: [], raw: [] }
}
for (let round = 0; round < rounds; round++) {
  const order: Array<"orch" | "raw"> = round % 2 === 0 ? ["orch", "raw"] : ["raw", "orch"]
  for (const target of order) {
    const f = figures(`GET /healthz ${target}`, await healthzRun(target))
    side.healthz[target].push(f)
    show(f)
  }
  for (const target of order) {
    const f = figures(`keepalive ${target}`, await keepaliveRun(target))
    side.keepalive[target].push(f)
    show(f)
  }
}
for (const id of leases) await fetch(`${base}/allocator/leases/${id}`, { method: "DELETE" })

// allocate+release: each connection allocates, then releases the lease it got
let released = 0
const cycles = await measure({
  url: base,
  connections,
  duration: seconds,
  requests: [
    {
      method: "POST",
      path: "/allocator/leases",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "bench-board", holder: "bench", ttlSeconds: 60 }),
      onResponse: (status, body, context: any) => {
        context.lease = status === 200 ? (JSON.parse(body) as { id: string }).id : undefined
      }
    },
    {
      method: "DELETE",
      setupRequest: (request, context: any) => ({ ...request, path: `/allocator/leases/${context.lease ?? "none"}` }),
      onResponse: (status) => {
        if (status === 200) released++
      }
    }
  ]
})
const cycleFigures = figures("allocate+release", cycles, 2, "cycles/s")
show(cycleFigures, 1000)

// every acknowledged change must be in the file, even after SIGKILL
await daemon.stop("SIGKILL")
const db = new Database(path.join(dir, "orch.sqlite"), { readonly: true })
const stored = db.prepare("SELECT COUNT(*) AS n FROM orch_resource_leases WHERE end_reason = 'released' AND holder = 'bench'").get() as { n: number }
let behind = 0
for (const [id, expiresAt] of acknowledged) {
  const row = db.prepare("SELECT expires_at FROM orch_resource_leases WHERE id = ?").get(id) as { expires_at: number }
  if (row.expires_at < Date.parse(expiresAt)) behind++
}
db.close()
raw.kill("SIGKILL")
console.log(
  `after SIGKILL: ${stored.n} of ${released} acknowledged releases stored (in-flight ones at the end of a run also count); ` +
    `${acknowledged.size - behind} of ${acknowledged.size} leases expire no earlier than their last acknowledged keepalive`
)
const durable = stored.n >= released && behind === 0
if (!durable) console.log("DURABILITY CHECK FAILED")

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
const spread = (runs: ReadonlyArray<Figures>) => `${Math.min(...runs.map((f) => f.perSecond)).toFixed(0)}–${Math.max(...runs.map((f) => f.perSecond)).toFixed(0)}`
const cpu = (runs: ReadonlyArray<Figures>) => median(runs.map((f) => f.cpuPerRequestUs)).toFixed(0)
for (const name of ["keepalive", "healthz"] as const) {
  console.log(
    `${name}: orch runs ${spread(side[name].orch)} req/s (median CPU ${cpu(side[name].orch)} µs/request), ` +
      `raw runs ${spread(side[name].raw)} req/s (median CPU ${cpu(side[name].raw)} µs/request)`
  )
}
const ratioLine = (label: string, runs: (typeof side)["healthz"]) => {
  const orch = median(runs.orch.map((f) => f.perSecond))
  const reference = median(runs.raw.map((f) => f.perSecond))
  return `${label}: orch=${orch.toFixed(0)} raw=${reference.toFixed(0)} ratio=${(orch / reference).toFixed(2)}`
}
console.log(ratioLine("allocator-keepalive", side.keepalive))
console.log(ratioLine("healthz", side.healthz))
process.exit(durable ? 0 : 1)
