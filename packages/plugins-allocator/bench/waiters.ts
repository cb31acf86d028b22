/**
 * Waiting allocations at scale, end to end: the real daemon (the built bundle, a temp data
 * dir, port 0) with every device of a type leased, and `--waiters` clients at once, each
 * on its own connection, asking for that type with `waitSeconds`. Every one must be
 * answered "none free" (409) when its wait runs out; the figures are how late (after
 * `waitSeconds`, from when the client sent the request) and the daemon's largest resident
 * memory meanwhile (VmRSS from /proc). `--rounds` repeats the run on the same daemon.
 * Beside it, from the daemon's /metrics (orch_allocator_wait_overrun_seconds), how late its
 * one timer answered the waits after their deadlines: what a loaded machine adds before
 * the daemon reads a request and after it writes the answer is not in that figure.
 * First, the same waits without HTTP: `Allocator.allocate` called 2,000 times at once in
 * this process over a real SQLite file, each answer timed against its own start.
 *
 *   node --import tsx packages/plugins-allocator/bench/waiters.ts [--waiters 2000] [--wait 2] [--rounds 2]
 *
 * Last line:
 *   allocator-waiters: n=<waiters> wait=<s>s max_late_ms=<…> p99_late_ms=<…> rss_mb=<…>
 */
import { eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Effect, Either } from "effect"
import { inventoryText, makeAllocator, servicesLayer } from "../test/support.js"
import { percentile, post, residentBytes, waiters } from "../test/waiters.js"

const { values: args } = parseArgs({
  options: {
    waiters: { type: "string", default: "2000" },
    wait: { type: "string", default: "2" },
    rounds: { type: "string", default: "2" }
  }
})
const count = Number(args.waiters)
const waitSeconds = Number(args.wait)
const rounds = Math.max(1, Number(args.rounds))

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
if (!fs.existsSync(path.join(root, "apps/cli/dist/orch.mjs"))) {
  console.log("building the orch bundle (npm run build) …")
  if (spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" }).status !== 0) process.exit(1)
}

// the allocator alone: the same waits, no HTTP
await Effect.runPromise(Effect.gen(function*() {
  const allocator = yield* makeAllocator(inventoryText([{ type: "board", count: 2 }]))
  for (const holder of ["holder-0", "holder-1"]) yield* allocator.allocate({ type: "board", holder, ttlMs: 3_600_000, waitMs: 0 })
  for (let round = 1; round <= rounds; round++) {
    const lateness = yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) =>
      Effect.gen(function*() {
        const started = performance.now()
        const outcome = yield* Effect.either(allocator.allocate({ type: "board", holder: `waiter-${i}`, ttlMs: 60_000, waitMs: waitSeconds * 1000 }))
        if (Either.isRight(outcome) || outcome.left._tag !== "AllocationDenied") throw new Error(`waiter ${i}: ${JSON.stringify(outcome)}`)
        return performance.now() - started - waitSeconds * 1000
      }), { concurrency: "unbounded" })
    console.log(`in process, round ${round}: ${count} waits of ${waitSeconds} s all denied; late p50 ${percentile(lateness, 50).toFixed(0)} ms, ` +
      `p99 ${percentile(lateness, 99).toFixed(0)} ms, max ${Math.max(...lateness).toFixed(0)} ms, min ${Math.min(...lateness).toFixed(0)} ms`)
  }
}).pipe(Effect.scoped, Effect.provide(servicesLayer())))

const dir = tempDir("orch-allocator-waiters-")
const inventory = path.join(dir, "inventory.yaml")
fs.writeFileSync(inventory, [
  "devices:",
  ...Array.from({ length: 2 }, (_, i) => `  - { name: board-${i}, type: board, connection: { host: 127.0.0.1, port: ${10000 + i} } }`)
].join("\n") + "\n")
const daemon = await startDaemon(orchBin, ["--plugins=allocator", "--data-dir", dir, "--set", `allocator.inventory=${inventory}`])
try {
  await eventually(() => daemon.logs.some((line) => String(line.message).startsWith("inventory ")) || undefined)
  const pid = daemon.process.pid!
  const agent = new http.Agent({ keepAlive: false })
  for (const holder of ["holder-0", "holder-1"]) {
    const held = await post(agent, `${daemon.url}/allocator/leases`, { type: "board", holder, ttlSeconds: 3600 })
    if (held.status !== 200) throw new Error(`cannot lease a board: ${held.status} ${JSON.stringify(held.body)}`)
  }
  console.log(`daemon pid ${pid}, rss before: ${((residentBytes(pid) ?? 0) / 2 ** 20).toFixed(0)} MB`)
  /** The waits' overruns the daemon measured so far: cumulative bucket counts by upper bound (s). */
  const overruns = async () => {
    const text = await (await fetch(`${daemon.url}/metrics`)).text()
    return [...text.matchAll(/^orch_allocator_wait_overrun_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)]
      .map((m) => [m[1] === "+Inf" ? Infinity : Number(m[1]), Number(m[2])] as const)
  }
  /** The smallest bucket bound (ms) under which `share` of this round's overruns fell. */
  const overrunBound = (before: ReadonlyArray<readonly [number, number]>, after: ReadonlyArray<readonly [number, number]>, share: number) => {
    const total = after.at(-1)![1] - (before.at(-1)?.[1] ?? 0)
    const found = after.find(([, n], i) => n - (before[i]?.[1] ?? 0) >= share * total)
    return found === undefined ? NaN : found[0] * 1000
  }
  let last = ""
  for (let round = 1; round <= rounds; round++) {
    const before = await overruns()
    const run = await waiters({ url: daemon.url, pid, count, type: "board", waitSeconds })
    const after = await overruns()
    const statuses = new Map<string, number>()
    for (const answer of run.answers) {
      const what = `${answer.status}${answer.body?.reason === undefined ? "" : ` ${answer.body.reason}`}`
      statuses.set(what, (statuses.get(what) ?? 0) + 1)
    }
    const early = run.lateness.filter((late) => late < 0).length
    const max = Math.max(...run.lateness)
    const p99 = percentile(run.lateness, 99)
    const p50 = percentile(run.lateness, 50)
    const rssMb = run.maxRssBytes / 2 ** 20
    console.log(
      `round ${round}: answers ${[...statuses].map(([what, n]) => `${what}×${n}`).join(", ")}; ` +
        `late p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${max.toFixed(0)} ms; answered early: ${early}; max rss ${rssMb.toFixed(0)} MB; ` +
        `daemon's timer: p99 ≤ ${overrunBound(before, after, 0.99)} ms, all ≤ ${overrunBound(before, after, 1)} ms after the deadline`
    )
    last = `allocator-waiters: n=${count} wait=${waitSeconds}s max_late_ms=${max.toFixed(0)} p99_late_ms=${p99.toFixed(0)} rss_mb=${rssMb.toFixed(0)}`
  }
  console.log(last)
} finally {
  await daemon.stop("SIGTERM")
  fs.rmSync(dir, { recursive: true, force: true })
}
