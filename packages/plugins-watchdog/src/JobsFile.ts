/**
 * `orch watchdog create --file`: many jobs from a YAML file (a list of jobs, or URLs ×
 * locations) or a CSV file (one job per row). Errors name the file, line and key.
 */
import { ConfigError } from "@orch/core/Errors"
import * as Yaml from "@orch/core/Yaml"
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"
import * as Location from "./Location.js"
import { Instant, TestRequest } from "./WptJob.js"

const LocationRef = Schema.Union(
  Schema.String.pipe(Schema.filter((text) => Location.parse(text) !== undefined || `"${text}" is not a location id <zone>--<browser>--<agent>`)),
  Schema.Struct({ zone: Location.Part, browser: Location.Part, agent: Location.Part })
)

export const YamlJobs = Schema.Struct({
  jobs: Schema.optional(Schema.Array(TestRequest)),
  urls: Schema.optional(Schema.Array(Schema.String.pipe(Schema.minLength(1)))),
  locations: Schema.optional(Schema.Array(LocationRef)),
  runs: Schema.optional(Schema.Int.pipe(Schema.between(1, 10))),
  firstViewOnly: Schema.optional(Schema.Boolean),
  connectivity: Schema.optional(Schema.String),
  label: Schema.optional(Schema.String),
  options: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) })),
  notBefore: Schema.optional(Instant),
  notAfter: Schema.optional(Instant)
}).pipe(Schema.filter((file) =>
  (file.jobs?.length ?? 0) > 0 || ((file.urls?.length ?? 0) > 0 && (file.locations?.length ?? 0) > 0) ||
  "needs `jobs:`, or both `urls:` and `locations:`"
))

const decodeRequest = Schema.decodeUnknownEither(TestRequest, { onExcessProperty: "error" })

/** Jobs of a YAML file: its `jobs` then every URL at every location. */
export const readYaml = (file: string): Effect.Effect<ReadonlyArray<TestRequest>, ConfigError> =>
  Effect.gen(function*() {
    const document = yield* Yaml.readFile(file)
    const decoded = yield* Yaml.decode(YamlJobs, document)
    const out: Array<TestRequest> = [...(decoded.jobs ?? [])]
    const shared = {
      runs: decoded.runs,
      firstViewOnly: decoded.firstViewOnly,
      connectivity: decoded.connectivity,
      label: decoded.label,
      options: decoded.options,
      notBefore: decoded.notBefore,
      notAfter: decoded.notAfter
    }
    for (const url of decoded.urls ?? []) {
      for (const location of decoded.locations ?? []) {
        const where = typeof location === "string" ? Location.parse(location)! : location
        const request = decodeRequest(Object.fromEntries(Object.entries({ ...shared, ...where, url }).filter(([, v]) => v !== undefined)))
        if (Either.isLeft(request)) {
          const position = document.locate(["urls"])
          return yield* new ConfigError({
            file,
            line: position?.line,
            key: "urls",
            message: `${url} at ${typeof location === "string" ? location : Location.id(location)}: ${
              Yaml.problemsOf(request.left).map(({ message, path }) => (path.length > 0 ? `${Yaml.formatPath(path)} ${message}` : message)).join("; ")
            }`
          })
        }
        out.push(request.right)
      }
    }
    return out
  })

const csvColumns = ["url", "script", "location", "zone", "browser", "agent", "runs", "connectivity", "label", "firstViewOnly"] as const

/**
 * Jobs of a CSV file: a header naming columns from `csvColumns`, then one job per row.
 * Fields are split at commas without quoting, so a field holding a comma or a quote is
 * refused at its line. `defaults` fill the columns a file leaves out (the location, say).
 */
export const readCsv = (
  file: string,
  defaults: Readonly<Record<string, unknown>>
): Effect.Effect<ReadonlyArray<TestRequest>, ConfigError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (cause) => new ConfigError({ file, message: (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(cause) })
    })
    const lines = text.split(/\r?\n/).map((line, i) => ({ line: i + 1, text: line.trim() })).filter((l) => l.text !== "" && !l.text.startsWith("#"))
    const header = lines[0]
    if (header === undefined) return yield* new ConfigError({ file, message: "empty: expected a header such as url,zone,browser,agent" })
    const columns = header.text.split(",").map((c) => c.trim())
    for (const column of columns) {
      if (!(csvColumns as ReadonlyArray<string>).includes(column)) {
        return yield* new ConfigError({ file, line: header.line, key: column, message: `unknown column; known: ${csvColumns.join(", ")}` })
      }
    }
    const out: Array<TestRequest> = []
    for (const row of lines.slice(1)) {
      if (row.text.includes("\"")) {
        return yield* new ConfigError({ file, line: row.line, message: "quoted fields are not supported: give fields without quotes or commas" })
      }
      const fields = row.text.split(",").map((f) => f.trim())
      if (fields.length !== columns.length) {
        return yield* new ConfigError({ file, line: row.line, message: `${fields.length} fields for ${columns.length} columns (a comma inside a field?)` })
      }
      const raw: Record<string, unknown> = { ...defaults }
      columns.forEach((column, i) => {
        const value = fields[i]!
        if (value === "") return
        if (column === "location") {
          const where = Location.parse(value)
          Object.assign(raw, where ?? { zone: value })
        } else if (column === "runs") raw.runs = Number(value)
        else if (column === "firstViewOnly") raw.firstViewOnly = value === "1" || value.toLowerCase() === "true"
        else raw[column] = value
      })
      const decoded = decodeRequest(raw)
      if (Either.isLeft(decoded)) {
        const issue = Yaml.problemsOf(decoded.left)[0]
        return yield* new ConfigError({
          file,
          line: row.line,
          key: issue && issue.path.length > 0 ? Yaml.formatPath(issue.path) : undefined,
          message: issue?.message ?? "invalid job"
        })
      }
      out.push(decoded.right)
    }
    if (out.length === 0) return yield* new ConfigError({ file, message: "no rows after the header" })
    return out
  })

export const read = (file: string, defaults: Readonly<Record<string, unknown>>) =>
  /\.csv$/i.test(file) ? readCsv(file, defaults) : readYaml(file)
