/**
 * An endpoint file parsed a few top-level entries at a time, so that reading 20,000
 * endpoints gives the event loop a turn between chunks instead of parsing for seconds in
 * one go (the checks keep their schedule during a re-read).
 *
 * The top level of an endpoint file is a block map: each of its keys starts a line at
 * column 0, and every line of its value is indented or is a comment. The text is cut
 * before such lines and each chunk parsed on its own; the chunks' maps, joined, are the
 * file's map, and a problem's line is its chunk's line plus where the chunk starts.
 * Whenever a cut could change the meaning (a chunk that does not parse or is not a map,
 * an alias to an anchor in another chunk, a key repeated across chunks, directives or
 * several documents), the whole text is parsed at once instead, so every error is
 * exactly the one core's `Yaml.parse` gives for the file.
 */
import { ConfigError } from "@orch/core/Errors"
import * as Yaml from "@orch/core/Yaml"
import { Either } from "effect"

/** Top-level entries per chunk: about 10 ms of parsing each on this machine. */
export const entriesPerChunk = 100

/** Lines that rule out cutting: a directive, a document start or end marker. */
const wholeOnly = /^(%|---|\.\.\.)/m

/** The 0-based lines where a top-level entry may start (column 0, not blank, not a comment). */
const entryStarts = (lines: ReadonlyArray<string>): Array<number> => {
  const starts: Array<number> = []
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.charCodeAt(0)
    // space, tab, "#", "\r" and an empty line do not start an entry
    if (Number.isNaN(first) || first === 32 || first === 9 || first === 35 || first === 13) continue
    starts.push(i)
  }
  return starts
}

/** `document` with its lines moved down by `offset` (the line its chunk starts at, 0-based). */
const shifted = (document: Yaml.YamlDocument, offset: number): Yaml.YamlDocument => ({
  file: document.file,
  value: document.value,
  locate: (path) => {
    const at = document.locate(path)
    return at === undefined ? undefined : { line: at.line + offset, column: at.column }
  }
})

/**
 * Parses `text` as `Yaml.parse` and `Yaml.substituteEnv` do, yielding between chunks
 * (a generator: `parseSync` runs it in one go, `EndpointFiles` with a turn of the event
 * loop at each yield).
 */
export function* parse(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  chunkEntries: number = entriesPerChunk
): Generator<void, Either.Either<Yaml.YamlDocument, ConfigError>> {
  const whole = () => Yaml.parse(text, file).pipe(Either.flatMap((document) => Yaml.substituteEnv(document, env)))
  if (wholeOnly.test(text)) return whole()
  const lines = text.split("\n")
  const starts = entryStarts(lines)
  if (starts.length <= chunkEntries) return whole()
  // the first chunk takes the lines before the first entry (comments) too
  const cuts = [0]
  for (let i = chunkEntries; i < starts.length; i += chunkEntries) cuts.push(starts[i]!)
  const entries: Array<[string, unknown]> = []
  const chunkOf = new Map<string, Yaml.YamlDocument>()
  const envProblems: Array<ConfigError> = []
  let first: Yaml.YamlDocument | undefined
  for (let c = 0; c < cuts.length; c++) {
    if (c > 0) yield
    const from = cuts[c]!
    const chunkText = lines.slice(from, cuts[c + 1] ?? lines.length).join("\n")
    const parsed = Yaml.parse(chunkText, file)
    if (Either.isLeft(parsed)) return whole()
    const value = parsed.right.value
    if (value === null || typeof value !== "object" || Array.isArray(value)) return whole()
    const document = shifted(parsed.right, from)
    first ??= document
    for (const entry of Object.entries(value)) {
      if (chunkOf.has(entry[0])) return whole() // a repeated key: the whole parse names it
      chunkOf.set(entry[0], document)
    }
    const substituted = Yaml.substituteEnv(document, env)
    if (Either.isLeft(substituted)) {
      envProblems.push(substituted.left)
      continue
    }
    for (const entry of Object.entries(substituted.right.value as object)) entries.push(entry)
  }
  if (envProblems.length > 0) {
    return Either.left(Yaml.problemsError(envProblems.flatMap((error) => error.problems ?? [error])))
  }
  const root = first!
  return Either.right({
    file,
    // fromEntries defines each key (a "__proto__" key stays a key, as in the whole parse)
    value: Object.fromEntries(entries),
    // a key's chunk knows where it is; the first chunk stands for the top (and a missing key)
    locate: (path) => {
      const chunk = path.length > 0 ? chunkOf.get(String(path[0])) : undefined
      return chunk === undefined ? root.locate([]) : chunk.locate(path)
    }
  })
}

/** Runs a generator of steps to its end in one go. */
export const runSync = <A>(steps: Generator<void, A>): A => {
  for (;;) {
    const next = steps.next()
    if (next.done) return next.value
  }
}
