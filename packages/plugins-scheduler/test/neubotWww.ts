/**
 * Neubot's own web UI and command line for a test: a copy of neubot/neubot's `neubot/www` (never in this
 * repository) served the way Neubot's HTTP server did (neubot/http/server.py): `/` sends to
 * `/api/index`, `.html` files get their `<!--#include virtual="…"-->` lines replaced
 * (neubot/http/ssi.py), `/api/*` goes to the API, here orch's `/scheduler/api/*`, as a
 * reverse proxy would (the browser's Host kept, the reason phrase passed on: the UI shows it).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { tempDir } from "@orch/testing"

/** Where `fetch github:neubot/neubot` puts its git directory on the machine this was written on. */
export const defaultNeubotGitDir = "/work/.mirror/neubot+neubot/repo/.git"

/**
 * The www folder: `NEUBOT_WWW`, or `neubot/www` of `NEUBOT_GIT_DIR` (default above) checked
 * out to a temp folder; or why there is none.
 */
export const findNeubotWww = (): { readonly dir: string } | { readonly missing: string } => {
  const given = process.env.NEUBOT_WWW
  if (given !== undefined && given !== "") {
    return fs.existsSync(path.join(given, "index.html")) ? { dir: given } : { missing: `NEUBOT_WWW=${given} has no index.html` }
  }
  const checkout = checkoutNeubot("neubot/www")
  return "missing" in checkout ? { missing: `${checkout.missing}, or NEUBOT_WWW to a neubot/www folder` } : checkout
}

/** `inRepo` of the clone at NEUBOT_GIT_DIR (default above), written to a temp folder; or why there is none. */
export const checkoutNeubot = (inRepo: string): { readonly dir: string; readonly root: string } | { readonly missing: string } => {
  const gitDir = process.env.NEUBOT_GIT_DIR || defaultNeubotGitDir
  if (!fs.existsSync(gitDir)) {
    return { missing: `no copy of Neubot: set NEUBOT_GIT_DIR to a clone of neubot/neubot (${gitDir} is absent)` }
  }
  const root = tempDir("neubot-")
  const tar = execFileSync("git", ["--git-dir", gitDir, "archive", "HEAD", inRepo], { maxBuffer: 64 * 1024 * 1024 })
  execFileSync("tar", ["-x", "-C", root], { input: tar })
  return { dir: path.join(root, inRepo), root }
}

/** A Python 2.7 that runs (Neubot 0.4 is Python 2): NEUBOT_PYTHON2, one on the PATH, or pyenv's; or why there is none. */
export const findPython2 = (): { readonly executable: string } | { readonly missing: string } => {
  const pyenv = path.join(process.env.HOME ?? "/root", ".pyenv", "versions")
  const fromPyenv = fs.existsSync(pyenv)
    ? fs.readdirSync(pyenv).filter((v) => v.startsWith("2.7")).map((v) => path.join(pyenv, v, "bin", "python2.7"))
    : []
  const candidates = [process.env.NEUBOT_PYTHON2, "python2.7", "python2", ...fromPyenv].filter((c): c is string => !!c)
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["-c", "import httplib"], { stdio: "ignore" })
      return { executable: candidate }
    } catch {
      // not there, or not Python 2
    }
  }
  return { missing: `no Python 2.7 (set NEUBOT_PYTHON2; tried ${candidates.join(", ")})` }
}

const types: Record<string, string> = {
  ".html": "text/html; charset=UTF-8",
  ".js": "application/javascript; charset=UTF-8",
  ".css": "text/css",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json"
}

const include = /<!--#include virtual="([^"]+)"-->/g

/** Serves `www` and forwards `/api*` to `api` (orch's `…/scheduler`); its base URL and a stop. */
export const serveNeubotWww = async (www: string, api: string) => {
  const upstream = new URL(api)
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost")
    if (url.pathname === "/") {
      response.writeHead(302, { location: "/api/index" }).end()
      return
    }
    if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
      const forwarded = http.request({
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: `${upstream.pathname}${url.pathname}${url.search}`,
        headers: request.headers
      }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage ?? "", answer.headers)
        answer.pipe(response)
      })
      forwarded.on("error", (error) => response.writeHead(502).end(String(error)))
      request.pipe(forwarded)
      return
    }
    const file = path.join(www, path.normalize(decodeURIComponent(url.pathname)))
    if (!file.startsWith(www + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404, { "content-type": "text/plain" }).end("404 Not Found")
      return
    }
    const type = types[path.extname(file)] ?? "application/octet-stream"
    const body = path.extname(file) === ".html"
      ? fs.readFileSync(file, "utf8").replace(include, (_, name: string) => fs.readFileSync(path.join(path.dirname(file), name), "utf8"))
      : fs.readFileSync(file)
    response.writeHead(200, { "content-type": type }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
