/**
 * `orch.yaml`: a `core` section and one section per plugin, each validated by its
 * Schema. Precedence, lowest first: defaults, the file (with `${ENV}` substituted),
 * `--set key.path=value` overrides, then dedicated flags (`--data-dir`, `--http-port` …).
 */
import { Context, Effect, Either, Redacted, Schema, type SchemaAST } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Auth from "./Auth.js"
import { ConfigError } from "./Errors.js"
import { describeUrl, passwordOf } from "./internal/databaseUrl.js"
import { structOf } from "./internal/schemaWalk.js"
import type { Plugin } from "./Plugin.js"
import { RetentionSection } from "./RetentionPolicy.js"
import * as Yaml from "./Yaml.js"

/**
 * Annotation on a config key (or its schema) whose value is a path that must exist when
 * given: `"file"` or `"folder"`. `orch run` and `orch config check` refuse a missing one.
 */
export const ExistingPathId: unique symbol = Symbol.for("@orch/core/Config/ExistingPath")
export type ExistingPath = "file" | "folder"

/** Marks a key kept only to refuse it: `config init` leaves it out and it has no flag. */
export const RetiredKeyId: unique symbol = Symbol.for("@orch/core/Config/RetiredKey")

/**
 * A key that is no longer read: a file that still has it is refused with `message`, which
 * says where its setting went.
 */
export const retiredKey = (message: string) =>
  Schema.optional(Schema.Unknown.pipe(Schema.filter(() => message))).annotations({ [RetiredKeyId]: true })

export const LogLevel = Schema.Literal("trace", "debug", "info", "warning", "error", "none")
export type LogLevel = typeof LogLevel.Type
export const LogFormat = Schema.Literal("auto", "pretty", "json")
export type LogFormat = typeof LogFormat.Type

const Port = Schema.Int.pipe(Schema.between(0, 65535, { message: () => "must be a port number from 0 to 65535" }))
const Positive = Schema.Number.pipe(Schema.positive())

/** Core's own section. Every field has a default, so an empty file is a valid one. */
export const CoreSection = Schema.Struct({
  dataDir: Schema.optionalWith(Schema.String, { default: () => "./.orch" }).annotations({
    description: "Folder for the database and other state (relative to the working directory)"
  }),
  plugins: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["all"] }).annotations({
    description: "Plugins `orch run` starts when --plugins is not given (\"all\" or names)"
  }),
  timeZone: Schema.optionalWith(Schema.String, { default: () => "UTC" }).annotations({
    description: "Time zone for cron schedules"
  }),
  shutdownGraceSeconds: Schema.optionalWith(Positive, { default: () => 10 }).annotations({
    description: "How long work in flight may take to finish on SIGINT/SIGTERM"
  }),
  database: Schema.optionalWith(
    Schema.Struct({
      file: Schema.optional(Schema.String).annotations({ description: "SQLite file; default <dataDir>/orch.sqlite" }),
      url: Schema.optional(Schema.Redacted(
        Schema.String.pipe(Schema.filter((url) => /^postgres(ql)?:\/\//.test(url), {
          message: () => "must be a postgres:// (or postgresql://) URL"
        }))
      )).annotations({
        description: "PostgreSQL instead of SQLite, shared by several nodes: postgres://user:password@host:port/database (env ORCH_DATABASE_URL)"
      }),
      busyTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 10_000 }),
      synchronous: Schema.optionalWith(Schema.Literal("normal", "full"), { default: () => "normal" as const })
    }),
    { default: () => ({ busyTimeoutMs: 10_000, synchronous: "normal" as const }) }
  ),
  retention: Schema.optionalWith(RetentionSection, { default: () => Schema.decodeSync(RetentionSection)({}) }).annotations({
    description: "How long finished jobs, ended leases and resource history are kept (see README, Retention)"
  }),
  http: Schema.optionalWith(
    Schema.Struct({
      host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
      port: Schema.optionalWith(Port, { default: () => 7600 }),
      maxBodyBytes: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1024 * 1024 }),
      allowedHosts: Schema.optionalWith(Schema.Array(Schema.String.pipe(Schema.minLength(1))), { default: () => [] }).annotations({
        description: "More names the daemon is reached by (behind a proxy); requests with another Host are refused"
      })
    }),
    { default: () => ({ host: "127.0.0.1", port: 7600, maxBodyBytes: 1024 * 1024, allowedHosts: [] }) }
  ),
  auth: Schema.optionalWith(
    Schema.Struct({
      tokens: Schema.optionalWith(Schema.Array(Auth.Token), { default: () => [] }).annotations({
        description: "Bearer tokens ({ name, token, role }); when any is given, every route but /healthz, /readyz, /metrics needs one"
      })
    }),
    { default: () => ({ tokens: [] }) }
  ),
  log: Schema.optionalWith(
    Schema.Struct({
      level: Schema.optionalWith(LogLevel, { default: () => "info" as const }),
      format: Schema.optionalWith(LogFormat, { default: () => "auto" as const }),
      file: Schema.optional(Schema.String).annotations({ description: "Also append JSON lines to this file" })
    }),
    { default: () => ({ level: "info" as const, format: "auto" as const }) }
  )
})
export type CoreSection = typeof CoreSection.Type

/** The loaded configuration, as every service of the daemon sees it. */
export interface OrchConfig {
  /** The file it came from, if any. */
  readonly file: string | undefined
  readonly core: CoreSection
  /** Decoded plugin sections by plugin name (every known plugin has one, defaults included). */
  readonly plugins: Readonly<Record<string, unknown>>
  /** The SQLite file, or the PostgreSQL database (`core.database.url`). */
  readonly database: DatabaseTarget
  /** Every `Redacted` value found in the config: the logger blanks them out. */
  readonly secrets: ReadonlyArray<string>
}

/** Which database the config names, and where (a `location` never holds a password). */
export type DatabaseTarget =
  | { readonly dialect: "sqlite"; readonly file: string; readonly location: string }
  | { readonly dialect: "pg"; readonly url: Redacted.Redacted<string>; readonly location: string }

/** The PostgreSQL URL, also given by the environment (a secret that stays out of the file). */
export const databaseUrlEnv = "ORCH_DATABASE_URL"

export class Config extends Context.Tag("@orch/core/Config")<Config, OrchConfig>() {}

/** What the command line can say about configuration. */
export interface Overrides {
  /** `--config FILE`; when absent `./orch.yaml` is used if it exists. */
  readonly configFile?: string | undefined
  readonly dataDir?: string | undefined
  readonly httpHost?: string | undefined
  readonly httpPort?: number | undefined
  readonly logLevel?: LogLevel | undefined
  readonly logFormat?: LogFormat | undefined
  readonly logFile?: string | undefined
  /** `--set a.b.c=value` pairs; values are parsed as YAML scalars (numbers, booleans). */
  readonly set?: ReadonlyArray<string> | undefined
  /** Refuse a missing file or folder named by a key marked with `ExistingPathId` (`orch run`, `config check`). */
  readonly checkPaths?: boolean | undefined
}

export const defaultConfigFile = "orch.yaml"

/** The schema of the whole file for a set of plugins: unknown sections are errors. */
export const fileSchema = (plugins: ReadonlyArray<Plugin>) =>
  Schema.Struct({
    core: Schema.optionalWith(CoreSection, { default: () => Schema.decodeSync(CoreSection)({}) }),
    ...Object.fromEntries(
      plugins.map((plugin) => [
        plugin.name,
        Schema.optionalWith(plugin.config as Schema.Schema<unknown, unknown, never>, {
          default: () => Schema.decodeUnknownSync(plugin.config as Schema.Schema<unknown, unknown, never>)({})
        })
      ])
    )
  })

const setPath = (target: Record<string, unknown>, keys: ReadonlyArray<string>, value: unknown): void => {
  let node: Record<string, unknown> = target
  for (const key of keys.slice(0, -1)) {
    const next = node[key]
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
}

const parseSetting = (setting: string): Either.Either<readonly [ReadonlyArray<string>, unknown], ConfigError> => {
  const eq = setting.indexOf("=")
  if (eq <= 0) {
    return Either.left(new ConfigError({ flag: `--set ${setting}`, message: "expects key.path=value, e.g. --set core.http.port=0" }))
  }
  const keys = setting.slice(0, eq).split(".")
  const raw = setting.slice(eq + 1)
  const parsed = Yaml.parse(raw === "" ? "''" : raw, "--set")
  const value = Either.isRight(parsed) && (parsed.right.value === null || typeof parsed.right.value !== "object")
    ? parsed.right.value
    : raw
  return Either.right([keys, value] as const)
}

const collectSecrets = (value: unknown, out: Array<string>, seen = new Set<unknown>()): Array<string> => {
  if (Redacted.isRedacted(value)) {
    const secret = Redacted.value(value)
    if (typeof secret === "string" && secret.length >= 4) out.push(secret)
  } else if (value !== null && typeof value === "object" && !seen.has(value)) {
    seen.add(value)
    for (const item of Object.values(value)) collectSecrets(item, out, seen)
  }
  return out
}

/**
 * Loads, substitutes, overrides and validates the configuration. A missing file is an
 * error only when it was named explicitly; without one, every default applies.
 */
export const load = (
  plugins: ReadonlyArray<Plugin>,
  overrides: Overrides = {},
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<OrchConfig, ConfigError> =>
  Effect.gen(function*() {
    const explicit = overrides.configFile
    const file = explicit ?? (fs.existsSync(defaultConfigFile) ? defaultConfigFile : undefined)
    let document: Yaml.YamlDocument = { file: file ?? "(defaults)", value: {}, locate: () => undefined }
    if (file !== undefined) {
      document = yield* Yaml.readFile(file)
      document = yield* Yaml.substituteEnv(document, env)
      if (document.value === null || typeof document.value !== "object" || Array.isArray(document.value)) {
        return yield* new ConfigError({ file, line: 1, message: "the top level must be a mapping of sections (core:, and one per plugin)" })
      }
    }
    const raw = structuredClone(document.value) as Record<string, unknown>
    // where a value came from the command line, its problems are blamed on the flag
    const origins: Array<Yaml.Origin> = []
    for (const setting of overrides.set ?? []) {
      const [keys, value] = yield* parseSetting(setting)
      setPath(raw, keys, value)
      // the URL holds a password: the flag is named without it
      origins.push({ keys, flag: keys.join(".") === "core.database.url" ? "--set core.database.url=…" : `--set ${setting}` })
    }
    const flag = (keys: ReadonlyArray<string>, name: string, value: unknown) => {
      if (value === undefined) return
      setPath(raw, keys, value)
      origins.push({ keys, flag: `${name} ${String(value)}` })
    }
    const envUrl = env[databaseUrlEnv]
    if (envUrl !== undefined && envUrl !== "") {
      // below --set; its value is not shown, it holds a password
      setPath(raw, ["core", "database", "url"], envUrl)
      origins.unshift({ keys: ["core", "database", "url"], flag: databaseUrlEnv })
    }
    flag(["core", "dataDir"], "--data-dir", overrides.dataDir)
    flag(["core", "http", "host"], "--http-host", overrides.httpHost)
    flag(["core", "http", "port"], "--http-port", overrides.httpPort)
    flag(["core", "log", "level"], "--log-level", overrides.logLevel)
    flag(["core", "log", "format"], "--log-format", overrides.logFormat)
    flag(["core", "log", "file"], "--log-file", overrides.logFile)

    const decoded = yield* Yaml.decode(fileSchema(plugins), document, raw, origins)
    if (overrides.checkPaths) {
      const missing = missingPaths(plugins, decoded as Record<string, unknown>, raw).map(({ keys, message }) =>
        Yaml.locateProblem(document, origins, keys, message)
      )
      if (missing.length > 0) return yield* Yaml.problemsError(missing)
    }
    const { core, ...sections } = decoded as { core: CoreSection } & Record<string, unknown>
    if (core.database.file !== undefined && core.database.url !== undefined) {
      const where = (key: string) => {
        const problem = Yaml.locateProblem(document, origins, ["core", "database", key], "")
        return problem.flag ?? `${problem.file}${problem.line === undefined ? "" : `:${problem.line}`}`
      }
      return yield* Yaml.problemsError([
        Yaml.locateProblem(
          document,
          origins,
          ["core", "database"],
          `core.database.file (${where("file")}) and core.database.url (${where("url")}) are both set: give one, file for SQLite or url for PostgreSQL`
        )
      ])
    }
    return {
      file,
      core,
      plugins: sections,
      database: databaseTarget(core),
      secrets: collectSecrets(decoded, urlSecrets(core.database.url))
    }
  })

const databaseTarget = (core: CoreSection): DatabaseTarget => {
  if (core.database.url !== undefined) {
    return { dialect: "pg", url: core.database.url, location: describeUrl(Redacted.value(core.database.url)) ?? "(a PostgreSQL URL that does not parse)" }
  }
  const file = path.resolve(core.database.file ?? path.join(core.dataDir, "orch.sqlite"))
  return { dialect: "sqlite", file, location: file }
}

/** The URL's password, a secret of its own: the logger blanks it wherever it shows. */
const urlSecrets = (url: Redacted.Redacted<string> | undefined): Array<string> => {
  const password = url === undefined ? "" : passwordOf(Redacted.value(url))
  return password.length >= 4 ? [password] : []
}

/** Keys marked with `ExistingPathId` in one decoded section, with their values. */
const markedPaths = (
  ast: SchemaAST.AST,
  value: unknown,
  keys: ReadonlyArray<string>,
  out: Array<{ keys: ReadonlyArray<string>; kind: ExistingPath; value: string }>
) => {
  const struct = structOf(ast)
  if (!struct || value === null || typeof value !== "object") return out
  for (const signature of struct.propertySignatures) {
    if (typeof signature.name !== "string") continue
    const item = (value as Record<string, unknown>)[signature.name]
    const kind = (signature.annotations[ExistingPathId] ?? signature.type.annotations[ExistingPathId]) as ExistingPath | undefined
    if (kind && typeof item === "string") out.push({ keys: [...keys, signature.name], kind, value: item })
    else markedPaths(signature.type, item, [...keys, signature.name], out)
  }
  return out
}

const given = (raw: unknown, keys: ReadonlyArray<string>): boolean =>
  keys.reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), raw) !== undefined

/**
 * Every marked file or folder that the file or a flag names and that does not exist
 * (relative paths: from the working directory). A default that is missing is not an error.
 */
const missingPaths = (plugins: ReadonlyArray<Plugin>, decoded: Record<string, unknown>, raw: unknown) => {
  const sections: Array<readonly [string, SchemaAST.AST]> = [
    ["core", CoreSection.ast],
    ...plugins.map((plugin) => [plugin.name, plugin.config.ast] as const)
  ]
  return sections.flatMap(([name, ast]) =>
    markedPaths(ast, decoded[name], [name], []).filter(({ keys }) => given(raw, keys)).flatMap(({ keys, kind, value }): Array<{ keys: ReadonlyArray<string>; message: string }> => {
      const absolute = path.resolve(value)
      const shown = absolute === value ? value : `${value} (${absolute})`
      let stat: fs.Stats | undefined
      try {
        stat = fs.statSync(absolute)
      } catch {
        return [{ keys, message: `${kind} not found: ${shown}` }]
      }
      if (kind === "file" && stat.isDirectory()) return [{ keys, message: `is a folder, not a file: ${shown}` }]
      if (kind === "folder" && !stat.isDirectory()) return [{ keys, message: `is not a folder: ${shown}` }]
      return []
    })
  )
}

/** The decoded section of one plugin. */
export const section = <C>(plugin: Plugin<C>): Effect.Effect<C, never, Config> =>
  Effect.map(Config, (config) => config.plugins[plugin.name] as C)
