/**
 * Three orch nodes on one PostgreSQL: each runs core's daemon runtime with the real
 * allocator plugin and a worker of 10,000 shared jobs, while its clients lease, keep
 * alive and release devices over its HTTP API. One node is SIGKILLed mid-way, holding
 * jobs and leases. Then:
 * - every job succeeded exactly once: one completion in its history, its result naming
 *   the node that completed it, the dead node's jobs taken over only after their lease
 *   ran out;
 * - no device was ever held by two holders: on each device the leases, in grant order,
 *   each ended before the next was granted, with tokens that only grow;
 * - the dead node's open leases were reclaimed as expired, not before they expired.
 * PostgreSQL only: SQLite's processes share one file on one host (JobWorkerProcesses.test.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Database from "@orch/core/Database"
import * as Jobs from "@orch/core/Jobs"
import * as Runtime from "@orch/core/Runtime"
import { bundleFixture, tempDir } from "@orch/testing"
import { postgres, postgresDatabase } from "@orch/testing/Backends"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { plugin as allocator } from "../src/index.js"
import { Chore, chores, type NodeReport } from "./fixtures/clusterNode.js"

const jobCount = 10_000
const deviceCount = 6

interface Hold {
  readonly device: string
  readonly token: number
  readonly from: number
  readonly to: number
}

interface NodeProcess {
  readonly name: string
  readonly pid: number
  readonly ready: Promise<void>
  readonly go: () => void
  readonly handledAtLeast: (n: number) => Promise<void>
  /** Resolves at the next lease the node is granted (it holds it for 40 ms). */
  readonly nextLease: () => Promise<void>
  readonly kill: () => void
  readonly killedAt: () => number | undefined
  readonly handled: () => ReadonlyArray<number>
  /** What its clients held, as they saw it. */
  readonly holds: () => ReadonlyArray<Hold>
  /** When each lease's grant reached its client, by token. */
  readonly granted: () => ReadonlyMap<number, number>
  /** The report, or undefined if the process was killed. */
  readonly exit: Promise<NodeReport | undefined>
}

const startNode = (script: string, configFile: string, name: string, dead: string): NodeProcess => {
  const child = spawn(process.execPath, [script, configFile, name, dead], { stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-20_000)))
  const lines = readline.createInterface({ input: child.stdout })
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const handled: Array<number> = []
  const waiting: Array<[number, () => void]> = []
  let leaseWaiters: Array<() => void> = []
  const holds: Array<Hold> = []
  const granted = new Map<number, number>()
  let report: NodeReport | undefined
  let killedAt: number | undefined
  lines.on("line", (line) => {
    if (line.startsWith("ready ")) markReady()
    else if (line.startsWith("handled ")) {
      handled.push(Number(line.slice("handled ".length)))
      for (const [n, resolve] of waiting) if (handled.length >= n) resolve()
    } else if (line.startsWith("held ")) {
      const [device, token, from, to] = line.split(" ").slice(1)
      holds.push({ device: device!, token: Number(token), from: Number(from), to: Number(to) })
    } else if (line.startsWith("granted ")) {
      const [, token, from] = line.split(" ").slice(1)
      granted.set(Number(token), Number(from))
      const resolved = leaseWaiters
      leaseWaiters = []
      for (const resolve of resolved) resolve()
    } else if (line.startsWith("{")) report = JSON.parse(line)
  })
  const exit = new Promise<NodeReport | undefined>((resolve, reject) => {
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL" && killedAt !== undefined) resolve(undefined)
      else if (code === 0 && report !== undefined) resolve(report)
      else reject(new Error(`node ${name} exited with ${code ?? signal}: ${stderr}`))
    })
  })
  return {
    name,
    pid: child.pid!,
    ready,
    go: () => child.stdin.end("go\n"),
    handledAtLeast: (n) => new Promise((resolve) => (handled.length >= n ? resolve() : waiting.push([n, resolve]))),
    nextLease: () => new Promise((resolve) => leaseWaiters.push(resolve)),
    kill: () => {
      killedAt = Date.now()
      child.kill("SIGKILL")
    },
    killedAt: () => killedAt,
    handled: () => handled,
    holds: () => holds,
    granted: () => granted,
    exit
  }
}

interface LeaseRow {
  readonly resource: string
  readonly holder: string
  readonly token: number
  readonly granted_at: number
  readonly expires_at: number
  readonly ended_at: number | null
  readonly end_reason: string | null
}

describe.skipIf(postgres.skip !== undefined)("three orch nodes on one PostgreSQL", () => {
  it.scopedLive("share 10,000 jobs and the allocator; one SIGKILLed mid-way loses, repeats and double-grants nothing", () =>
    Effect.gen(function*() {
      const url = yield* postgresDatabase()
      const dir = tempDir("orch-cluster-")
      const inventory = path.join(dir, "inventory.yaml")
      fs.writeFileSync(inventory, [
        "devices:",
        ...Array.from({ length: deviceCount }, (_, i) =>
          `  - { name: board-${i}, type: board, labels: {}, connection: { host: 127.0.0.1, port: ${31000 + i} } }`),
        ""
      ].join("\n"))
      const config = (node: string) => {
        const file = path.join(dir, `${node}.yaml`)
        fs.writeFileSync(file, [
          "core:",
          `  dataDir: ${path.join(dir, node)}`,
          "  database:",
          `    url: ${url}`,
          "allocator:",
          `  inventory: ${inventory}`,
          "  reclaimIntervalSeconds: 0.2",
          "  waiterPollSeconds: 0.2",
          ""
        ].join("\n"))
        return file
      }
      const database = Layer.orDie(Database.layerPostgres({ url: Redacted.make(url) }))
      const queueLayer = Jobs.JobQueue.layer([Chore]).pipe(Layer.provideMerge(database))

      // the schema first (core's, the allocator's), then the jobs, before any node starts
      yield* Effect.orDie(Runtime.migrate([allocator, chores])).pipe(
        Effect.provide(database),
        Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))
      )
      yield* Effect.gen(function*() {
        const queue = yield* Jobs.JobQueue
        for (let start = 0; start < jobCount; start += 1000) {
          yield* queue.enqueueMany(Chore, Array.from({ length: 1000 }, (_, i) => ({ payload: { n: start + i } })))
        }
      }).pipe(Effect.provide(queueLayer))

      const script = yield* bundleFixture(path.join(import.meta.dirname, "fixtures", "clusterNode.ts"))
      const [victim, ...survivors] = ["victim", "a", "b"].map((name) => startNode(script, config(name), name, "victim"))
      yield* Effect.addFinalizer(() => Effect.sync(() => [victim, ...survivors].forEach((node) => node.kill())))
      // each stage bounded, saying where it stood (a loaded machine is slow, a stuck cluster never ends)
      const progress = () => [victim, ...survivors].map((node) => `${node.name}: ${node.handled().length} handled, ${node.holds().length} leases`).join("; ")
      const stage = <A>(what: string, promise: () => Promise<A>) =>
        Effect.promise(promise).pipe(
          Effect.timeoutFail({ duration: "100 seconds", onTimeout: () => new Error(`${what} did not happen within 100 s (${progress()})`) }),
          Effect.orDie
        )
      yield* stage("three nodes starting", () => Promise.all([victim, ...survivors].map((node) => node.ready)))
      for (const node of [victim, ...survivors]) node.go()
      // mid-way: the victim has started a share of the jobs, and one of its clients has just got a device
      yield* stage("the victim handling 1,000 jobs", () => victim.handledAtLeast(jobCount / 10))
      yield* stage("a lease for the victim", () => victim.nextLease())
      victim.kill()
      expect(yield* Effect.promise(() => victim.exit)).toBeUndefined()
      const killedAt = victim.killedAt()!
      const reports = (yield* stage("the survivors finishing", () => Promise.all(survivors.map((node) => node.exit)))) as Array<NodeReport>
      for (const report of reports) {
        expect(report.handled).toBeGreaterThan(0)
        expect(report.leases).toBeGreaterThan(0)
      }

      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const queue = yield* Jobs.JobQueue
        expect(yield* queue.countByState()).toEqual([{ plugin: "chores", kind: "chore", state: "succeeded", count: jobCount }])

        // exactly once: one completion per job, by the node its result names
        const completions = yield* sql<{ job_id: number; owner: string; n: number }>`
          SELECT h.job_id, MIN(h.owner) AS owner, COUNT(*) AS n FROM orch_job_history h
          WHERE h.to_state = 'succeeded' GROUP BY h.job_id`
        expect(completions).toHaveLength(jobCount)
        expect(completions.filter((c) => Number(c.n) !== 1)).toEqual([])
        const results = yield* sql<{ id: number; result: string }>`SELECT id, result FROM orch_jobs`
        const byNode = new Map<string, number>()
        for (const row of results) {
          const by = JSON.parse(row.result).by as string
          byNode.set(by, (byNode.get(by) ?? 0) + 1)
        }
        // core's owner of a job is <host>:<pid>:<plugin>
        const nodeOf = new Map([victim, ...survivors].map((node) => [node.pid, node.name]))
        const nodeOfOwner = (owner: string) => nodeOf.get(Number(owner.split(":").at(-2)))
        const completedBy = new Map(completions.map((c) => [Number(c.job_id), nodeOfOwner(c.owner)]))
        const mismatched = results.filter((row) => completedBy.get(Number(row.id)) !== JSON.parse(row.result).by)
        expect(mismatched).toEqual([])

        // the victim's jobs in hand came back once their lease had run out, and a survivor finished each
        // (a survivor's lease may run out too when the machine is loaded: its job is then another's, once)
        const expired = yield* sql<{ job_id: number; at: number; owner: string }>`
          SELECT job_id, at, owner FROM orch_job_history WHERE reason LIKE '%expired%'`
        const victims = expired.filter((row) => nodeOfOwner(row.owner) === "victim" && Number(row.at) >= killedAt)
        expect(victims.length).toBeGreaterThan(0)
        for (const row of victims) expect(completedBy.get(Number(row.job_id))).not.toBe("victim")

        // no device held twice: every lease ended; in grant order (tokens), on each device, each
        // holder's time with it (as the holder saw it) ended before the next holder's began; the
        // victim's leases it never gave back count as held from when their grant reached it (or,
        // if it died before, from the grant's row) until they were reclaimed
        const leases = (yield* sql<LeaseRow>`SELECT resource, holder, token, granted_at, expires_at, ended_at, end_reason
          FROM orch_resource_leases WHERE plugin = 'allocator' ORDER BY resource, token`)
        expect(leases.filter((lease) => lease.ended_at === null)).toEqual([])
        const seen = [victim, ...survivors].flatMap((node) => node.holds())
        const seenTokens = new Set(seen.map((hold) => hold.token))
        const holds = [
          ...seen,
          ...leases.filter((lease) => !seenTokens.has(Number(lease.token))).map((lease) => ({
            device: lease.resource,
            token: Number(lease.token),
            from: victim.granted().get(Number(lease.token)) ?? Number(lease.granted_at),
            to: Number(lease.ended_at)
          }))
        ].sort((a, b) => a.device.localeCompare(b.device) || a.token - b.token)
        expect(holds).toHaveLength(leases.length)
        const overlaps: Array<unknown> = []
        for (let i = 1; i < holds.length; i++) {
          const [before, after] = [holds[i - 1]!, holds[i]!]
          if (before.device === after.device && after.from < before.to) {
            overlaps.push([before, after].map((hold) => ({ ...hold, lease: leases.find((lease) => Number(lease.token) === hold.token) })))
          }
        }
        expect(overlaps).toEqual([])
        // the victim's leases open at the kill were reclaimed as expired, none before its expiry
        const reclaimed = leases.filter((lease) => lease.holder.startsWith("victim-") && Number(lease.ended_at) >= killedAt)
        expect(reclaimed.length).toBeGreaterThan(0)
        for (const lease of reclaimed) {
          expect(lease.end_reason).toMatch(/expired/)
          expect(Number(lease.ended_at)).toBeGreaterThanOrEqual(Number(lease.expires_at))
        }
        const lateness = reclaimed.map((lease) => Number(lease.ended_at) - Number(lease.expires_at))
        const takeover = victims.map((row) => Number(row.at) - killedAt)
        console.log(
          `cluster: jobs by node ${JSON.stringify(Object.fromEntries(byNode))}; ${leases.length} leases on ${deviceCount} devices;` +
            ` leases of jobs that ran out ${expired.length}, the victim's after the kill ${victims.length} (taken over after the kill: max ${Math.max(...takeover)} ms, lease 3000 ms);` +
            ` victim's leases reclaimed ${reclaimed.length} (after expiry: max ${Math.max(...lateness)} ms)`
        )
      }).pipe(Effect.provide(queueLayer))
    }), { timeout: 420_000 })
})
