/**
 * The worker against the real orch daemon (the built binary, `--plugins=bench`) tracking a git
 * repository made in the test: the daemon is SIGKILLed and started again while the benchmark
 * runs, and the connection of the first submit that reaches it is cut after it answered. The run
 * lands, once.
 */
import { eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { spawn } from "node:child_process"
import { Effect, Fiber, Logger, LogLevel, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as Worker from "../src/worker/Worker.js"
import { defaultWorkerSection } from "../src/worker/WorkerConfig.js"
import { makeRepo } from "./WorkerDouble.js"
import { startProxy } from "./WorkerProxy.js"

const token = "bench-token-0123456789"

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
})

const portOf = (url: string) => Number(new URL(url).port)

const runsOf = async (url: string) =>
  (await (await fetch(`${url}/bench/api/runs`)).json()) as { runs: Array<{ id: string; hash: string; worker: string; exitCode: number; measurements: number }> }

describe("the worker and the orch daemon", () => {
  it("survives a daemon SIGKILL and restart mid-run and a cut connection while submitting: the run is stored once", async () => {
    const dir = tempDir()
    const started = path.join(dir, "started")
    const gate = path.join(dir, "gate")
    const repo = path.join(dir, "repo")
    fs.mkdirSync(repo)
    const hash = makeRepo(repo, {
      bench: [
        "#!/bin/sh",
        `touch ${started}`,
        `while [ ! -f ${gate} ]; do sleep 0.05; done`,
        'echo \'{"startup": {"latency": {"value": 12.5, "unit": "ms"}}, "sort_1k": {"throughput": {"value": 3000}}}\''
      ].join("\n") + "\n"
    }, ["bench"])
    fs.writeFileSync(path.join(dir, "orch.yaml"), `bench:\n  repo: ${repo}\n  token: ${token}\n`)
    const args = ["--plugins=bench", "--data-dir", path.join(dir, "data")]
    let daemon = await startDaemon(orchBin, args, { cwd: dir })
    cleanups.push(() => daemon.stop("SIGKILL"))
    const proxy = await startProxy(portOf(daemon.url))
    cleanups.push(proxy.close)

    const worker = Effect.runFork(Worker.runWithFetch({
      section: { ...defaultWorkerSection, name: "w1", servers: [{ url: proxy.url, token: Redacted.make(token), weight: 1 }], pingSeconds: 0.2, noiseTest: false },
      retryInitial: "100 millis"
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))
    cleanups.push(() => Effect.runPromise(Fiber.interrupt(worker)))

    // the first import queued the commit; the worker was handed it and its benchmark is running
    await eventually(() => (fs.existsSync(started) ? true : undefined)).catch((e) => {
      console.log(daemon.logs.map((l) => JSON.stringify(l)).join("\n"))
      throw e
    })
    const queue = await (await fetch(`${daemon.url}/bench/api/queue`)).json() as any
    expect(queue.queue.map((q: any) => q.hash)).toEqual([hash])

    expect(await daemon.stop("SIGKILL")).toBe("SIGKILL")
    daemon = await startDaemon(orchBin, args, { cwd: dir })
    proxy.target = portOf(daemon.url)
    proxy.cutSubmits = 1
    fs.writeFileSync(gate, "")

    const stored = await eventually(async () => {
      const { runs } = await runsOf(daemon.url)
      return proxy.cut === 1 && runs.length > 0 && daemon.logs.some((l) => String(l.message).includes("stored already")) ? runs : undefined
    }, 30_000)
    expect(stored).toEqual([expect.objectContaining({ hash, worker: "w1", exitCode: 0, measurements: 2 })])
    // the retry was acknowledged: the worker asks for work again and the commit is not handed out twice
    await new Promise((r) => setTimeout(r, 1000))
    expect((await runsOf(daemon.url)).runs).toHaveLength(1)
    expect(daemon.logs.filter((l) => String(l.message).includes(`run ${stored[0]!.id} of ${hash} from w1 stored`))).toHaveLength(1)
    const after = await (await fetch(`${daemon.url}/bench/api/queue`)).json() as any
    expect(after.queue).toEqual([])
  }, 90_000)

  it("the real `orch bench worker` process: benchmarks the queued commit; SIGTERM mid-run kills the benchmark's group and exits", async () => {
    const dir = tempDir()
    const pidFile = path.join(dir, "pid")
    const repo = path.join(dir, "repo")
    fs.mkdirSync(repo)
    makeRepo(repo, {
      bench: [
        "#!/bin/sh",
        `if [ -f ${path.join(dir, "hang")} ]; then sleep 1000 & echo $! > ${pidFile}; wait; fi`,
        "echo '{\"b\": {\"m\": {\"value\": 7}}}'"
      ].join("\n") + "\n"
    }, ["bench"])
    // a worker gone 2 s frees its name and its commit (the next process has another secret)
    fs.writeFileSync(path.join(dir, "orch.yaml"), `bench:\n  repo: ${repo}\n  token: ${token}\n  workerTimeoutSeconds: 2\n`)
    const daemon = await startDaemon(orchBin, ["--plugins=bench", "--data-dir", path.join(dir, "data")], { cwd: dir })
    cleanups.push(() => daemon.stop("SIGKILL"))
    const startWorker = () => {
      const child = spawn(process.execPath, [orchBin, "bench", "worker", "--server", daemon.url, "--name", "proc", "--log-format", "json"], {
        cwd: tempDir(),
        env: { ...process.env, ORCH_BENCH_TOKEN: token },
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      child.stderr!.on("data", (chunk) => (stderr += chunk))
      const exited = new Promise<number | string | null>((done) => child.once("exit", (code, signal) => done(code ?? signal)))
      cleanups.push(async () => {
        child.kill("SIGKILL")
        await exited
      })
      return { child, exited, stderr: () => stderr }
    }
    fs.writeFileSync(path.join(dir, "hang"), "")
    const first = startWorker()
    const pid = Number(await eventually(() => (fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim()) || undefined))
    first.child.kill("SIGTERM")
    await first.exited
    await eventually(() => {
      try {
        process.kill(pid, 0)
        return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")) ? true : undefined
      } catch {
        return true
      }
    })
    expect((await runsOf(daemon.url)).runs).toEqual([])
    // another start: the commit is handed out again (the first worker is gone) and lands once
    fs.rmSync(path.join(dir, "hang"))
    const second = startWorker()
    const stored = await eventually(async () => {
      const { runs } = await runsOf(daemon.url)
      return runs.length > 0 ? runs : undefined
    }, 60_000).catch((error) => {
      throw new Error(`${error.message}\n${second.stderr()}`)
    })
    expect(stored).toEqual([expect.objectContaining({ worker: "proc", exitCode: 0, measurements: 1 })])
  }, 120_000)

  it("orch run --plugins=bench with bench.localWorker: a repository with no bench script gets tablejohn's counts, from its own worker", async () => {
    const dir = tempDir()
    const hash = makeRepo(dir, { "a.ts": "const a = 1\n// TODO b\n" })
    const daemon = await startDaemon(orchBin, [
      "--plugins=bench", "--data-dir", path.join(dir, ".orch"),
      "--set", "bench.localWorker=true", "--set", "bench.worker.noiseTest=false", "--set", "bench.worker.pingSeconds=0.2"
    ], { cwd: dir })
    cleanups.push(() => daemon.stop())
    const stored = await eventually(async () => {
      const { runs } = await runsOf(daemon.url)
      return runs.length > 0 ? runs : undefined
    }, 30_000)
    expect(stored).toEqual([expect.objectContaining({ hash, worker: expect.stringMatching(/-local$/), exitCode: 0, measurements: 6 })])
  }, 60_000)
})
