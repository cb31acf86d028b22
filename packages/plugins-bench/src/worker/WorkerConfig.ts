/**
 * `bench.worker` of orch.yaml: what `orch bench worker` reads (and `orch run --plugins=bench`
 * ignores, as tablejohn's server mode ignores its `worker` section). Every field has a default,
 * so `{}` is a valid section; `--server/--token/--name` on the command line add or override.
 *
 * ```yaml
 * bench:
 *   worker:
 *     name: fast-box              # default: the host name
 *     servers:
 *       - { url: https://bench.example.org, token: "${BENCH_TOKEN}", weight: 2 }
 *       - { url: http://127.0.0.1:7600, token: local, weight: 1 }
 *     timeoutSeconds: 3600
 * ```
 */
import { Schema } from "effect"
import * as os from "node:os"

const Positive = Schema.Number.pipe(Schema.positive({ message: () => "must be a number above 0" }))
const PositiveInt = Schema.Int.pipe(Schema.positive({ message: () => "must be a whole number above 0" }))

/** tablejohn's rule for a worker name (it is the Basic auth user and part of the worker's page URL). */
export const WorkerName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9._-]+$/, { message: () => "must be letters, digits, '.', '_' or '-' (it is the HTTP Basic user name)" })
)

/** A URL the worker talks to, without its trailing slash (tablejohn's rule: a path appends to it). */
export const ServerUrl = Schema.String.pipe(
  Schema.filter((text) => {
    try {
      const url = new URL(text)
      return url.protocol === "http:" || url.protocol === "https:"
    } catch {
      return false
    }
  }, { message: () => "must be an http:// or https:// URL, e.g. http://127.0.0.1:7600" })
)

export const ServerEntry = Schema.Struct({
  /** Shown in logs and in the other servers' `busy` status; default: the URL's host and port. */
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  url: ServerUrl.annotations({
    description: "An orch daemon (its bench plugin is at /bench), or a URL with the path where api/worker/ is (tablejohn)"
  }),
  token: Schema.Redacted(Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))).annotations({
    description: "The server's worker token (bench.token there), sent as the HTTP Basic password"
  }),
  apiPath: Schema.optional(Schema.String.pipe(Schema.pattern(/^\/[^?#]*$/, { message: () => "must be a path starting with /" }))).annotations({
    description: "Where api/worker/ is on that host, when not the URL's rule (a tablejohn server at the root of its host: /)"
  }),
  weight: Schema.optionalWith(Positive, { default: () => 1 }).annotations({
    description: "Share of this worker's run time the server gets, relative to the other servers' weights"
  })
})
export type ServerEntry = typeof ServerEntry.Type

/** A server's display name: the configured one, else its URL's host and port. */
export const serverName = (entry: Pick<ServerEntry, "name" | "url">): string => entry.name ?? new URL(entry.url).host

export const WorkerSection = Schema.Struct({
  name: Schema.optional(WorkerName).annotations({ description: "The worker's name (default: the host name)" }),
  servers: Schema.optionalWith(
    Schema.Array(ServerEntry).pipe(Schema.filter((servers) => {
      const names = servers.map(serverName)
      const twice = names.find((name, i) => names.indexOf(name) !== i)
      return twice === undefined || `two servers are named ${JSON.stringify(twice)}: give each its own name`
    })),
    { default: () => [] }
  ),
  benchDir: Schema.optional(Schema.String).annotations({
    description: "Folder the trees are unpacked into (default: a new temporary folder per run)"
  }),
  timeoutSeconds: Schema.optionalWith(Positive, { default: () => 3600 }).annotations({
    description: "A benchmark running longer is killed (its whole process group) and submitted as failed"
  }),
  command: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description: "For the in-repo method: a shell command run in the commit's tree (default: its ./bench script)"
  }),
  pingSeconds: Schema.optionalWith(Positive, { default: () => 10 }).annotations({
    description: "How often the worker reports its status to each server, and asks again when none has work"
  }),
  statusLines: Schema.optionalWith(PositiveInt, { default: () => 50 }).annotations({
    description: "How many of the benchmark's last output lines each status carries"
  }),
  outputLines: Schema.optionalWith(PositiveInt, { default: () => 1000 }).annotations({
    description: "How many of the benchmark's last output lines are submitted with the run"
  }),
  noiseTest: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "Run a short CPU noise self-test at start and report it with the fingerprint"
  })
})
export type WorkerSection = typeof WorkerSection.Type

export const defaultWorkerSection: WorkerSection = Schema.decodeSync(WorkerSection)({})

/** The worker's name: the configured one, else the host name made into a valid one. */
export const workerName = (section: WorkerSection): string =>
  section.name ?? (os.hostname().replace(/[^A-Za-z0-9._-]/g, "-") || "worker")


/**
 * Where `api/worker/…` lives for a configured server: at `apiPath` when given; else an orch
 * daemon's root (a URL without a path) means its bench plugin at `/bench`, and a URL with a path
 * (`http://host/tablejohn`) is taken as it is. No trailing slash, so a path appends to it.
 */
export const apiBase = (url: string, apiPath?: string): string => {
  const parsed = new URL(url)
  if (apiPath !== undefined) return `${parsed.origin}${apiPath.replace(/\/+$/, "")}`
  const path = parsed.pathname.replace(/\/+$/, "")
  return `${parsed.origin}${path === "" ? "/bench" : path}`
}
