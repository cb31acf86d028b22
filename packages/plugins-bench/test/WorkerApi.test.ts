/**
 * The worker API in the real `orch` binary, over real HTTP, with core's bearer tokens on:
 * HTTP Basic for workers (401 otherwise), secrets, hashes checked before git sees them,
 * tarballs of the repository and the bench repository, a run handed out, submitted twice
 * and stored once, and a worker gone past its timeout giving its commit back.
 */
import { type Daemon, eventually, orchBin, send, startDaemon, tempDir } from "@orch/testing"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRepo } from "./support.js"

const workerToken = "worker-token-0123456789"
const operator = "operate-token-0123456789"
const basic = (name: string, password = workerToken) => ({ authorization: `Basic ${Buffer.from(`${name}:${password}`).toString("base64")}` })

describe("the worker API (orch run --plugins=bench)", () => {
  let daemon: Daemon
  let repo: ReturnType<typeof makeRepo>
  let bench: ReturnType<typeof makeRepo>
  let hashes: Array<string>
  let dir: string

  const status = (name: string, body: unknown, password = workerToken) =>
    send(`${daemon.url}/bench/api/worker/status`, { method: "POST", body, headers: basic(name, password) })

  beforeAll(async () => {
    dir = tempDir("orch-bench-api-")
    repo = makeRepo(path.join(dir, "repo"))
    hashes = [repo.commit("one"), repo.commit("two"), repo.commit("three")]
    bench = makeRepo(path.join(dir, "bench"))
    bench.commit("bench script", "bench.sh")
    fs.writeFileSync(path.join(dir, "orch.yaml"), [
      "core:",
      "  auth:",
      `    tokens: [{ name: ops, token: ${operator}, role: operate }]`,
      "bench:",
      `  repo: ${repo.dir}`,
      `  benchRepo: ${bench.dir}`,
      "  token: ${BENCH_TOKEN}",
      "  workerTimeoutSeconds: 2",
      "  firstImportQueue: 3"
    ].join("\n") + "\n")
    daemon = await startDaemon(orchBin, ["--plugins=bench", "--data-dir", path.join(dir, "data")], { cwd: dir, env: { BENCH_TOKEN: workerToken } })
    await eventually(async () => {
      const answer = await send(`${daemon.url}/bench/api/queue`, { token: operator })
      return answer.body.queue?.length === 3 ? true : undefined
    })
  }, 60_000)

  afterAll(async () => {
    expect(await daemon.stop()).toBe(0)
  })

  it("refuses missing or bad credentials with 401 and WWW-Authenticate: Basic; the queue API still wants core's bearer token", async () => {
    const none = await send(`${daemon.url}/bench/api/worker/status`, { method: "POST", body: { secret: "s", status: { type: "idle" } } })
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toBe("Basic realm=\"worker api\"")
    expect((await status("w1", { secret: "s", status: { type: "idle" } }, "wrong-token-0123456789")).status).toBe(401)
    expect((await status("bad name!", { secret: "s", status: { type: "idle" } })).status).toBe(401)
    const tarball = await send(`${daemon.url}/bench/api/worker/repo/${hashes[0]}/tree.tar.gz`)
    expect(tarball.status).toBe(401)
    // core's gate: the worker's Basic credentials are no bearer token
    expect((await send(`${daemon.url}/bench/api/queue`, { headers: basic("w1") })).status).toBe(401)
  })

  it("a bad body is a 400 that names the field", async () => {
    const answer = await status("w1", { secret: "s", status: { type: "sleeping" } })
    expect(answer.status).toBe(400)
    expect(answer.body.error).toMatch(/^status/)
  })

  it("hands out the newest commit, not to two workers; stores a submit once though sent twice; wrong secret 409", async () => {
    const first = await status("w1", { secret: "s-1", info: JSON.stringify({ cpu: "Test", cores: 2, kernel: "6", governor: "performance", noise: 0.01 }), status: { type: "idle" }, request_run: true })
    expect(first.status).toBe(200)
    expect(first.body.run).toMatchObject({ hash: hashes[2], bench_method: { type: "repo", hash: bench.git("rev-parse", "HEAD") } })
    const second = await status("w2", { secret: "s-2", status: { type: "idle" }, request_run: true })
    expect(second.body.run.hash).toBe(hashes[1])
    const clash = await status("w1", { secret: "another", status: { type: "idle" } })
    expect(clash.status).toBe(409)
    expect(clash.body.error).toContain("in use by another worker")

    const run = first.body.run
    const submit = {
      secret: "s-1",
      status: { type: "idle" },
      submit_run: {
        id: run.id, hash: run.hash, bench_method: `bench repo, hash ${run.bench_method.hash}`, start: run.start, end: null, exit_code: 0,
        output: [[1, "ok"]], measurements: { "parse/time": { value: 12.5, unit: "ms" } }
      }
    }
    expect((await status("w1", submit)).body).toEqual({})
    expect((await status("w1", submit)).body).toEqual({})
    const runs = await send(`${daemon.url}/bench/api/runs?hash=${run.hash}`, { token: operator })
    expect(runs.body.runs).toHaveLength(1)
    expect(runs.body.runs[0]).toMatchObject({ id: run.id, worker: "w1", measurements: 1, exitCode: 0 })
    const queue = await send(`${daemon.url}/bench/api/queue`, { token: operator })
    expect(queue.body.queue.map((q: any) => q.hash)).toEqual([hashes[1], hashes[0]])
    expect(queue.body.workers.find((w: any) => w.name === "w1").fingerprint).toMatchObject({ cpu: "Test" })

    // w2's commit is dropped: it is told to abort
    const working = { type: "working", id: second.body.run.id, hash: hashes[1], bench_method: "internal", start: second.body.run.start, last_output: [] }
    const drop = await send(`${daemon.url}/bench/api/queue/drop`, { method: "POST", body: { rev: hashes[1]!.slice(0, 8) }, token: operator })
    expect(drop.status).toBe(200)
    expect((await status("w2", { secret: "s-2", status: working })).body).toEqual({ abort_run: true })
  })

  it("a worker gone past the timeout gives its commit back to the queue", async () => {
    const taken = await status("w3", { secret: "s-3", status: { type: "idle" }, request_run: true })
    expect(taken.body.run.hash).toBe(hashes[0])
    expect((await status("w4", { secret: "s-4", status: { type: "idle" }, request_run: true })).body).toEqual({})
    // w3 says nothing more; after workerTimeoutSeconds (2 s) w4 gets the commit
    const handed = await eventually(async () => {
      const answer = await status("w4", { secret: "s-4", status: { type: "idle" }, request_run: true })
      return answer.body.run
    }, 15_000)
    expect(handed.hash).toBe(hashes[0])
  })

  it("the queue API: bodies checked, refs tracked by hand, an update on demand", async () => {
    const both = await send(`${daemon.url}/bench/api/queue`, { method: "POST", body: { hash: hashes[0], ref: "main" }, token: operator })
    expect([both.status, both.body.error]).toEqual([400, "give exactly one of rev, hash or ref"])
    const typo = await send(`${daemon.url}/bench/api/queue`, { method: "POST", body: { rev: "main", priorty: 2 }, token: operator })
    expect([typo.status, typo.body.field]).toEqual([400, "priorty"])
    const byRef = await send(`${daemon.url}/bench/api/queue`, { method: "POST", body: { ref: "refs/heads/main", priority: 9 }, token: operator })
    expect(byRef.body).toEqual({ hash: hashes[2], priority: 9, queued: true })
    const deleted = await send(`${daemon.url}/bench/api/queue/refs%2Fheads%2Fmain`, { method: "DELETE", token: operator })
    expect(deleted.body).toEqual({ hash: hashes[2], dropped: true })
    expect((await send(`${daemon.url}/bench/api/queue/${hashes[2]}`, { method: "DELETE", token: operator })).status).toBe(404)
    expect((await send(`${daemon.url}/bench/api/refs/tracked`, { method: "POST", body: { ref: "refs/heads/nope", tracked: true }, token: operator })).status).toBe(404)
    repo.git("branch", "side", hashes[0]!)
    expect((await send(`${daemon.url}/bench/api/update`, { method: "POST", body: {}, token: operator })).body).toMatchObject({ refs: 2 })
    const tracked = await send(`${daemon.url}/bench/api/refs/tracked`, { method: "POST", body: { ref: "refs/heads/side", tracked: true }, token: operator })
    expect(tracked.body).toEqual({ ref: "refs/heads/side", tracked: true })
  })

  it("tarballs: a valid gzip tar of the commit's tree and of the bench repository; malformed, traversing or unknown hashes refused", async () => {
    const response = await fetch(`${daemon.url}/bench/api/worker/repo/${hashes[1]}/tree.tar.gz`, { headers: basic("w1") })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("application/gzip")
    const file = path.join(dir, "tree.tar.gz")
    fs.writeFileSync(file, Buffer.from(await response.arrayBuffer()))
    const out = path.join(dir, "tree")
    fs.mkdirSync(out)
    execFileSync("tar", ["-xzf", file, "-C", out])
    expect(fs.readdirSync(out).sort()).toEqual(["one.txt", "two.txt"])
    expect(fs.readFileSync(path.join(out, "two.txt"), "utf8")).toBe("two\n")

    const benchHead = bench.git("rev-parse", "HEAD")
    const benchTar = await fetch(`${daemon.url}/bench/api/worker/bench_repo/${benchHead}/tree.tar.gz`, { headers: basic("w1") })
    expect(benchTar.status).toBe(200)
    fs.writeFileSync(file, Buffer.from(await benchTar.arrayBuffer()))
    expect(execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).trim()).toBe("bench.sh")

    for (const bad of ["..%2F..%2Fetc%2Fpasswd", "HEAD", hashes[1]!.toUpperCase(), `${hashes[1]}0`, "--output=x"]) {
      const answer = await send(`${daemon.url}/bench/api/worker/repo/${bad}/tree.tar.gz`, { headers: basic("w1") })
      expect([400, 404]).toContain(answer.status)
    }
    expect((await send(`${daemon.url}/bench/api/worker/repo/${"a".repeat(40)}/tree.tar.gz`, { headers: basic("w1") })).status).toBe(404)
    // a commit of the tracked repository is not one of the bench repository
    expect((await send(`${daemon.url}/bench/api/worker/bench_repo/${hashes[0]}/tree.tar.gz`, { headers: basic("w1") })).status).toBe(404)
  })
})
