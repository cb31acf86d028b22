/**
 * The worker against the real orch daemon (the built binary, `--plugins=bench`) tracking a git
 * repository made in the test: the daemon is SIGKILLed and started again while the benchmark
 * runs, and the connection of the first submit that reaches it is cut after it answered. The run
 * lands, once.
 */
import { eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
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
})
