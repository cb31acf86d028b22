// Measures the scheduler in the built orch: the end-to-end time of a trivial test asked
// for through /api/runner?streaming=1 (queue, spawn as runAs, store, answer), the
// throughput of queued runs, and the bundled speed test on loopback.
// Usage: npm run build && node packages/plugins-scheduler/bench/runs.mjs [runs]
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const runs = Number(process.argv[2] ?? 30)
const orch = fileURLToPath(new URL("../../../apps/cli/bin/orch.mjs", import.meta.url))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orch-scheduler-bench-"))
fs.mkdirSync(path.join(dir, "descriptors"))
fs.writeFileSync(path.join(dir, "descriptors", "noop.json"), JSON.stringify({
  command: ["$node", "-e", "console.log('{}')"],
  schedule: { every: 86400 }
}))
const child = spawn(process.execPath, [orch, "run", "--plugins", "scheduler", "--http-port", "0", "--log-format", "json",
  "--data-dir", path.join(dir, "data"), "--set", `scheduler.descriptors=${path.join(dir, "descriptors")}`,
  "--set", "scheduler.speedtest.firstDelaySeconds=3600"], { stdio: ["ignore", "ignore", "pipe"] })
const url = await new Promise((resolve, reject) => {
  let buffer = ""
  child.stderr.on("data", (chunk) => {
    buffer += chunk
    const match = /"url":"(http:[^"]+)"/.exec(buffer)
    if (match) resolve(match[1])
  })
  child.once("exit", (code) => reject(new Error(`orch exited (${code}): ${buffer}`)))
})
const base = `${url}/scheduler`
for (;;) {
  if ((await fetch(`${base}/api/version`)).status === 200) break
  await new Promise((r) => setTimeout(r, 100))
}
const stream = async (query) => {
  const response = await fetch(`${base}/api/runner?${query}&streaming=1`)
  const text = await response.text()
  if (!text.includes("done (ok)")) throw new Error(text)
}
const times = []
for (let i = 0; i < runs; i++) {
  const start = performance.now()
  await stream("test=noop")
  times.push(performance.now() - start)
}
times.sort((a, b) => a - b)
const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1)
console.log(`one noop run end to end (${runs} runs, sequential): median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms`)

const queuedStart = performance.now()
for (let i = 0; i < runs; i++) await fetch(`${base}/api/runner?test=noop`)
for (;;) {
  const data = await (await fetch(`${base}/api/data?test=noop`)).json()
  if (data.length >= 2 * runs) break
  await new Promise((r) => setTimeout(r, 50))
}
const seconds = (performance.now() - queuedStart) / 1000
console.log(`${runs} queued noop runs, one at a time: ${(runs / seconds).toFixed(1)} runs/s`)

await stream("test=speedtest")
const [speed] = await (await fetch(`${base}/api/data?test=speedtest`)).json()
console.log(`bundled speed test on loopback (8 MB): latency ${(speed.latency * 1000).toFixed(2)} ms, download ${(speed.download_speed * 8 / 1e6).toFixed(0)} Mbit/s, upload ${(speed.upload_speed * 8 / 1e6).toFixed(0)} Mbit/s`)
child.kill("SIGTERM")
fs.rmSync(dir, { recursive: true, force: true })
