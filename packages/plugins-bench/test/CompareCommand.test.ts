/**
 * `orch bench compare A B` run in this process against a real daemon (also in this process,
 * a real SQLite file): the table, the JSON, refs with slashes as one path segment, an unknown
 * run's error, and `--fail-on-regression`.
 */
import * as Command from "@effect/cli/Command"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Plugins } from "@orch/core/Plugin"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { compareCommand } from "../src/CompareCommand.js"
import { benchPlugin, hashOf, type PagesServer, startPagesServer } from "./pagesServer.js"

let server: PagesServer
const before = hashOf(1, "d")
const after = hashOf(2, "d")

beforeAll(async () => {
  server = await startPagesServer()
  server.seed.commits([
    { hash: before, message: "before", date: 1_700_000_000_000 },
    { hash: after, message: "after", date: 1_700_000_060_000, parents: [before] }
  ])
  server.seed.ref("refs/heads/topic/x", after, true)
  server.seed.run({
    id: "r1",
    hash: before,
    fingerprint: { cpu: "c", governor: "performance" },
    measurements: { "sort/time": { value: 12, samples: [10, 12, 14], unit: "ms", direction: -1 }, "old/one": { value: 1 } }
  })
  server.seed.run({
    id: "r2",
    hash: after,
    fingerprint: { cpu: "c", governor: "powersave" },
    measurements: { "sort/time": { value: 22, samples: [20, 22, 24], unit: "ms", direction: -1 } }
  })
}, 60_000)
afterAll(async () => {
  await server?.close()
})

const orch = Command.make("orch").pipe(Command.withSubcommands([Command.make("bench").pipe(Command.withSubcommands([compareCommand]))]))

/** Runs `orch bench compare …args` and returns what it printed and its exit code. */
const run = async (...args: Array<string>) => {
  const printed: Array<string> = []
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: any) => {
    printed.push(String(chunk))
    return true
  })
  const exitCode = process.exitCode
  try {
    const exit = await Effect.runPromiseExit(
      Command.run(orch, { name: "orch", version: "0.0.0" })(["node", "orch", "bench", "compare", ...args, "--url", server.url]).pipe(
        Effect.provideService(Plugins, [benchPlugin()]),
        Effect.provide(NodeContext.layer)
      )
    )
    return { out: printed.join(""), exit, exitCode: process.exitCode }
  } finally {
    write.mockRestore()
    process.exitCode = exitCode
  }
}

describe("orch bench compare", () => {
  it("prints the runs, the environment, a row per metric and the counts", async () => {
    const { out, exit } = await run("r1", "r2")
    expect(exit._tag).toBe("Success")
    expect(out).toContain("a: run r1 of d00000001000")
    expect(out).toContain(`environment: differs in governor ("performance" → "powersave")`)
    const time = out.split("\n").find((line) => line.startsWith("sort/time"))!
    // 12 → 22: +83.33%, d = 5, Welch 10 ± 4.533916
    expect(time).toMatch(/sort\/time\s+12\s+22\s+ms\s+\+83\.33%\s+5\s+5\.4661 … 14\.534\s+regression/)
    expect(out).toMatch(/old\/one\s+1\s+–.*removed/)
    expect(out).toContain("2 metric(s): 1 regression, 1 removed")
  })

  it("takes commits and refs with slashes, and prints the daemon's JSON with --json", async () => {
    const { out } = await run(before.slice(0, 10), "refs/heads/topic/x", "--json")
    const body = JSON.parse(out)
    expect(body.a.id).toBe("r1")
    expect(body.b.id).toBe("r2")
    expect(body.metrics.find((m: any) => m.metric === "sort/time")).toMatchObject({ before: 12, after: 22, effectSize: 5, verdict: "regression" })
  })

  it("exits 1 with --fail-on-regression when a metric regressed", async () => {
    expect((await run("r1", "r2", "--fail-on-regression")).exitCode).toBe(1)
    expect((await run("r2", "r2", "--fail-on-regression")).exitCode ?? 0).toBe(0)
  })

  it("fails saying which run is unknown", async () => {
    const { exit } = await run("r1", "nope")
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" ? exit.cause : "")).toContain("nope")
  })
})
