/** `orch bench …` end to end through the built binary and a running daemon. */
import { eventually, orchBin, queryTestDatabase, run, send, startDaemon, tempDir } from "@orch/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { makeRepo } from "./support.js"

const fixtures = path.join(import.meta.dirname, "fixtures", "formats")

describe("orch bench (the CLI through the daemon's API)", () => {
  it("with no config, outside a repository: starts, serves an empty queue and its series", async () => {
    const dir = tempDir()
    const daemon = await startDaemon(orchBin, ["--plugins=bench", "--data-dir", path.join(dir, "data")], { cwd: dir })
    try {
      expect((await send(`${daemon.url}/bench/api/queue`)).body).toEqual({ queue: [], workers: [] })
      expect((await send(`${daemon.url}/bench/api/runs`)).body).toEqual({ runs: [] })
      const metrics = await (await fetch(`${daemon.url}/metrics`)).text()
      expect(metrics).toContain("orch_bench_queue_depth 0")
      expect(daemon.logs.some((l) => String(l.message).startsWith("bench: no repository"))).toBe(true)
      const list = await run(orchBin, ["bench", "queue", "list", "--url", daemon.url])
      expect(list.code).toBe(0)
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  }, 60_000)

  it("run inside a repository with no config: tracks it; queue add, list, drop; import; runs", async () => {
    const dir = tempDir()
    const repo = makeRepo(path.join(dir, "work"))
    const first = repo.commit("first")
    const second = repo.commit("second")
    repo.git("tag", "v1", first)
    const daemon = await startDaemon(orchBin, ["--plugins=bench", "--data-dir", path.join(dir, "data")], { cwd: repo.dir })
    const orch = (...args: Array<string>) => run(orchBin, [...args, "--url", daemon.url], { cwd: dir })
    try {
      await eventually(async () => ((await send(`${daemon.url}/bench/api/queue`)).body.queue?.length === 1 ? true : undefined))

      const add = await orch("bench", "queue", "add", "v1", "--priority", "3")
      expect([add.code, add.stdout.trim()]).toEqual([0, `queued ${first} (priority 3)`])
      const listed = await orch("bench", "queue", "list", "--json")
      expect(JSON.parse(listed.stdout).queue.map((q: any) => [q.hash, q.priority, q.reason])).toEqual([[first, 3, "manual"], [second, 0, "new"]])
      const table = await orch("bench", "queue", "list")
      expect(table.stdout).toContain(first.slice(0, 12))
      expect(table.stdout).toContain("manual")

      const unknown = await orch("bench", "queue", "add", "no-such-branch")
      expect(unknown.code).not.toBe(0)
      expect(unknown.stderr).toContain("names no commit")

      const dropped = await orch("bench", "queue", "drop", first.slice(0, 10))
      expect([dropped.code, dropped.stdout.trim()]).toEqual([0, `dropped ${first}`])
      const again = await orch("bench", "queue", "drop", first)
      expect(again.code).not.toBe(0)
      expect(again.stderr).toContain("is not queued")

      const file = path.join(dir, "results.json")
      fs.writeFileSync(file, JSON.stringify({ sort_1k: { latency: { value: 3.5, lower_value: 3.1, upper_value: 3.9 } } }))
      const imported = await orch("bench", "import", file, "--commit", "main")
      expect(imported.code).toBe(0)
      expect(imported.stdout).toContain(`stored 1 measurement(s) (bencher) for ${second}`)
      fs.writeFileSync(file, "not json")
      const bad = await orch("bench", "import", file, "--commit", "main")
      expect(bad.code).not.toBe(0)
      expect(bad.stderr).toContain("text: no known format reads this input")

      // another tool's output, its format found by itself
      const hyperfine = await orch("bench", "import", path.join(fixtures, "hyperfine.json"), "--commit", first)
      expect(hyperfine.stdout).toMatch(new RegExp(`stored \\d+ measurement\\(s\\) \\(hyperfine\\) for ${first}`))

      const runs = await orch("bench", "runs", "--json")
      expect(JSON.parse(runs.stdout)).toMatchObject([{ hash: first, source: "import" }, { hash: second, source: "import", measurements: 1 }])
      // the analysis loop has seen both runs, and its alert series is out
      const pending = async () =>
        Number((await queryTestDatabase<{ n: number }>(path.join(dir, "data", "orch.sqlite"), "SELECT count(*) AS n FROM bench_runs WHERE analysed = 0"))[0]!.n)
      await eventually(async () => (await pending()) === 0 || undefined)
      expect(await (await fetch(`${daemon.url}/metrics`)).text()).toContain('orch_bench_alerts{state="bisecting",kind="regression"} 0')
      const table2 = await orch("bench", "runs", "--commit", second.slice(0, 7))
      expect(table2.stdout).toContain("import")
    } finally {
      expect(await daemon.stop()).toBe(0)
    }
  }, 240_000)
})
