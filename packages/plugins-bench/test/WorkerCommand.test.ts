/**
 * `orch bench worker`: its flags checked as config keys are, and the command itself, run in this
 * process as the CLI runs it, working for the server its flags or its config file name.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Plugin from "@orch/core/Plugin"
import { eventually, tempDir } from "@orch/testing"
import { Effect, Fiber, Logger, LogLevel, Option, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { plugin } from "../src/index.js"
import { resolveSection, workerCommand } from "../src/worker/Command.js"
import { apiBase, defaultWorkerSection, WorkerSection } from "../src/worker/WorkerConfig.js"
import { makeRepo, startDouble } from "./WorkerDouble.js"

const none = { server: Option.none(), token: Option.none(), name: Option.none(), timeout: Option.none() }
const configured = { ...defaultWorkerSection, servers: [{ url: "http://127.0.0.1:1", token: Redacted.make("t"), weight: 2 }] }

const problemOf = (effect: Effect.Effect<unknown, { toString(): string }>) =>
  Effect.runPromise(Effect.flip(effect)).then(String)

describe("orch bench worker: flags", () => {
  it("--server with --token is the one server; --name and --timeout override the config", async () => {
    const section = await Effect.runPromise(resolveSection(configured, {
      server: Option.some("http://127.0.0.1:7600"),
      token: Option.some("secret-token"),
      name: Option.some("box-1"),
      timeout: Option.some(60)
    }))
    expect(section.servers.map((s) => [s.url, Redacted.value(s.token), s.weight])).toEqual([["http://127.0.0.1:7600", "secret-token", 1]])
    expect([section.name, section.timeoutSeconds]).toEqual(["box-1", 60])
    // without flags the config's servers stay
    expect((await Effect.runPromise(resolveSection(configured, none))).servers).toBe(configured.servers)
  })

  it("each bad flag named with what to write", async () => {
    expect(await problemOf(resolveSection(defaultWorkerSection, { ...none, server: Option.some("http://x:1") })))
      .toBe("--server http://x:1: needs --token (or $ORCH_BENCH_TOKEN): the server's worker token")
    expect(await problemOf(resolveSection(defaultWorkerSection, { ...none, server: Option.some("ftp://x"), token: Option.some("t") })))
      .toBe("--server ftp://x: must be an http:// or https:// URL, e.g. http://127.0.0.1:7600")
    expect(await problemOf(resolveSection(defaultWorkerSection, { ...none, server: Option.some("http://x"), token: Option.some("") })))
      .toBe("--token: must not be empty")
    expect(await problemOf(resolveSection(configured, { ...none, name: Option.some("my box") })))
      .toBe("--name my box: must be letters, digits, '.', '_' or '-' (it is the HTTP Basic user name)")
    expect(await problemOf(resolveSection(configured, { ...none, timeout: Option.some(0) })))
      .toBe("--timeout 0: must be a whole number of seconds above 0")
    expect(await problemOf(resolveSection(defaultWorkerSection, none)))
      .toBe("--server: no server to work for: give --server URL --token T, or bench.worker.servers in orch.yaml")
  })

  it("where api/worker/ is: an orch daemon's root means /bench; a path or apiPath (tablejohn) as given", () => {
    expect(apiBase("http://127.0.0.1:7600")).toBe("http://127.0.0.1:7600/bench")
    expect(apiBase("http://127.0.0.1:7600/")).toBe("http://127.0.0.1:7600/bench")
    expect(apiBase("https://ci.example.org/perf/")).toBe("https://ci.example.org/perf")
    expect(apiBase("http://tablejohn:8221", "/")).toBe("http://tablejohn:8221")
  })

  it("the config section: defaults, and a bad server named by its key", () => {
    expect(Schema.decodeUnknownSync(WorkerSection)({})).toMatchObject({ servers: [], timeoutSeconds: 3600, pingSeconds: 10, statusLines: 50, noiseTest: true })
    expect(() => Schema.decodeUnknownSync(WorkerSection)({ servers: [{ url: "http://a", token: "" }] })).toThrow(/token/)
    expect(() => Schema.decodeUnknownSync(WorkerSection)({ servers: [{ url: "http://a", token: "t", weight: 0 }] })).toThrow(/weight/)
    expect(() => Schema.decodeUnknownSync(WorkerSection)({ servers: [{ url: "http://a:1", token: "t" }, { url: "http://a:1/", token: "u" }] }))
      .toThrow(/two servers are named "a:1"/)
  })
})

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Runs `orch bench worker ARGS` in this process with `plugins` as the build's plugin list. */
const runCommand = (args: ReadonlyArray<string>, plugins: ReadonlyArray<Plugin.Plugin>) => {
  const fiber = Effect.runFork(
    Command.run(workerCommand, { name: "orch bench", version: "test" })(["node", "orch", ...args]).pipe(
      Effect.provideService(Plugin.Plugins, plugins),
      Effect.provide(NodeContext.layer),
      Logger.withMinimumLogLevel(LogLevel.Error)
    )
  )
  cleanups.push(() => Effect.runPromise(Fiber.interrupt(fiber)))
  return fiber
}

describe("orch bench worker: the command", () => {
  it("works for --server/--token as --name, with the bench plugin's own config (no worker section needed)", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, { bench: "#!/bin/sh\necho '{\"b\": {\"m\": {\"value\": 1}}}'\n" }, ["bench"])
    const double = await startDouble({ token: "cli-token", repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    runCommand(["--server", double.url, "--token", "cli-token", "--name", "cli-worker"], [plugin])
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    expect(double.requests[0]!.worker).toBe("cli-worker")
    expect(double.stored.get("run-1")!.measurements).toEqual({ "b/m": { value: 1 } })
    // the fingerprint and the noise test went with every status
    expect(JSON.parse(double.requests[0]!.info!)).toMatchObject({ cores: expect.any(Number), noise: { runs: 30 } })
  })

  it("works for the servers of bench.worker in the config file (once the plugin's config has the section)", async () => {
    const repo = tempDir()
    const hash = makeRepo(repo, { bench: "#!/bin/sh\necho '{\"b\": {\"m\": {\"value\": 2}}}'\n" }, ["bench"])
    const double = await startDouble({ token: "file-token", repo })
    cleanups.push(double.stop)
    double.queue.push(hash)
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "orch.yaml"), [
      "bench:",
      "  worker:",
      "    name: from-file",
      "    pingSeconds: 0.2",
      "    noiseTest: false",
      "    servers:",
      `      - { url: "${double.url}", token: "\${BENCH_TOKEN}", weight: 2 }`
    ].join("\n") + "\n")
    process.env.BENCH_TOKEN = "file-token"
    const withWorker = Plugin.make({
      name: "bench",
      description: "the bench plugin's config with its worker section",
      config: Schema.Struct({ worker: Schema.optionalWith(WorkerSection, { default: () => defaultWorkerSection }) })
    })
    runCommand(["--config", path.join(dir, "orch.yaml")], [withWorker])
    await eventually(() => (double.stored.size === 1 ? true : undefined))
    expect(double.requests[0]!.worker).toBe("from-file")
    expect(JSON.parse(double.requests[0]!.info!).noise).toBeNull()
  })
})
