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

/** A configuration file or flag is invalid. `location` is "file:line:col" when known. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly message: string
  readonly file?: string | undefined
  readonly line?: number | undefined
  readonly column?: number | undefined
  readonly key?: string | undefined
}> {
  get location(): string {
    const where = [this.file, this.line, this.column].filter((part) => part !== undefined).join(":")
    const key = this.key ? `${where ? " " : ""}at ${this.key}` : ""
    return `${where}${key}`
  }
  override toString(): string {
    const location = this.location
    return location ? `${location}: ${this.message}` : this.message
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
