/**
 * `orch config init`: a commented `orch.yaml` written from the sections' own Schemas,
 * so the file always matches what `orch config check` accepts. Each plugin's simple
 * settings also become flags (`--<plugin>-<key-path>`), so a plugin's essentials (a
 * server URL, a key) can be given on the command line.
 */
import { Either, Option, Redacted, Schema, SchemaAST } from "effect"
import * as YAML from "yaml"
import * as Config from "./Config.js"
import * as Issues from "./internal/configIssues.js"
import { structOf } from "./internal/schemaWalk.js"
import type { Plugin } from "./Plugin.js"

/** A setting that a flag can carry: a string, number or boolean at a key path. */
export interface Leaf {
  readonly section: string
  readonly path: ReadonlyArray<string>
  readonly flag: string
  readonly description: string | undefined
}

/** Whether a flag's text can carry the value: judged on the encoded side (Redacted is a string). */
const isScalar = (ast: SchemaAST.AST): boolean => {
  const side = ast._tag === "Transformation" || ast._tag === "Refinement" ? ast.from : ast
  switch (side._tag) {
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "Literal":
    case "Enums":
    case "TemplateLiteral":
      return true
    case "Refinement":
    case "Transformation":
      return isScalar(side)
    case "Union":
      return side.types.every((t) => t._tag === "UndefinedKeyword" || isScalar(t))
    default:
      return false
  }
}

const kebab = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/_/g, "-").toLowerCase()

const description = (signature: SchemaAST.PropertySignature): string | undefined =>
  Option.getOrUndefined(SchemaAST.getDescriptionAnnotation(signature))

const isRetired = (signature: SchemaAST.PropertySignature): boolean => signature.annotations[Config.RetiredKeyId] === true

/**
 * Every scalar setting of a plugin's section, with its flag name. Structure and
 * descriptions come from the decoded side of the schema; whether a flag can carry a
 * value is judged on the encoded side (a `Redacted` key is a plain string there).
 */
export const leaves = (plugin: Plugin): ReadonlyArray<Leaf> => {
  const out: Array<Leaf> = []
  const walk = (decoded: SchemaAST.AST, encoded: SchemaAST.AST | undefined, path: ReadonlyArray<string>) => {
    const struct = structOf(decoded)
    const encodedStruct = encoded ? structOf(encoded) : undefined
    if (!struct) return
    for (const signature of struct.propertySignatures) {
      if (typeof signature.name !== "string" || isRetired(signature)) continue
      const next = [...path, signature.name]
      const encodedType = encodedStruct?.propertySignatures.find((p) => p.name === signature.name)?.type
      if (encodedType && isScalar(encodedType)) {
        out.push({
          section: plugin.name,
          path: next,
          flag: `${plugin.name}-${next.map(kebab).join("-")}`,
          description: description(signature)
        })
      } else {
        walk(signature.type, encodedType, next)
      }
    }
  }
  walk(plugin.config.ast, Schema.encodedSchema(plugin.config).ast, [])
  return out
}

const plain = (value: unknown): unknown => {
  if (Redacted.isRedacted(value)) return "${SECRET}"
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  }
  return value
}

const scalarText = (value: unknown): string =>
  Array.isArray(value)
    ? YAML.stringify(value, { flowCollectionPadding: false, collectionStyle: "flow", lineWidth: 0 }).trim()
    : YAML.stringify(value).trim()

const emit = (ast: SchemaAST.AST, value: unknown, indent: string, lines: Array<string>) => {
  const struct = structOf(ast)
  const record = (value ?? {}) as Record<string, unknown>
  if (!struct) {
    const text = YAML.stringify(record).trimEnd()
    for (const line of text.split("\n")) lines.push(indent + line)
    return
  }
  for (const signature of struct.propertySignatures) {
    if (typeof signature.name !== "string" || isRetired(signature)) continue
    const name = signature.name
    const about = description(signature)
    if (about) lines.push(`${indent}# ${about}`)
    const item = record[name]
    if (item === undefined) {
      lines.push(`${indent}# ${name}:`)
    } else if (item !== null && typeof item === "object" && !Array.isArray(item) && structOf(signature.type)) {
      lines.push(`${indent}${name}:`)
      emit(signature.type, item, indent + "  ", lines)
    } else if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      lines.push(Object.keys(item).length === 0 ? `${indent}${name}: {}` : `${indent}${name}:`)
      for (const line of YAML.stringify(item).trimEnd().split("\n")) if (Object.keys(item).length > 0) lines.push(`${indent}  ${line}`)
    } else {
      lines.push(`${indent}${name}: ${scalarText(item)}`)
    }
  }
}

export interface InitValues {
  /** Core settings as a partial section (dataDir, http.port …). */
  readonly core?: Record<string, unknown>
  /** Per plugin, values by key path. */
  readonly plugins?: Readonly<Record<string, ReadonlyArray<readonly [ReadonlyArray<string>, unknown]>>>
}

const setIn = (target: Record<string, unknown>, path: ReadonlyArray<string>, value: unknown) => {
  let node = target
  for (const key of path.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== "object") node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}

/**
 * The text of a commented config: every section with its defaults, overridden by
 * `values`. The result is decoded once before it is returned, so a bad flag value is
 * reported now rather than at the next start.
 */
export const render = (plugins: ReadonlyArray<Plugin>, values: InitValues = {}): string => {
  const lines: Array<string> = [
    "# orch configuration, written by `orch config init`.",
    "# Every key is optional: what is shown is the default unless a flag set it.",
    "# Secrets: write ${ENV_VAR} and export the variable; orch substitutes it at start",
    "# and never logs the value. `orch config check` validates this file.",
    ""
  ]
  const core = Schema.decodeUnknownSync(Config.CoreSection)(values.core ?? {})
  lines.push("core:")
  emit(Config.CoreSection.ast, plain(Schema.encodeSync(Config.CoreSection)(core)), "  ", lines)
  for (const plugin of plugins) {
    const raw: Record<string, unknown> = {}
    for (const [path, value] of values.plugins?.[plugin.name] ?? []) setIn(raw, path, value)
    const decoded = Schema.decodeUnknownSync(plugin.config, { onExcessProperty: "error" })(raw)
    const encoded = plain(Schema.encodeSync(plugin.config)(decoded))
    lines.push("")
    lines.push(`# ${plugin.description}`)
    if (structOf(plugin.config.ast)) {
      lines.push(`${plugin.name}:`)
      emit(plugin.config.ast, encoded, "  ", lines)
    } else {
      lines.push(`${plugin.name}: {}`)
    }
  }
  return lines.join("\n") + "\n"
}

/**
 * What is wrong with `values`, every problem with its key path from the section name
 * (`["core", "http", "port"]`), so that `orch config init` can name the flag that set it.
 */
export const problems = (plugins: ReadonlyArray<Plugin>, values: InitValues = {}): ReadonlyArray<Issues.Problem> => {
  const check = (section: string, schema: Schema.Schema<any, any, never>, raw: unknown) =>
    Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(raw), {
      onLeft: (error) => Issues.problems(error.issue).map((problem) => ({ ...problem, path: [section, ...problem.path] })),
      onRight: () => []
    })
  return [
    ...check("core", Config.CoreSection, values.core ?? {}),
    ...plugins.flatMap((plugin) => {
      const raw: Record<string, unknown> = {}
      for (const [path, value] of values.plugins?.[plugin.name] ?? []) setIn(raw, path, value)
      return check(plugin.name, plugin.config as Schema.Schema<any, any, never>, raw)
    })
  ]
}

/** Parses a flag's text as a YAML scalar (so `3` is a number and `true` a boolean). */
export const parseScalar = (text: string): unknown => {
  try {
    const value = YAML.parse(text)
    return value === null || typeof value === "object" ? text : value
  } catch {
    return text
  }
}
