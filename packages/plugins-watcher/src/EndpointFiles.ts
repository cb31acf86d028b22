/**
 * Reading the endpoints directory: every `*.yml` / `*.yaml` file in it, each parsed,
 * given `${ENV}` and decoded on its own. A file with any problem is skipped whole (its
 * problems name the file, line and key); the others are used. The seed's own example
 * does not parse as YAML, and what is wrong with it is said as what to write instead.
 */
import { ConfigError } from "@orch/core/Errors"
import * as GroupCommit from "@orch/core/GroupCommit"
import * as Yaml from "@orch/core/Yaml"
import { Effect, Either, Metric, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Endpoint from "./Endpoint.js"
import * as Self from "./Self.js"
import * as YamlChunks from "./YamlChunks.js"

export interface FileLoad {
  /** Relative to the endpoints directory. */
  readonly file: string
  /** Empty when the file has problems: a bad file is skipped whole. */
  readonly endpoints: ReadonlyArray<Endpoint.Endpoint>
  readonly problems: ReadonlyArray<ConfigError>
  /** The file's `self:` block. */
  readonly self?: Self.SelfBlock | undefined
}

export interface DirectoryLoad {
  readonly directory: string
  /** The directory does not exist (no endpoints, which is not an error). */
  readonly missing: boolean
  readonly files: ReadonlyArray<FileLoad>
  /** Each file as parsed on its own (before the checks across files), by name, with its stamp: for the next read. */
  readonly parsed?: ReadonlyMap<string, ParsedFile> | undefined
}

export interface ParsedFile {
  readonly stamp: string
  readonly load: FileLoad
}

/** The endpoints of every file without problems, in file order. */
export const endpointsOf = (load: DirectoryLoad): ReadonlyArray<Endpoint.Endpoint> => load.files.flatMap((file) => file.endpoints)

/** The `self:` block of the directory (one file may have it). */
export const selfOf = (load: DirectoryLoad): Self.SelfBlock | undefined => load.files.find((file) => file.self !== undefined)?.self

export const problemsOf = (load: DirectoryLoad): ReadonlyArray<ConfigError> => load.files.flatMap((file) => file.problems)

const keyValueLine = /^(\s*)(-\s+)?([A-Za-z0-9_.\-/]+):[ \t]+([^#\s].*?)\s*$/
const keyLine = /^(\s*)(?:-\s+)?[A-Za-z0-9_.\-/"']+:(\s|$)/

/**
 * The mistakes of the seed's example, found in the text (the YAML parser's own message
 * for them, "alias cannot be an empty string", does not say what to do): a value that
 * starts with `*` (a YAML alias) and a key with both a value and children.
 */
export const seedMistakes = (text: string, file: string): ReadonlyArray<ConfigError> => {
  const lines = text.split(/\r?\n/)
  const found: Array<ConfigError> = []
  // the keys enclosing the current line, by indentation, for the full key path
  const parents: Array<{ readonly indent: number; readonly key: string }> = []
  lines.forEach((line, index) => {
    const opening = /^(\s*)(?:-\s+)?([^\s#][^:]*):(\s|$)/.exec(line)
    if (opening) {
      while (parents.length > 0 && parents[parents.length - 1]!.indent >= opening[1]!.length) parents.pop()
      parents.push({ indent: opening[1]!.length, key: opening[2]!.trim() })
    }
    const match = keyValueLine.exec(line)
    if (!match) return
    const [, indent, , name, value] = match
    const key = parents.map((parent) => parent.key).join(".")
    if (value!.startsWith("*")) {
      found.push(new ConfigError({
        file, line: index + 1, column: line.indexOf(value!) + 1, key,
        message: `an unquoted ${value} is read by YAML as an alias: quote it, ${name}: "${value}"`
      }))
      return
    }
    const next = lines.slice(index + 1).findIndex((l) => l.trim() !== "" && !l.trim().startsWith("#"))
    if (next === -1) return
    const child = lines[index + 1 + next]!
    const childIndent = /^\s*/.exec(child)![0].length
    if (childIndent > indent!.length && keyLine.test(child)) {
      const childKey = child.trim().replace(/:.*$/, "")
      const valueKey = name === "post_endpoint" ? "url" : name === "post_service" ? "service" : "value"
      found.push(new ConfigError({
        file, line: index + 1, column: indent!.length + 1, key,
        message: `${name} has both a value (${value}) and children (${childKey} at line ${index + 2 + next}): ` +
          `a YAML key has one or the other. Write "${name}:" alone and put the value under it as "${valueKey}: ${value}"` +
          (name === "post_service" && value === "aws-cloudwatch"
            ? "; with data_* keys, which describe an event (CloudWatch Events, now EventBridge), write \"service: aws-eventbridge\" (PutEvents); aws-cloudwatch sends metrics (PutMetricData)"
            : "")
      }))
    }
  })
  return found
}

const problemAt = (document: Yaml.YamlDocument, pathTo: ReadonlyArray<PropertyKey>, message: string) => {
  const position = document.locate(pathTo)
  return new ConfigError({
    file: document.file,
    line: position?.line,
    column: position?.column,
    key: Yaml.formatPath(pathTo),
    message
  })
}

/**
 * The issues worth showing: a union reports every branch it tried (an optional key's
 * "Expected undefined" among them); the deepest issue on a path says most, once.
 */
const mainIssues = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) => {
  const kept = issues.filter((issue) => !issue.message.startsWith("Expected undefined"))
  const key = (path: ReadonlyArray<PropertyKey>) => path.map(String).join("\u0000")
  const deeper = (a: ReadonlyArray<PropertyKey>, b: ReadonlyArray<PropertyKey>) =>
    b.length > a.length && a.every((step, index) => step === b[index])
  const seen = new Set<string>()
  return kept.filter((issue) => {
    if (kept.some((other) => deeper(issue.path, other.path))) return false
    const k = key(issue.path)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

const decodeEndpoint = Schema.decodeUnknownEither(Endpoint.EndpointInput, { onExcessProperty: "error", errors: "all" })

/** Endpoints decoded between two steps (about 10 ms of work). */
export const endpointsPerSlice = 100

/**
 * Parses and decodes one file's text (`file` names it in problems), as steps: it yields
 * after each chunk of the YAML and each slice of endpoints (see `loadText` and `loadTextYielding`).
 */
export function* loadSteps(
  text: string,
  file: string,
  defaults: Endpoint.Defaults,
  env: Readonly<Record<string, string | undefined>> = process.env
): Generator<void, FileLoad> {
  const skipped = (problems: ReadonlyArray<ConfigError>): FileLoad => ({ file, endpoints: [], problems })
  const parsed = yield* YamlChunks.parse(text, file, env)
  if (Either.isLeft(parsed)) {
    const mistakes = seedMistakes(text, file)
    return skipped(mistakes.length > 0 ? mistakes : [parsed.left])
  }
  const document = parsed.right
  const value = document.value
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return skipped([new ConfigError({ file, line: 1, message: "an endpoint file maps endpoint keys to their settings" })])
  }
  const endpoints: Array<Endpoint.Endpoint> = []
  const problems: Array<ConfigError> = []
  let self: Self.SelfBlock | undefined
  const decodeProblems = (key: string, error: ParseResult.ParseError) => {
    for (const issue of mainIssues(ParseResult.ArrayFormatter.formatErrorSync(error))) {
      const message = issue._tag === "Unexpected" ? "unknown key (not allowed here)" : issue._tag === "Missing" ? "is required" : issue.message
      problems.push(problemAt(document, [key, ...issue.path], message))
    }
  }
  let done = 0
  for (const [key, input] of Object.entries(value)) {
    if (++done % endpointsPerSlice === 0) yield
    if (key === Self.key) {
      const decoded = Self.decode(input ?? {})
      if (Either.isLeft(decoded)) {
        decodeProblems(key, decoded.left)
        continue
      }
      const block = Self.fromInput(file, decoded.right)
      if (Either.isLeft(block)) problems.push(problemAt(document, [key, ...block.left.path], block.left.message))
      else self = block.right
      continue
    }
    const decoded = decodeEndpoint(input)
    if (Either.isLeft(decoded)) {
      decodeProblems(key, decoded.left)
      continue
    }
    const endpoint = Endpoint.fromInput(key, file, decoded.right, defaults)
    if (Either.isLeft(endpoint)) problems.push(problemAt(document, [key, ...endpoint.left.path], endpoint.left.message))
    else endpoints.push(endpoint.right)
  }
  return problems.length > 0 ? skipped(problems) : { file, endpoints, problems, self }
}

/** Parses and decodes one file's text in one go (`file` names it in problems). */
export const loadText = (
  text: string,
  file: string,
  defaults: Endpoint.Defaults,
  env: Readonly<Record<string, string | undefined>> = process.env
): FileLoad => YamlChunks.runSync(loadSteps(text, file, defaults, env))

/**
 * How long steps run before the event loop gets a turn. A turn per step would make a
 * busy process (thousands of checks in flight, each turn long) take minutes over a file;
 * this bounds the stall and the number of turns a load waits for.
 */
export const sliceMs = 40

export const longestSlice = Metric.gauge("orch_watcher_file_read_longest_slice_seconds", {
  description: "The longest the event loop waited for the last read of a changed endpoint file (one slice of its parsing and decoding)"
})

/** Runs steps, giving the event loop a turn (timers, I/O: the checks) after each `sliceMs` of them. */
export const runYielding = <A>(steps: Generator<void, A>, budgetMs: number = sliceMs): Effect.Effect<A> =>
  Effect.gen(function*() {
    let sliceStart = performance.now()
    let longest = 0
    for (;;) {
      const next = steps.next()
      const ran = performance.now() - sliceStart
      if (next.done) {
        yield* Metric.set(longestSlice, Math.max(longest, ran) / 1000)
        return next.value
      }
      if (ran < budgetMs) continue
      longest = Math.max(longest, ran)
      yield* GroupCommit.nextTurn
      sliceStart = performance.now()
    }
  })

/** `loadText` with a turn of the event loop between chunks and slices: a large file does not stall the checks. */
export const loadTextYielding = (
  text: string,
  file: string,
  defaults: Endpoint.Defaults,
  env: Readonly<Record<string, string | undefined>> = process.env,
  budgetMs: number = sliceMs
): Effect.Effect<FileLoad> => runYielding(loadSteps(text, file, defaults, env), budgetMs)

const isEndpointFile = (name: string) => /\.ya?ml$/i.test(name) && !name.startsWith(".")

/** The endpoint files of `directory` with their modification times (for noticing a change). */
export const listFiles = (directory: string): ReadonlyArray<{ readonly name: string; readonly mtimeMs: number; readonly size: number }> | undefined => {
  let names: Array<string>
  try {
    names = fs.readdirSync(directory)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined
    throw error
  }
  return names.filter(isEndpointFile).sort().flatMap((name) => {
    try {
      const stat = fs.statSync(path.join(directory, name))
      return stat.isFile() ? [{ name, mtimeMs: stat.mtimeMs, size: stat.size }] : []
    } catch {
      return [] // removed between the listing and the stat
    }
  })
}

/** What a file was when it was read: a file with the same stamp is not read again. */
const stampOf = (file: { readonly mtimeMs: number; readonly size: number }) => `${file.mtimeMs}:${file.size}`

/**
 * Reads every endpoint file of `directory`; a key defined in two files is a problem of the
 * later one. Each file is parsed and decoded with turns of the event loop in between
 * (`loadTextYielding`); a file unchanged (mtime and size) since `previous` is not read
 * again, its parsed endpoints reused.
 */
export const loadDirectory = (
  directory: string,
  defaults: Endpoint.Defaults,
  env: Readonly<Record<string, string | undefined>> = process.env,
  previous?: DirectoryLoad
): Effect.Effect<DirectoryLoad, ConfigError> =>
  Effect.gen(function*() {
    const files = yield* Effect.try({
      try: () => listFiles(directory),
      catch: (error) => new ConfigError({ file: directory, message: `cannot read the endpoints directory: ${String(error)}` })
    })
    if (files === undefined) return { directory, missing: true, files: [] }
    const parsed = new Map<string, ParsedFile>()
    const seen = new Map<string, string>()
    let selfIn: string | undefined
    const loads: Array<FileLoad> = []
    for (const { name, ...stat } of files) {
      const stamp = stampOf(stat)
      const before = previous?.parsed?.get(name)
      let load: FileLoad
      if (before !== undefined && before.stamp === stamp) {
        load = before.load
      } else {
        // read off the event loop: 20,000 endpoints are a few megabytes
        const text = yield* Effect.either(Effect.tryPromise(() => fs.promises.readFile(path.join(directory, name), "utf8")))
        if (Either.isLeft(text)) {
          loads.push({ file: name, endpoints: [], problems: [new ConfigError({ file: name, message: `cannot read: ${String(text.left.error)}` })] })
          continue
        }
        load = yield* loadTextYielding(text.right, name, defaults, env)
      }
      parsed.set(name, { stamp, load })
      const duplicates = load.endpoints.filter((endpoint) => seen.has(endpoint.key))
      if (duplicates.length > 0) {
        loads.push({
          file: name,
          endpoints: [],
          problems: duplicates.map((endpoint) => new ConfigError({ file: name, key: endpoint.key, message: `endpoint ${JSON.stringify(endpoint.key)} is already defined in ${seen.get(endpoint.key)}` }))
        })
        continue
      }
      if (load.self !== undefined && selfIn !== undefined) {
        loads.push({ file: name, endpoints: [], problems: [new ConfigError({ file: name, key: Self.key, message: `a self: block is already defined in ${selfIn}; the watcher has one` })] })
        continue
      }
      if (load.self !== undefined) selfIn = name
      for (const endpoint of load.endpoints) seen.set(endpoint.key, name)
      loads.push(load)
    }
    return { directory, missing: false, files: loads, parsed }
  })
