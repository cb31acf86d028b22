/**
 * A server that speaks the worker protocol (tablejohn's JSON under `/bench/api/worker/`), for the
 * worker's own tests before and beside the real plugin: it hands out the commits of its queue,
 * serves their trees with `git archive`, and stores submitted runs by id, as the real server
 * must (once, however often a run arrives). It can drop a submit's connection after storing it,
 * and stop and listen again on the same port (a restart; what it stored stays, as a database's rows).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import type { FinishedRun, Run, WorkerRequest } from "../src/worker/Protocol.js"

export interface DoubleOptions {
  readonly token: string
  /** The repository whose commits are benchmarked. */
  readonly repo: string
  /** The bench repository, when runs use one: `{type: "repo", hash}` of its HEAD. */
  readonly benchRepo?: string | undefined
}

export interface Double {
  url: string
  readonly queue: Array<string>
  /** Runs stored, by id. */
  readonly stored: Map<string, FinishedRun>
  /** Every submit that arrived (a retried one again). */
  readonly submits: Array<string>
  /** Every status request, in order of arrival. */
  readonly requests: Array<WorkerRequest & { readonly worker: string }>
  /** Submits whose connection is cut after the run is stored, before any answer. */
  dropSubmits: number
  /** Answer `abort_run` to the statuses of a worker working on this run id. */
  abort: string | undefined
  /** Statuses to answer tree downloads with, one per download, before serving them again. */
  readonly treeFailures: Array<number>
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
}

export const startDouble = async (options: DoubleOptions): Promise<Double> => {
  let server: http.Server | undefined
  let port = 0
  let nextRun = 1
  const benchRepoHash = options.benchRepo === undefined
    ? undefined
    : execFileSync("git", ["rev-parse", "HEAD"], { cwd: options.benchRepo, encoding: "utf8" }).trim()
  const double: Double = {
    url: "",
    queue: [],
    stored: new Map(),
    submits: [],
    requests: [],
    dropSubmits: 0,
    abort: undefined,
    treeFailures: [],
    stop: () =>
      new Promise((done) => {
        if (server === undefined) return done()
        server.closeAllConnections()
        server.close(() => done())
        server = undefined
      }),
    start: () =>
      new Promise((done) => {
        server = http.createServer((request, response) => void handle(request, response))
        server.listen(port, "127.0.0.1", () => {
          port = (server!.address() as AddressInfo).port
          double.url = `http://127.0.0.1:${port}`
          done()
        })
      })
  }

  const authorized = (request: http.IncomingMessage): string | undefined => {
    const header = request.headers.authorization ?? ""
    if (!header.startsWith("Basic ")) return undefined
    const [user, password] = Buffer.from(header.slice(6), "base64").toString().split(":")
    return password === options.token ? user : undefined
  }

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const worker = authorized(request)
    if (worker === undefined) return response.writeHead(401).end("invalid credentials")
    const url = request.url ?? ""
    const tree = /^\/bench\/api\/worker\/(repo|bench_repo)\/([0-9a-f]{40})\/tree\.tar\.gz$/.exec(url)
    if (request.method === "GET" && tree && double.treeFailures.length > 0) {
      return response.writeHead(double.treeFailures.shift()!).end("no tree for you")
    }
    if (request.method === "GET" && tree) {
      const cwd = tree[1] === "repo" ? options.repo : options.benchRepo!
      const tarball = execFileSync("git", ["archive", "--format=tar.gz", tree[2]!], { cwd })
      return response.writeHead(200, { "content-type": "application/gzip" }).end(tarball)
    }
    if (request.method !== "POST" || url !== "/bench/api/worker/status") return response.writeHead(404).end()
    let text = ""
    for await (const chunk of request) text += chunk
    const body = JSON.parse(text) as WorkerRequest
    double.requests.push({ ...body, worker })
    if (body.submit_run) {
      double.submits.push(body.submit_run.id)
      if (!double.stored.has(body.submit_run.id)) double.stored.set(body.submit_run.id, body.submit_run)
      if (double.dropSubmits > 0) {
        double.dropSubmits--
        return request.socket.destroy()
      }
    }
    const answer: { run?: Run; abort_run?: boolean } = {}
    if (body.request_run && double.queue.length > 0) {
      const hash = double.queue.shift()!
      answer.run = {
        id: `run-${nextRun++}`,
        hash,
        bench_method: benchRepoHash === undefined ? { type: "internal" } : { type: "repo", hash: benchRepoHash },
        start: new Date().toISOString()
      }
    }
    if (double.abort !== undefined && body.status.type === "working" && body.status.id === double.abort) answer.abort_run = true
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer))
  }

  await double.start()
  return double
}

/** A git repository made in the test, with `files` committed (mode 755 for names in `executable`). */
export const makeRepo = (dir: string, files: Record<string, string>, executable: ReadonlyArray<string> = []): string => {
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: dir, encoding: "utf8" }).trim()
  git("init", "-q", "-b", "main")
  git("config", "user.email", "t@example.org")
  git("config", "user.name", "t")
  return commit(dir, files, executable)
}

/** Commits `files` in `dir`; returns the new commit's hash. */
export const commit = (dir: string, files: Record<string, string>, executable: ReadonlyArray<string> = []): string => {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), text, { mode: executable.includes(name) ? 0o755 : 0o644 })
  }
  execFileSync("git", ["add", "-A"], { cwd: dir })
  execFileSync("git", ["commit", "-q", "-m", `commit ${Object.keys(files).join(", ")}`], { cwd: dir })
  return execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim()
}
