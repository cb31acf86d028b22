/**
 * YAML files decoded by a `Schema`, with errors that say where: the file, the line and
 * the key. Core's `orch.yaml` goes through here, and so do plugins' own files
 * (device inventories, endpoint lists), so every such error reads the same way.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as YAML from "yaml"
import { ConfigError, type ConfigProblem } from "./Errors.js"
import * as Issues from "./internal/configIssues.js"

export type Path = ReadonlyArray<PropertyKey>

export interface YamlDocument {
  readonly file: string
  /** The document as plain data (maps become objects). */
  readonly value: unknown
  /** Line and column (1-based) of the node at `path`, or of its nearest existing ancestor. */
  readonly locate: (path: Path) => { readonly line: number; readonly column: number } | undefined
}

/** Renders a key path as `a.b[2].c`. */
export const formatPath = (path: Path): string =>
  path.reduce<string>(
    (out, key) => typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`,
    ""
  )

/** The first key repeated in a map of `document`, as the library would report it. */
const duplicateKey = (document: YAML.Document, lineCounter: YAML.LineCounter) => {
  let found: { readonly message: string; readonly linePos: [{ line: number; col: number }] } | undefined
  YAML.visit(document, {
    Map(_, map) {
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        const key = YAML.isScalar(pair.key) ? pair.key.value : pair.key
        if (!seen.has(key)) {
          seen.add(key)
          continue
        }
        const offset = YAML.isNode(pair.key) ? pair.key.range?.[0] : undefined
        const at = offset === undefined ? { line: 0, col: 0 } : lineCounter.linePos(offset)
        found = { message: `Map keys must be unique (${JSON.stringify(String(key))} again)`, linePos: [{ line: at.line, col: at.col }] }
        return YAML.visit.BREAK
      }
      return undefined
    }
  })
  return found
}

/** Parses YAML text; a syntax error names the line and column. */
export const parse = (text: string, file: string): Either.Either<YamlDocument, ConfigError> => {
  const lineCounter = new YAML.LineCounter()
  // the library's own unique-key check compares every key with every earlier one (a file
  // of 20,000 endpoints took seconds); duplicateKey does it with a set per map
  const document = YAML.parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false })
  const problem = document.errors[0] ?? duplicateKey(document, lineCounter)
  if (problem) {
    const position = problem.linePos?.[0]
    return Either.left(
      new ConfigError({
        file,
        line: position?.line,
        column: position?.col,
        message: `invalid YAML: ${problem.message.split("\n")[0]}`
      })
    )
  }
  // walks the path, remembering the deepest key (or item) found: errors point at keys
  const locate = (path: Path) => {
    let node: unknown = document.contents
    let range: readonly [number, number, number] | undefined | null = YAML.isNode(node) ? node.range : undefined
    for (const key of path) {
      if (YAML.isMap(node)) {
        const pair = node.items.find((item) => (YAML.isScalar(item.key) ? item.key.value : item.key) === key)
        if (!pair) break
        range = (YAML.isNode(pair.key) ? pair.key.range : undefined) ?? range
        node = pair.value
      } else if (YAML.isSeq(node) && typeof key === "number") {
        const item = node.items[key]
        if (!YAML.isNode(item)) break
        range = item.range ?? range
        node = item
      } else {
        break
      }
    }
    if (!range) return undefined
    const position = lineCounter.linePos(range[0])
    return { line: position.line, column: position.col }
  }
  let value: unknown
  try {
    value = document.toJS({ maxAliasCount: 100 }) ?? {}
  } catch (cause) {
    // an alias to no anchor, or aliases expanding too far (a "billion laughs" file)
    const at = aliasAt(document, lineCounter)
    return Either.left(new ConfigError({ file, line: at?.line, column: at?.col, message: `invalid YAML: ${(cause as Error).message}` }))
  }
  return Either.right({ file, value, locate })
}

/** Where the first alias that resolves to nothing is, else the first alias: what `toJS` failed on. */
const aliasAt = (document: YAML.Document, lineCounter: YAML.LineCounter) => {
  let unresolved: YAML.Alias | undefined
  let first: YAML.Alias | undefined
  YAML.visit(document, {
    Alias(_, alias) {
      first ??= alias
      if (alias.resolve(document) === undefined) {
        unresolved = alias
        return YAML.visit.BREAK
      }
      return undefined
    }
  })
  const offset = (unresolved ?? first)?.range?.[0]
  return offset === undefined ? undefined : lineCounter.linePos(offset)
}

/** Reads and parses a file; a missing or unreadable file is a `ConfigError` naming it. */
export const readFile = (file: string): Effect.Effect<YamlDocument, ConfigError> =>
  Effect.flatMap(
    Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (cause) =>
        new ConfigError({
          file,
          message: (cause as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `cannot read: ${String(cause)}`
        })
    }),
    (text) => parse(text, file)
  )

const envPattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Replaces `${NAME}` (or `${NAME:-default}`) in every string value with the environment
 * variable; `$${` escapes a literal `${`. A variable that is unset and has no default is
 * an error at its line, so a secret never silently becomes an empty string.
 */
export const substituteEnv = (
  document: YamlDocument,
  env: Readonly<Record<string, string | undefined>>
): Either.Either<YamlDocument, ConfigError> => {
  const problems: Array<ConfigProblem> = []
  const visit = (value: unknown, path: Array<PropertyKey>): unknown => {
    if (typeof value === "string") {
      const replaced = value.replace(/\$\$\{/g, "\u0000").replace(envPattern, (match, name: string, fallback?: string) => {
        const found = env[name]
        if (found !== undefined) return found
        if (fallback !== undefined) return fallback
        const position = document.locate(path)
        problems.push({
          file: document.file,
          line: position?.line,
          column: position?.column,
          key: formatPath(path),
          message: `environment variable ${name} is not set (write \${${name}:-default} to give a default)`
        })
        return match
      })
      return replaced.replace(/\u0000/g, "${")
    }
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...path, index]))
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item, [...path, key])]))
    }
    return value
  }
  const value = visit(document.value, [])
  return problems.length > 0 ? Either.left(problemsError(problems)) : Either.right({ ...document, value })
}

/**
 * Where a value did not come from the document: a command-line flag that set `keys`
 * (`--set core.http.port=0`, `--http-port`). A problem under those keys is blamed on
 * the flag, not on a line of the file.
 */
export interface Origin {
  readonly keys: ReadonlyArray<string>
  readonly flag: string
}

/**
 * Decodes `value` (usually `document.value`, possibly with overrides applied) with
 * `schema`. Unknown keys are errors. Every problem becomes part of one `ConfigError`,
 * each with its key path and the line of that key in the document (or the flag that set it).
 */
export const decode = <A, I>(
  schema: Schema.Schema<A, I, never>,
  document: YamlDocument,
  value: unknown = document.value,
  origins: ReadonlyArray<Origin> = []
): Either.Either<A, ConfigError> =>
  Schema.decodeUnknownEither(schema, { onExcessProperty: "error", errors: "all" })(value).pipe(
    Either.mapLeft((error) => toConfigError(error, document, origins))
  )

/** Turns a schema failure into a `ConfigError` listing every problem where it is. */
export const toConfigError = (
  error: ParseResult.ParseError,
  document: YamlDocument,
  origins: ReadonlyArray<Origin> = []
): ConfigError =>
  problemsError(
    Issues.problems(error.issue).map(({ message, path }) => locateProblem(document, origins, path, message)),
    error.message
  )

/** Every problem of a schema failure, one per key, worded for people (for values that come from flags). */
export const problemsOf = (error: ParseResult.ParseError): ReadonlyArray<Issues.Problem> => Issues.problems(error.issue)

/** The problem at `path`, placed on the flag that set it or on its line in the document. */
export const locateProblem = (
  document: YamlDocument,
  origins: ReadonlyArray<Origin>,
  path: Path,
  message: string
): ConfigProblem => {
  const key = path.length > 0 ? formatPath(path) : undefined
  // the flag that set this key, a key under it, or (for an unknown key) a key above it
  const origin = [...origins].reverse().find((origin) =>
    origin.keys.slice(0, path.length).every((part, i) => path[i] === part)
  )
  if (origin) return { flag: origin.flag, key, message }
  const position = document.locate(path)
  return { file: document.file, line: position?.line, column: position?.column, key, message }
}

/** One `ConfigError` for a list of problems: the first in its fields, all of them in `problems`. */
export const problemsError = (problems: ReadonlyArray<ConfigProblem>, fallback = "invalid configuration"): ConfigError => {
  const sorted = [...problems].sort((a, b) => (a.flag ? 0 : 1) - (b.flag ? 0 : 1) || (a.line ?? 0) - (b.line ?? 0))
  return new ConfigError({ ...(sorted[0] ?? { message: fallback }), problems: sorted })
}

/** Reads a YAML file and decodes it in one go (for plugins' own files). */
export const decodeFile = <A, I>(
  schema: Schema.Schema<A, I, never>,
  file: string,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<A, ConfigError> =>
  readFile(file).pipe(
    Effect.flatMap((document) => substituteEnv(document, env)),
    Effect.flatMap((document) => decode(schema, document))
  )
