/**
 * Test descriptors: one JSON file per test in a folder, the test's name being the file's
 * (`speedtest.json` → `speedtest`). A descriptor gives the default parameters, each
 * optionally checked by a regular expression, the command line (argv; an item `$name`
 * is replaced by that parameter, `$node` by this Node), the working directory, the
 * longest run and the schedule. The folder is read again at each listing and each
 * automatic run; a file that does not parse or validate is reported and skipped.
 */
import * as Schedules from "@orch/core/Schedules"
import { Data, Effect, Either, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

const parameterName = /^[A-Za-z_][A-Za-z0-9_]*$/
const testName = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/

const ParameterFile = Schema.Union(
  Schema.String,
  Schema.Struct({
    default: Schema.optional(Schema.String),
    regexp: Schema.optional(Schema.String),
    label: Schema.optional(Schema.String)
  })
)

const ScheduleFile = Schema.Union(
  Schema.Literal("neubot"),
  Schema.Struct({
    every: Schema.Number.pipe(Schema.positive()).annotations({ description: "seconds between runs" }),
    jitter: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
    firstDelay: Schema.optional(Schema.Number.pipe(Schema.nonNegative()))
  }),
  Schema.Struct({ cron: Schema.String, timeZone: Schema.optional(Schema.String) })
)

export const DescriptorFile = Schema.Struct({
  description: Schema.optional(Schema.String),
  parameters: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ParameterFile }), { default: () => ({}) }),
  command: Schema.NonEmptyArray(Schema.String),
  directory: Schema.optional(Schema.String),
  maxRuntimeSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 300 }),
  schedule: Schema.optionalWith(ScheduleFile, { default: () => "neubot" as const })
})
export type DescriptorFile = typeof DescriptorFile.Encoded

export interface Parameter {
  readonly default?: string | undefined
  readonly regexp?: string | undefined
  readonly label?: string | undefined
}

/** When a test runs by itself. `neubot`: a period of 23–27 min drawn once, first run after `firstDelayMs`. */
export type ScheduleChoice =
  | { readonly kind: "neubot"; readonly firstDelayMs: number }
  | { readonly kind: "interval"; readonly everyMs: number; readonly jitterMs: number; readonly firstDelayMs: number | undefined }
  | { readonly kind: "cron"; readonly expression: string; readonly timeZone: string | undefined }

export const neubotFirstDelayMs = 5 * 60_000
export const neubotMinPeriodMs = 23 * 60_000
export const neubotMaxPeriodMs = 27 * 60_000

export interface Descriptor {
  readonly name: string
  /** The file it came from; undefined for a bundled test. */
  readonly file: string | undefined
  readonly description: string | undefined
  readonly parameters: Readonly<Record<string, Parameter>>
  readonly command: ReadonlyArray<string>
  /** Absolute. */
  readonly directory: string
  readonly maxRuntimeMs: number
  readonly schedule: ScheduleChoice
}

export interface InvalidDescriptor {
  readonly name: string
  readonly file: string
  readonly reason: string
}

export interface Catalog {
  readonly valid: ReadonlyArray<Descriptor>
  readonly invalid: ReadonlyArray<InvalidDescriptor>
}

export class ParameterError extends Data.TaggedError("ParameterError")<{ readonly message: string }> {}

/** Values a command may name besides the descriptor's parameters. */
const builtins: Readonly<Record<string, () => string>> = { node: () => process.execPath }

/** Checks a decoded descriptor beyond its shape; the reason it is unusable, or the descriptor. */
export const fromFile = (
  name: string,
  file: string | undefined,
  decoded: typeof DescriptorFile.Type,
  baseDir: string
): Either.Either<Descriptor, string> => {
  const parameters: Record<string, Parameter> = {}
  for (const [key, value] of Object.entries(decoded.parameters)) {
    if (!parameterName.test(key)) return Either.left(`parameter name ${JSON.stringify(key)} must be letters, digits and _`)
    if (key in builtins) return Either.left(`parameter name ${JSON.stringify(key)} is reserved ($${key} is built in)`)
    const parameter: Parameter = typeof value === "string" ? { default: value } : value
    if (parameter.regexp !== undefined) {
      try {
        new RegExp(parameter.regexp)
      } catch (error) {
        return Either.left(`parameters.${key}.regexp is not a regular expression: ${(error as Error).message}`)
      }
      if (parameter.default !== undefined && !new RegExp(parameter.regexp).test(parameter.default)) {
        return Either.left(`parameters.${key}: the default ${JSON.stringify(parameter.default)} does not match ${parameter.regexp}`)
      }
    }
    parameters[key] = parameter
  }
  for (const [index, item] of decoded.command.entries()) {
    if (item.startsWith("$") && !(item.slice(1) in parameters) && !(item.slice(1) in builtins)) {
      return Either.left(`command[${index}] ${JSON.stringify(item)} names no parameter (declared: ${Object.keys(parameters).join(", ") || "none"}; built in: $node)`)
    }
  }
  let schedule: ScheduleChoice
  const spec = decoded.schedule
  if (spec === "neubot") schedule = { kind: "neubot", firstDelayMs: neubotFirstDelayMs }
  else if ("cron" in spec) {
    const checked = Schema.validateEither(Schedules.CronSpec)(Schedules.cron(spec.cron, spec.timeZone))
    if (Either.isLeft(checked)) {
      return Either.left(`schedule: ${ParseResult.ArrayFormatter.formatErrorSync(checked.left).map((issue) => issue.message).join("; ")}`)
    }
    schedule = { kind: "cron", expression: spec.cron, timeZone: spec.timeZone }
  } else {
    schedule = {
      kind: "interval",
      everyMs: Math.round(spec.every * 1000),
      jitterMs: Math.round((spec.jitter ?? 0) * 1000),
      firstDelayMs: spec.firstDelay === undefined ? undefined : Math.round(spec.firstDelay * 1000)
    }
  }
  return Either.right({
    name,
    file,
    description: decoded.description,
    parameters,
    command: decoded.command,
    directory: path.resolve(baseDir, decoded.directory ?? "/"),
    maxRuntimeMs: Math.round(decoded.maxRuntimeSeconds * 1000),
    schedule
  })
}

/** Parses one descriptor file's text. */
export const parse = (name: string, file: string, text: string): Either.Either<Descriptor, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(`not JSON: ${(error as Error).message}`)
  }
  const decoded = Schema.decodeUnknownEither(DescriptorFile, { onExcessProperty: "error" })(json)
  if (Either.isLeft(decoded)) {
    return Either.left(
      ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
        .map((issue) => `${issue.path.length > 0 ? `${issue.path.join(".")}: ` : ""}${issue.message}`)
        .join("; ")
    )
  }
  return fromFile(name, file, decoded.right, path.dirname(file))
}

/**
 * Reads every `*.json` in `dir` (a missing folder holds none) over the bundled
 * descriptors; a file replaces the bundled test of its name.
 */
export const load = (dir: string, bundled: ReadonlyArray<Descriptor>): Effect.Effect<Catalog> =>
  Effect.sync(() => {
    const folder = path.resolve(dir)
    let entries: Array<string> = []
    const invalid: Array<InvalidDescriptor> = []
    try {
      entries = fs.readdirSync(folder).filter((entry) => entry.endsWith(".json")).sort()
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== "ENOENT") invalid.push({ name: "", file: folder, reason: `cannot read the folder: ${(error as Error).message}` })
    }
    const byName = new Map<string, Descriptor>(bundled.map((descriptor) => [descriptor.name, descriptor]))
    for (const entry of entries) {
      const file = path.join(folder, entry)
      const name = entry.slice(0, -".json".length)
      if (!testName.test(name)) {
        invalid.push({ name, file, reason: "the file name must be letters, digits, _, . and - before .json" })
        continue
      }
      let text: string
      try {
        text = fs.readFileSync(file, "utf8")
      } catch (error) {
        invalid.push({ name, file, reason: `cannot read: ${(error as Error).message}` })
        continue
      }
      const parsed = parse(name, file, text)
      if (Either.isLeft(parsed)) invalid.push({ name, file, reason: parsed.left })
      else byName.set(name, parsed.right)
    }
    return { valid: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)), invalid }
  })

/**
 * The argv for a run: the descriptor's defaults overlaid with `given`, each value
 * checked against its regexp, every `$name` item replaced.
 */
export const substitute = (
  descriptor: Descriptor,
  given: Readonly<Record<string, string>>
): Either.Either<{ readonly argv: ReadonlyArray<string>; readonly values: Readonly<Record<string, string>> }, ParameterError> => {
  const fail = (message: string) => Either.left(new ParameterError({ message: `${descriptor.name}: ${message}` }))
  const values: Record<string, string> = {}
  for (const [key, parameter] of Object.entries(descriptor.parameters)) {
    if (parameter.default !== undefined) values[key] = parameter.default
  }
  for (const [key, value] of Object.entries(given)) {
    if (!(key in descriptor.parameters)) {
      return fail(`no parameter ${JSON.stringify(key)} (parameters: ${Object.keys(descriptor.parameters).join(", ") || "none"})`)
    }
    values[key] = value
  }
  for (const [key, value] of Object.entries(values)) {
    const regexp = descriptor.parameters[key]?.regexp
    if (regexp !== undefined && !new RegExp(regexp).test(value)) {
      return fail(`parameter ${key}=${JSON.stringify(value)} does not match ${regexp}`)
    }
  }
  const argv: Array<string> = []
  for (const item of descriptor.command) {
    if (!item.startsWith("$")) {
      argv.push(item)
      continue
    }
    const key = item.slice(1)
    const builtin = builtins[key]
    if (builtin !== undefined) argv.push(builtin())
    else if (values[key] !== undefined) argv.push(values[key]!)
    else return fail(`parameter ${key} has no value (no default, none given)`)
  }
  return Either.right({ argv, values })
}

/** The command as shown on the API: long inline scripts are abbreviated. */
export const displayCommand = (descriptor: Descriptor): ReadonlyArray<string> =>
  descriptor.command.map((item) => (item.length > 120 ? `<inline script, ${item.length} characters>` : item))
