/**
 * Measurements in the formats people already have: `parse(text)` detects the format, `parse(text, name)`
 * reads only that one. Every adapter maps its tool's output to `<benchmark>/<measure>` metrics with
 * unit, direction, bounds and samples as its module documents; the fixtures under
 * `test/fixtures/formats/` are real outputs of each tool.
 */
import { Data, Either } from "effect"
import type { Measurements } from "../Measurement.js"
import { parseBencher } from "./Bencher.js"
import { parseCriterion } from "./Criterion.js"
import { parseGithubActionBenchmark } from "./GithubActionBenchmark.js"
import { parseGo } from "./Go.js"
import { parseGoogleBenchmark } from "./GoogleBenchmark.js"
import { parseHyperfine } from "./Hyperfine.js"
import { parsePytestBenchmark } from "./PytestBenchmark.js"
import { Rejected } from "./Reader.js"

export type FormatName =
  | "bencher"
  | "github-action-benchmark"
  | "go"
  | "google-benchmark"
  | "pytest-benchmark"
  | "hyperfine"
  | "criterion"

/** Every format, in the order automatic detection tries them (the most specific shapes first). */
export const formatNames: ReadonlyArray<FormatName> = [
  "hyperfine",
  "pytest-benchmark",
  "google-benchmark",
  "github-action-benchmark",
  "bencher",
  "go",
  "criterion"
]

/** One format's reason for refusing the input, as listed by a failed automatic detection. */
export interface FormatRejection {
  readonly format: FormatName
  /** A JSON path (`$.results[2].mean`) or `line 12`; absent when the input is not this format at all. */
  readonly where?: string | undefined
  readonly reason: string
}

/**
 * The input could not be read as measurements. `message` says which format was tried, where (JSON
 * path or line) and what was wrong; after a failed detection, `rejections` holds every candidate's reason.
 */
export class FormatError extends Data.TaggedError("FormatError")<{
  readonly message: string
  /** The format given, or the one the input was recognised as; absent when none fits. */
  readonly format?: FormatName | undefined
  readonly where?: string | undefined
  readonly rejections?: ReadonlyArray<FormatRejection> | undefined
}> {
  override toString(): string {
    return `FormatError: ${this.message}`
  }
}

type Input = { readonly text: string; json: unknown; jsonError: string | undefined; jsonRead: boolean }

interface Adapter {
  readonly kind: "json" | "text"
  readonly describe: string
  readonly parse: (input: unknown) => Measurements
}

const adapters: Readonly<Record<FormatName, Adapter>> = {
  bencher: { kind: "json", describe: "Bencher Metric Format JSON", parse: parseBencher },
  "github-action-benchmark": { kind: "json", describe: "github-action-benchmark custom JSON", parse: parseGithubActionBenchmark },
  go: { kind: "text", describe: "Go testing benchmark output", parse: (text) => parseGo(text as string) },
  "google-benchmark": { kind: "json", describe: "Google Benchmark JSON", parse: parseGoogleBenchmark },
  "pytest-benchmark": { kind: "json", describe: "pytest-benchmark JSON", parse: parsePytestBenchmark },
  hyperfine: { kind: "json", describe: "hyperfine JSON", parse: parseHyperfine },
  criterion: { kind: "text", describe: "criterion cargo bench output", parse: (text) => parseCriterion(text as string) }
}

/** Line and column of a JSON syntax error, from V8's "at position N" or the first bare NaN/Infinity. */
const jsonErrorAt = (text: string, error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error)
  let position = Number(/at position (\d+)/.exec(message)?.[1] ?? Number.NaN)
  let what = message.replace(/\s+/g, " ")
  if (what.length > 120) what = `${what.slice(0, 120)}…`
  // V8 names no position for some errors and a vague one for `-Infinity`: a bare NaN/Infinity (as Python's
  // json module writes them) at or before the reported place is the better answer.
  const bare = /[:,[]\s*(-?(?:NaN|Infinity))\b/.exec(text)
  if (bare !== null) {
    const at = bare.index + bare[0].length - bare[1].length
    if (Number.isNaN(position) || at <= position) {
      position = at
      what = `${bare[1]} is not a JSON number (NaN and Infinity are not measurements)`
    }
  }
  if (Number.isNaN(position)) return `not valid JSON: ${what}`
  let line = 1
  let lineStart = 0
  for (let index = text.indexOf("\n"); index !== -1 && index < position; index = text.indexOf("\n", index + 1)) {
    line += 1
    lineStart = index + 1
  }
  return `not valid JSON at line ${line} column ${position - lineStart + 1}: ${what}`
}

const readJson = (input: Input): void => {
  if (input.jsonRead) return
  input.jsonRead = true
  try {
    input.json = JSON.parse(input.text)
  } catch (error) {
    input.jsonError = jsonErrorAt(input.text, error)
  }
}

/** Runs one adapter: its measurements, or why it refused. */
const attempt = (format: FormatName, input: Input): Either.Either<Measurements, FormatRejection & { recognised: boolean }> => {
  const adapter = adapters[format]
  let argument: unknown = input.text
  if (adapter.kind === "json") {
    readJson(input)
    if (input.jsonError !== undefined) return Either.left({ format, reason: input.jsonError, recognised: false })
    argument = input.json
  }
  try {
    const measurements = adapter.parse(argument)
    if (Object.keys(measurements).length === 0) {
      return Either.left({ format, reason: "it holds no measurements", recognised: true })
    }
    return Either.right(measurements)
  } catch (error) {
    if (error instanceof Rejected) {
      return Either.left({ format, where: error.where, reason: error.reason, recognised: error.recognised })
    }
    throw error
  }
}

const line = (rejection: FormatRejection): string =>
  rejection.where === undefined ? rejection.reason : `at ${rejection.where}: ${rejection.reason}`

/**
 * Reads measurements from a tool's output. With `format`, only that format is tried; without, the
 * format is detected (the first of `formatNames` that reads the input). No measurement is an error.
 */
export const parse = (
  text: string,
  format?: FormatName
): Either.Either<{ format: FormatName; measurements: Measurements }, FormatError> => {
  if (format !== undefined && !(format in adapters)) {
    return Either.left(new FormatError({ message: `unknown format "${format}" (known: ${formatNames.join(", ")})` }))
  }
  if (text.trim() === "") return Either.left(new FormatError({ message: "the input is empty", format }))
  const input: Input = { text, json: undefined, jsonError: undefined, jsonRead: false }

  if (format !== undefined) {
    if (adapters[format].kind === "json") {
      readJson(input)
      if (input.jsonError !== undefined) {
        return Either.left(new FormatError({ message: `${adapters[format].describe}: ${input.jsonError}`, format }))
      }
    }
    return Either.match(attempt(format, input), {
      onRight: (measurements) => Either.right({ format, measurements }),
      onLeft: (rejection) =>
        Either.left(
          new FormatError({
            message: rejection.recognised || rejection.where !== undefined
              ? `${adapters[format].describe}: ${line(rejection)}`
              : `not ${adapters[format].describe}: ${rejection.reason}`,
            format,
            where: rejection.where
          })
        )
    })
  }

  // JSON starts with `{` or `[`; no text format does, so only the JSON adapters are candidates then.
  const first = text.trimStart()[0]
  const looksJson = first === "{" || first === "["
  const candidates = formatNames.filter((name) => (adapters[name].kind === "json") === looksJson)
  if (looksJson) {
    readJson(input)
    if (input.jsonError !== undefined) return Either.left(new FormatError({ message: input.jsonError }))
  }
  const rejections: Array<FormatRejection & { recognised: boolean }> = []
  for (const candidate of candidates) {
    const result = attempt(candidate, input)
    if (Either.isRight(result)) return Either.right({ format: candidate, measurements: result.right })
    rejections.push(result.left)
  }
  const recognised = rejections.filter((rejection) => rejection.recognised)
  const listed = rejections.map(({ format, reason, where }): FormatRejection => ({ format, reason, where }))
  if (recognised.length === 1) {
    const [only] = recognised
    return Either.left(
      new FormatError({
        message: `looks like ${adapters[only.format].describe}, but ${line(only)}`,
        format: only.format,
        where: only.where,
        rejections: listed
      })
    )
  }
  const shown = recognised.length > 0 ? recognised : rejections
  return Either.left(
    new FormatError({
      message: [
        `no known format reads this input (tried ${candidates.join(", ")})`,
        ...shown.map((rejection) => `  ${rejection.format}: ${line(rejection)}`)
      ].join("\n"),
      rejections: listed
    })
  )
}
