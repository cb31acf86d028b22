/**
 * `npm run bench -- binary`: builds the single executable (dist/orch) and prints
 * `binary: size_mb=<n> version_ms=<n> healthz_ms=<n>`: its size, the median wall time of
 * `orch --version` over 20 runs, and the median time from starting `orch run` to the
 * first 200 from `/healthz` over 5 starts (the runtime already unpacked, as on every start
 * but the first; the first start's unpacking is printed beside it). Goal: --version < 300 ms.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { tempDir } from "@orch/testing"

const repo = fileURLToPath(new URL("../../..", import.meta.url))
// @ts-expect-error: a plain ESM build script without types
const { buildBinary } = await import("../binary.mjs")
const binary: string = await buildBinary()

const dir = tempDir("orch-bench-binary-")
const env = { PATH: "/usr/bin:/bin", HOME: path.join(dir, "home") }
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6

const timeCommand = async (args: ReadonlyArray<string>) => {
  const start = process.hrtime.bigint()
  await promisify(execFile)(binary, [...args], { cwd: dir, env })
  return since(start)
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Starts `orch run` and resolves with the time to its first `/healthz` 200; stops it. */
const timeHealthz = async (run: number) => {
  const port = await freePort()
  const start = process.hrtime.bigint()
  const child = spawn(binary, ["run", "--http-port", String(port), "--data-dir", path.join(dir, `data-${run}`)], { cwd: dir, env, stdio: "ignore" })
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false)
      if (ok) return since(start)
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error("orch run did not answer /healthz within 30 s")
  } finally {
    const exited = new Promise((r) => child.once("exit", r))
    child.kill("SIGTERM")
    await exited
  }
}

const unpackMs = await timeCommand(["config", "init", "-o", path.join(dir, "first.yaml")])
const version: Array<number> = []
for (let i = 0; i < 20; i++) version.push(await timeCommand(["--version"]))
const healthz: Array<number> = []
for (let i = 0; i < 5; i++) healthz.push(await timeHealthz(i))

const sizeMb = fs.statSync(binary).size / 1024 / 1024
console.log(`first start (unpacking the runtime, then config init): ${unpackMs.toFixed(0)} ms; binary at ${path.relative(repo, binary)}`)
console.log(`binary: size_mb=${sizeMb.toFixed(1)} version_ms=${median(version).toFixed(0)} healthz_ms=${median(healthz).toFixed(0)}`)
