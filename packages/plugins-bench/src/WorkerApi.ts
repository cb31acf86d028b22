/**
 * The worker API under `/bench/api/worker/`, tablejohn's paths and shapes: `POST status`
 * and the tarballs of a commit's tree, of the tracked repository and of the bench repository.
 * Workers authenticate with HTTP Basic (user: the worker's name; password: the server's
 * worker token, compared in constant time), not with core's bearer tokens: the routes are
 * `public` to core's gate and check the worker's credentials themselves.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Access from "@orch/core/Access"
import * as Auth from "@orch/core/Auth"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted, Stream } from "effect"
import * as zlib from "node:zlib"
import { Bench, type BenchService } from "./Bench.js"
import * as Git from "./Git.js"
import { body, fail, handle, json, param } from "./Http.js"
import * as Protocol from "./Protocol.js"
import * as Sql from "./sql/index.js"
import * as Workers from "./Workers.js"

/** The worker routes take no bearer token: they check HTTP Basic themselves. */
export const access: ReadonlyArray<Access.Rule> = [{ route: "/api/worker/*", role: "public" }]

const unauthorized = (message: string) => fail(401, message, undefined, { "www-authenticate": "Basic realm=\"worker api\"" })

/** The worker's name, when the request's HTTP Basic credentials are a valid name and the server's token. */
export const authenticate = (bench: BenchService) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const match = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(request.headers.authorization ?? "")
    if (match === null) return yield* unauthorized("the worker API needs HTTP Basic credentials: the worker's name and the server's bench token")
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
    const colon = decoded.indexOf(":")
    const name = colon < 0 ? decoded : decoded.slice(0, colon)
    const password = colon < 0 ? "" : decoded.slice(colon + 1)
    // the token is compared whatever the name, so a bad name costs what a bad token does
    const tokenOk = Auth.sameSecret(password, Redacted.value(bench.token))
    if (!Protocol.isWorkerName(name) || !tokenOk) return yield* unauthorized("invalid credentials")
    return name
  })

const status = handle(Effect.gen(function*() {
  const bench = yield* Bench
  const name = yield* authenticate(bench)
  const request = yield* body(Protocol.WorkerRequest, { lenient: true })
  const answer = yield* Workers.status(
    { timeoutMs: bench.config.workerTimeoutSeconds * 1000, benchMethod: bench.benchMethod },
    name,
    request
  ).pipe(Effect.catchTag("Refused", (refused) => fail(refused.status, refused.message)))
  return json(answer)
}))

/** `git archive` of `hash`'s tree, gzipped as it streams. */
const tarball = (dir: string, hash: string) => {
  const tar = Git.spawnStream(dir, ["archive", "--format=tar", hash])
  const gzip = zlib.createGzip()
  tar.on("error", (cause) => gzip.destroy(cause))
  tar.pipe(gzip)
  return HttpServerResponse.stream(Git.bytes(gzip).pipe(Stream.ensuring(Effect.sync(() => tar.destroy()))), {
    contentType: "application/gzip",
    headers: { "content-disposition": "attachment; filename=\"tree.tar.gz\"" }
  })
}

/** The hash of the path, refused unless it is 40 lower-case hex characters: nothing else reaches git. */
const hashParam = Effect.flatMap(param("hash"), (hash) =>
  Git.isHash(hash) ? Effect.succeed(hash) : fail(400, `${JSON.stringify(hash.slice(0, 100))} is not a full 40-character commit hash`))

const repoTree = handle(Effect.gen(function*() {
  const bench = yield* Bench
  yield* authenticate(bench)
  const hash = yield* hashParam
  const sql = yield* SqlClient.SqlClient
  if (bench.repoDir === undefined) return yield* fail(404, "this server tracks no repository")
  if (!(yield* Sql.commitExists(sql, hash))) return yield* fail(404, `${hash} is not a commit of this server's repository`)
  return tarball(bench.repoDir, hash)
}))

const benchRepoTree = handle(Effect.gen(function*() {
  const bench = yield* Bench
  yield* authenticate(bench)
  const hash = yield* hashParam
  if (bench.benchRepoDir === undefined) return yield* fail(404, "this server has no bench repository (bench.benchRepo)")
  if (!(yield* Git.succeeds(bench.benchRepoDir, ["cat-file", "-e", `${hash}^{commit}`]))) {
    return yield* fail(404, `${hash} is not a commit of the bench repository`)
  }
  return tarball(bench.benchRepoDir, hash)
}))

export const routes = Layer.mergeAll(
  HttpLayerRouter.add("POST", "/api/worker/status", status),
  HttpLayerRouter.add("GET", "/api/worker/repo/:hash/tree.tar.gz", repoTree),
  HttpLayerRouter.add("GET", "/api/worker/bench_repo/:hash/tree.tar.gz", benchRepoTree)
)
