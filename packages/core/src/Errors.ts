/**
 * Errors shared by core's services. Each is a tagged class so callers can
 * `Effect.catchTag` the ones they handle and let the rest surface.
 */
import { Data } from "effect"

/** The database could not be opened, migrated or queried. */
export class DatabaseError extends Data.TaggedError("DatabaseError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** A migration set cannot be applied as written (bad SQL, a newer database, a changed script). */
export class MigrationError extends Data.TaggedError("MigrationError")<{
  readonly owner: string
  readonly id: number
  readonly message: string
  readonly cause?: unknown
}> {}

/** Where one configuration problem is: a flag (`--set a.b=c`), or a file's line and column; and the key. */
export interface ConfigProblem {
  readonly message: string
  readonly file?: string | undefined
  readonly line?: number | undefined
  readonly column?: number | undefined
  readonly key?: string | undefined
  /** The flag that set the value, when it came from the command line rather than a file. */
  readonly flag?: string | undefined
}

const locationOf = (problem: ConfigProblem): string => {
  const where = problem.flag ?? [problem.file, problem.line, problem.column].filter((part) => part !== undefined).join(":")
  const key = problem.key ? `${where ? " " : ""}at ${problem.key}` : ""
  return `${where}${key}`
}

const lineOf = (problem: ConfigProblem): string => {
  const location = locationOf(problem)
  return location ? `${location}: ${problem.message}` : problem.message
}

/**
 * A configuration file or flag is invalid. The fields describe the first problem;
 * `problems`, when given, holds every problem found in the same pass (the first included).
 */
export class ConfigError extends Data.TaggedError("ConfigError")<ConfigProblem & {
  readonly problems?: ReadonlyArray<ConfigProblem> | undefined
}> {
  /** "file:line:col at key", or "--flag at key". */
  get location(): string {
    return locationOf(this)
  }
  /** One line per problem. */
  override toString(): string {
    const problems = this.problems ?? []
    if (problems.length <= 1) return lineOf(this)
    return [`${problems.length} problems in the configuration:`, ...problems.map((problem) => `  ${lineOf(problem)}`)].join("\n")
  }
}

/** The HTTP server could not listen (the port is taken, the address is not local …). */
export class HttpListenError extends Data.TaggedError("HttpListenError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/** A plugin does not fit core: a kind of another plugin's, a migration touching tables not its own. */
export class PluginError extends Data.TaggedError("PluginError")<{
  readonly message: string
}> {}
