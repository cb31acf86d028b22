/**
 * The command tree as plain data, read from @effect/cli's descriptors: names,
 * descriptions, options (with their types, defaults and environment variables) and
 * arguments. orch renders its own help from this, and checks flags against it, because
 * @effect/cli's help has no width, no NO_COLOR and lists every built-in option.
 * The descriptors' shapes are @effect/cli's internals (pinned at 0.77).
 */
import type * as Command from "@effect/cli/Command"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import { Option } from "effect"

export type ValueKind = "bool" | "text" | "integer" | "float" | "choice" | "path" | "secret" | "date"

export interface OptionInfo {
  /** `--name`, then aliases (`-o`). */
  readonly names: ReadonlyArray<string>
  readonly kind: ValueKind
  readonly placeholder: string | undefined
  readonly choices: ReadonlyArray<string>
  readonly description: string
  readonly optional: boolean
  readonly fallback: string | undefined
  readonly repeatable: boolean
  readonly keyValue: boolean
  readonly env: string | undefined
}

export interface ArgInfo {
  readonly name: string
  readonly kind: ValueKind
  readonly description: string
  readonly optional: boolean
  readonly variadic: boolean
}

export interface CommandInfo {
  readonly name: string
  readonly description: string
  readonly options: ReadonlyArray<OptionInfo>
  readonly args: ReadonlyArray<ArgInfo>
  readonly children: ReadonlyArray<CommandInfo>
}

type Node = { readonly _tag: string; readonly [key: string]: any }

/** A span or help document as plain text (paragraphs on their own lines). */
export const docText = (doc: HelpDoc.HelpDoc | Span.Span | undefined): string => {
  const node = doc as Node | undefined
  if (!node) return ""
  switch (node._tag) {
    case "Empty":
      return ""
    case "Sequence":
      return isDoc(node)
        ? [docText(node.left), docText(node.right)].filter((part) => part !== "").join("\n")
        : docText(node.left) + docText(node.right)
    case "DescriptionList":
      return (node.definitions as Array<[Span.Span, HelpDoc.HelpDoc]>)
        .map(([span, body]) => `${docText(span)}: ${docText(body)}`)
        .join("\n")
    case "Enumeration":
      return (node.elements as Array<HelpDoc.HelpDoc>).map(docText).join("\n")
    default:
      return typeof node.value === "string" ? node.value : docText(node.value)
  }
}

const docTags = new Set(["Empty", "Header", "Paragraph", "DescriptionList", "Enumeration"])
const isDoc = (node: Node): boolean => docTags.has(node._tag) || (node._tag === "Sequence" && isDoc(node.left))

const kindOf = (primitive: Node): ValueKind => {
  switch (primitive._tag) {
    case "Bool":
      return "bool"
    case "Integer":
      return "integer"
    case "Float":
      return "float"
    case "Choice":
      return "choice"
    case "Path":
      return "path"
    case "Secret":
    case "Redacted":
      return "secret"
    case "DateTime":
      return "date"
    default:
      return "text"
  }
}

const shown = (value: unknown): string | undefined => {
  if (Option.isOption(value)) return Option.isSome(value) ? shown(value.value) : undefined
  if (value === undefined || value === false || (Array.isArray(value) && value.length === 0)) return undefined
  return typeof value === "object" ? JSON.stringify(value) : String(value)
}

interface OptionContext {
  readonly optional: boolean
  readonly fallback: string | undefined
  readonly repeatable: boolean
  readonly keyValue: boolean
  readonly env: string | undefined
}

const walkOptions = (node: Node, context: OptionContext): Array<OptionInfo> => {
  switch (node._tag) {
    case "Single": {
      const primitive = node.primitiveType as Node
      const aliases = (node.aliases as ReadonlyArray<string>).map((alias) => (alias.length === 1 ? `-${alias}` : `--${alias}`))
      return [{
        names: [node.fullName as string, ...aliases],
        kind: kindOf(primitive),
        placeholder: Option.getOrUndefined(node.pseudoName as Option.Option<string>),
        choices: primitive._tag === "Choice" ? (primitive.alternatives as Array<[string, unknown]>).map(([name]) => name) : [],
        description: docText(node.description),
        ...context
      }]
    }
    case "Map":
      return walkOptions(node.options, context)
    case "Both":
    case "OrElse":
      return [...walkOptions(node.left, context), ...walkOptions(node.right, context)]
    case "WithDefault":
      return walkOptions(node.options, { ...context, optional: true, fallback: context.fallback ?? shown(node.fallback) })
    case "WithFallback": {
      const config = node.effect as Node
      const env = config._tag === "Nested" && typeof config.name === "string" ? config.name : undefined
      return walkOptions(node.options, { ...context, env: context.env ?? env })
    }
    case "Variadic":
      return walkOptions(node.argumentOption, { ...context, repeatable: true })
    case "KeyValueMap":
      return walkOptions(node.argumentOption, { ...context, repeatable: true, keyValue: true })
    default:
      return []
  }
}

const walkArgs = (node: Node, optional: boolean, variadic: boolean): Array<ArgInfo> => {
  switch (node._tag) {
    case "Single":
      return [{
        name: Option.getOrElse(node.pseudoName as Option.Option<string>, () => node.name as string),
        kind: kindOf(node.primitiveType),
        description: docText(node.description),
        optional,
        variadic
      }]
    case "Map":
      return walkArgs(node.args, optional, variadic)
    case "Both":
      return [...walkArgs(node.left, optional, variadic), ...walkArgs(node.right, optional, variadic)]
    case "Variadic":
      return walkArgs(node.args, optional || Option.getOrElse(node.min as Option.Option<number>, () => 0) === 0, true)
    case "WithDefault":
    case "WithFallbackConfig":
      return walkArgs(node.args, true, variadic)
    default:
      return []
  }
}

const describeNode = (node: Node): CommandInfo => {
  switch (node._tag) {
    case "Standard":
      return {
        name: node.name,
        description: docText(node.description),
        options: walkOptions(node.options, { optional: false, fallback: undefined, repeatable: false, keyValue: false, env: undefined }),
        args: walkArgs(node.args, false, false),
        children: []
      }
    case "GetUserInput":
      return { name: node.name, description: docText(node.description), options: [], args: [], children: [] }
    case "Map":
      return describeNode(node.command)
    case "Subcommands":
      return { ...describeNode(node.parent), children: (node.children as Array<Node>).map(describeNode) }
    default:
      throw new Error(`unknown command descriptor ${node._tag}`)
  }
}

/** The command tree of `command`, as plain data. */
export const describe = (command: Command.Command<any, any, any, any>): CommandInfo =>
  describeNode(command.descriptor as unknown as Node)

/** The command at `path` (names below the root), or the longest prefix found and the word that did not match. */
export const find = (
  root: CommandInfo,
  path: ReadonlyArray<string>
): { readonly command: CommandInfo; readonly path: ReadonlyArray<string>; readonly unknown: string | undefined } => {
  let command = root
  const found: Array<string> = []
  for (const word of path) {
    const child = command.children.find((candidate) => candidate.name === word)
    if (!child) return { command, path: found, unknown: word }
    command = child
    found.push(word)
  }
  return { command, path: found, unknown: undefined }
}
