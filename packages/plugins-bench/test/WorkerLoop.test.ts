/**
 * The worker's loop against a server that speaks the protocol (`WorkerDouble`): it benchmarks the
 * queued commits of a repository made in the test, streams its last lines while it runs, and
 * submits each run until the server has it: through a server restart mid-run and a connection cut
 * while submitting, the run is stored once.
 */
import { debianTool, eventually, tempDir } from "@orch/testing"
import { Effect, Fiber, Logger, LogLevel, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { DaemonInfo } from "@orch/core/Plugin"
import * as Worker from "../src/worker/Worker.js"
import { defaultWorkerSection, type WorkerSection } from "../src/worker/WorkerConfig.js"
import { commit, type Double, makeRepo, startDouble } from "./WorkerDouble.js"

const token = "worker-token"

/** A bench script that waits for `gate` (when given), then prints Bencher JSON with the file count. */
const benchScript = (gate?: string) => [
  "#!/bin/sh",
  'echo "benchmarking $1" >&2',
  ...(gate === undefined ? [] : [`while [ ! -f ${gate} ]; do sleep 0.05; done`]),
  'files=$(ls "$1" | wc -l)',
  'echo "{\\"tree\\": {\\"files\\": {\\"value\\": $files}}}"'
].join("\n") + "\n"

const section = (double: Double, more: Partial<WorkerSection> = {}): WorkerSection => ({
  ...defaultWorkerSection,
  name: "w1",
  servers: [{ url: double.url, token: Redacted.make(token), weight: 1 }],
  pingSeconds: 0.2,
  noiseTest: false,
  ...more
})

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const startWorker = (options: Worker.WorkerOptions) => {
  const fiber = Effect.runFork(Worker.runWithFetch({ info: JSON.stringify({ test: true }), retryInitial: "50 millis", ...options }).pipe(
    Logger.withMinimumLogLevel(LogLevel.Error)
  ))
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)))
  return fiber
}

describe("the worker loop", () => {
  it("benchmarks queued commits with the tree's ./bench, reports working with its last lines, submits each once", async () => {
    const repo = tempDir()
    const first = makeRepo(repo, { "bench": benchScript(), "a.txt": "a" }, ["bench"])
    const second = commit(repo, { "b.txt": "b" })
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(second, first)
    startWorker({ section: section(double) })
    await eventually(() => (double.stored.size === 2 ? true : undefined))
    const runs = [...double.stored.values()]
    expect(runs.map((r) => [r.hash, r.exit_code, r.measurements])).toEqual([
      [second, 0, { "tree/files": { value: 3 } }],
      [first, 0, { "tree/files": { value: 2 } }]
    ])
    expect(runs[0]!.output.some(([source, text]) => source === 2 && text.startsWith("benchmarking /"))).toBe(true)
    expect(runs[0]!.output.at(-1)).toEqual([0, "exit code 0; 1 measurement(s) from stdout"])
    expect(double.submits).toEqual(["run-1", "run-2"])
    // Basic auth as the worker's name; one secret for the life of the process; the info sent each time
    expect(new Set(double.requests.map((r) => `${r.worker}:${r.secret}:${r.info}`)).size).toBe(1)
    expect(double.requests[0]!.worker).toBe("w1")
  })

  it("survives a server restart mid-run and a connection cut while submitting: the run is stored once", async () => {
    const dir = tempDir()
    const gate = path.join(dir, "gate")
    const repo = path.join(dir, "repo")
    fs.mkdirSync(repo)
    const hash = makeRepo(repo, { "bench": benchScript(gate) }, ["bench"])
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    startWorker({ section: section(double) })
    // the run is going: its status says working, with the script's line
    await eventually(() =>
      double.requests.some((r) => r.status.type === "working" && r.status.last_output.some(([, text]) => text.startsWith("benchmarking")))
        ? true : undefined)
    await double.stop()
    // the benchmark ends while the server is down: the first submits find no one
    fs.writeFileSync(gate, "")
    await new Promise((r) => setTimeout(r, 600))
    expect(double.stored.size).toBe(0)
    double.dropSubmits = 1
    const before = double.requests.length
    await double.start()
    await eventually(() => (double.submits.length >= 2 ? true : undefined))
    // pings waited while the run was being submitted: no "idle" without the run reached the server
    expect(double.requests.slice(before, before + 2).map((r) => r.submit_run?.id)).toEqual(["run-1", "run-1"])
    // the first submit that arrived was stored, then its connection cut; the retry carried the same id
    expect(double.submits).toEqual(["run-1", "run-1"])
    expect([...double.stored.keys()]).toEqual(["run-1"])
    expect(double.stored.get("run-1")).toMatchObject({ hash, exit_code: 0, measurements: { "tree/files": { value: 1 } } })
    // and after the acknowledgement it stops sending it
    await new Promise((r) => setTimeout(r, 500))
    expect(double.submits).toEqual(["run-1", "run-1"])
  })

  it("a bench repository's ./bench, given the commit's tree, writing to $ORCH_BENCH_RESULTS; a timeout is exit code 128+15", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, { "x.txt": "x", "y.txt": "y" })
    const benchRepo = tempDir()
    makeRepo(benchRepo, {
      "bench": [
        "#!/bin/sh",
        'echo "progress on stdout, not measurements"',
        'if [ -f "$1/slow" ]; then sleep 1000; fi',
        'echo "{\\"repo\\": {\\"files\\": {\\"value\\": $(ls "$1" | wc -l), \\"unit\\": \\"files\\"}}}" > "$ORCH_BENCH_RESULTS"'
      ].join("\n") + "\n"
    }, ["bench"])
    const double = await startDouble({ token, repo, benchRepo })
    cleanups.push(double.stop)
    const slow = commit(repo, { "slow": "" })
    double.queue.push(hash, slow)
    startWorker({ section: section(double, { timeoutSeconds: 0.5 }) })
    await eventually(() => (double.stored.size === 2 ? true : undefined))
    const [fast, timedOut] = [double.stored.get("run-1")!, double.stored.get("run-2")!]
    expect(fast).toMatchObject({ hash, exit_code: 0, measurements: { "repo/files": { value: 2, unit: "files" } } })
    expect(fast.bench_method).toMatch(/^bench repo, hash [0-9a-f]{40}$/)
    expect(timedOut.exit_code).toBe(143)
    expect(timedOut.output.map(([, text]) => text)).toContain("timed out after 500ms: killing its process group")
  })

  it("abort_run from the server kills the benchmark; the run is not submitted and the worker goes on", async () => {
    const dir = tempDir()
    const repo = path.join(dir, "repo")
    fs.mkdirSync(repo)
    const hash = makeRepo(repo, { "bench": benchScript(path.join(dir, "never")) }, ["bench"])
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    double.abort = "run-1"
    startWorker({ section: section(double) })
    await eventually(() => (double.requests.some((r) => r.status.type === "idle" && r.request_run && double.requests.some((q) => q.status.type === "working")) ? true : undefined))
    expect(double.submits).toEqual([])
  })

  it("a failing benchmark and one whose output is not measurements are submitted with their exit codes (-1 for the latter)", async () => {
    const repo = tempDir()
    const broken = makeRepo(repo, { "bench": "#!/bin/sh\necho oops >&2\nexit 4\n" }, ["bench"])
    const garbage = commit(repo, { "bench": "#!/bin/sh\necho not json\n" }, ["bench"])
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(broken, garbage)
    startWorker({ section: section(double) })
    await eventually(() => (double.stored.size === 2 ? true : undefined))
    expect(double.stored.get("run-1")).toMatchObject({ exit_code: 4, measurements: {} })
    expect(double.stored.get("run-2")!.exit_code).toBe(-1)
    expect(double.stored.get("run-2")!.output.at(-1)![1]).toMatch(/^could not read the measurements on stdout: .+/)
  })

  it("the in-repo command instead of ./bench: hyperfine writing its JSON to $ORCH_BENCH_RESULTS, detected and read", async () => {
    // rather than fail on exit 127 without it
    if (debianTool("hyperfine", "hyperfine") === undefined) return
    const repo = tempDir()
    const hash = makeRepo(repo, { "README": "no bench script here" })
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    startWorker({ section: section(double, { command: "hyperfine --runs 3 --export-json \"$ORCH_BENCH_RESULTS\" 'cat README'" }) })
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    const run = double.stored.get("run-1")!
    expect(run.exit_code).toBe(0)
    const [name, measurement] = Object.entries(run.measurements)[0]!
    expect(name).toContain("cat README")
    expect(measurement).toMatchObject({ unit: expect.any(String), direction: "less_is_better" })
    expect(measurement.samples).toHaveLength(3)
  })

  it("two servers: both served, the second run for the one not yet served; while working for one the other hears busy", async () => {
    const repo = tempDir()
    const first = makeRepo(repo, { "bench": "#!/bin/sh\nsleep 0.5\necho '{\"b\": {\"m\": {\"value\": 1}}}'\n" }, ["bench"])
    const second = commit(repo, { "b.txt": "b" })
    const one = await startDouble({ token, repo })
    const two = await startDouble({ token, repo })
    cleanups.push(one.stop, two.stop)
    one.queue.push(first, second)
    two.queue.push(first, second)
    startWorker({
      section: section(one, {
        servers: [
          { name: "one", url: one.url, token: Redacted.make(token), weight: 1 },
          { name: "two", url: two.url, token: Redacted.make(token), weight: 1 }
        ]
      })
    })
    await eventually(() => (one.stored.size === 2 && two.stored.size === 2 ? true : undefined))
    // after the first run the other server has spent nothing: the second run is its
    const order = [...one.requests.map((r) => ["one", r] as const), ...two.requests.map((r) => ["two", r] as const)]
      .filter(([, r]) => r.submit_run)
      .sort(([, a], [, b]) => a.submit_run!.start.localeCompare(b.submit_run!.start))
      .map(([server]) => server)
    expect(order).toHaveLength(4)
    expect(order[0]).not.toBe(order[1])
    for (const double of [one, two]) {
      const other = double === one ? two : one
      expect(double.requests.some((r) => r.status.type === "busy")).toBe(true)
      // busy exactly while the other server's run is going
      expect(double.requests.filter((r) => r.status.type === "working").every((r) => r.status.type === "working" && double.stored.has(r.status.id))).toBe(true)
      expect(other.stored.size).toBe(2)
    }
    const perServer = (double: Double) => double.requests.filter((r) => r.request_run).length
    expect(perServer(one)).toBeGreaterThanOrEqual(2)
    expect(perServer(two)).toBeGreaterThanOrEqual(2)
  })

  it("no ./bench and no command: tablejohn's internal method counts files, lines and TODOs", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, {
      "src/a.ts": "const a = 1\n// TODO: b\n",
      "src/b.ts": "export {}\n",
      "README": "todo-list is not a TODO\nnor is todos\n",
      "logo.bin": "\u0000\u0001binary\n"
    })
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    startWorker({ section: section(double) })
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    const run = double.stored.get("run-1")!
    expect(run.exit_code).toBe(0)
    expect(run.measurements).toMatchObject({
      "files": { value: 4, unit: "files" },
      "lines": { value: 5, unit: "lines" },
      "todos": { value: 2, unit: "todos" },
      "files/by extension/ts": { value: 2 },
      "lines/by extension/none": { value: 2 },
      "todos/by extension/ts": { value: 1 },
      "lines/by extension/bin": { value: 0 }
    })
  })

  it("the local worker finds its daemon in DaemonInfo and works for it with the server's token", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, { "a.txt": "a\n" })
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    const port = Number(new URL(double.url).port)
    const fiber = Effect.runFork(Worker.localWorkerLoop(Redacted.make(token), { section: { ...defaultWorkerSection, noiseTest: false } }).pipe(
      Effect.provideService(DaemonInfo, { url: double.url, host: "0.0.0.0", port, pid: process.pid, startedAt: 0, plugins: ["bench"] }),
      Logger.withMinimumLogLevel(LogLevel.Error)
    ))
    cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)))
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    expect(double.requests[0]!.worker).toMatch(/-local$/)
    expect(Worker.loopbackUrl({ host: "::", port: 1 })).toBe("http://[::1]:1")
    expect(Worker.loopbackUrl({ host: "127.0.0.1", port: 1 })).toBe("http://127.0.0.1:1")
  })

  it("downloads: a server error is retried; one that lasts gives the run up unsubmitted; a refused tree is a failed run", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, { "a.txt": "a\n" })
    const double = await startDouble({ token, repo })
    cleanups.push(double.stop)
    // two 503s, then the tree: the run goes through
    double.treeFailures.push(503, 503)
    double.queue.push(hash)
    startWorker({ section: section(double) })
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    expect(double.stored.get("run-1")).toMatchObject({ exit_code: 0 })
    expect(double.stored.get("run-1")!.output.filter(([, text]) => text.endsWith("503 no tree for you; trying again"))).toHaveLength(2)
    // 7 failures outlast the retries: given up, not submitted, asked for again (and then served)
    double.treeFailures.push(...Array(7).fill(502))
    // (the real server hands the commit out again once the worker says it is idle; the double has it queued twice)
    double.queue.push(hash, hash)
    await eventually(() => (double.stored.size === 2 ? true : undefined))
    expect([...double.stored.keys()]).toEqual(["run-1", "run-3"])
    expect(double.submits).toEqual(["run-1", "run-3"])
    // a 404 is the server's answer for this commit: submitted as failed
    double.treeFailures.push(404)
    double.queue.push(hash)
    await eventually(() => (double.stored.size === 3 ? true : undefined))
    expect(double.stored.get("run-4")).toMatchObject({ exit_code: -1 })
    expect(double.stored.get("run-4")!.output.at(-1)![1]).toMatch(/: 404 no tree for you$/)
  })
})
