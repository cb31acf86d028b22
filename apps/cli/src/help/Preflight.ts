/**
 * A look at the arguments before @effect/cli parses them: help requests are answered
 * here (`orch help …`, `--help`, a group without its subcommand), and the mistakes a
 * person makes most (an unknown command or flag, a flag without its value, a value that
 * is not a number or not one of the choices) get one line naming the command and the
 * flag, with a did-you-mean. Whatever passes is parsed by @effect/cli as before.
 */
import * as Suggest from "@orch/core/Suggest"
import type { CommandInfo, OptionInfo, ValueKind } from "./CommandInfo.js"
import { find } from "./CommandInfo.js"

export type Preflight =
  /** Print `path`'s help and exit 0. */
  | { readonly _tag: "Help"; readonly path: ReadonlyArray<string> }
  /** Print `orch: message` and exit 2. */
  | { readonly _tag: "Fail"; readonly message: string }
  /** Parse `args` (with --log-level taken out, as `logLevel`). */
  | {
    readonly _tag: "Run"
    readonly path: ReadonlyArray<string>
    readonly args: ReadonlyArray<string>
    readonly logLevel: string | undefined
  }

/** @effect/cli's own flags that orch keeps (its interactive --wizard is refused as unknown). */
const builtIns = new Set(["--help", "-h", "--version", "--completions"])

const commandName = (path: ReadonlyArray<string>) => ["orch", ...path].join(" ")

const seeHelp = (path: ReadonlyArray<string>) => ` (see \`orch help${path.length > 0 ? ` ${path.join(" ")}` : ""}\`)`

const kindName: Record<ValueKind, string> = {
  bool: "true or false",
  text: "a text",
  integer: "an integer",
  float: "a number",
  choice: "a choice",
  path: "a path",
  secret: "a secret",
  date: "a date"
}

/** Why `value` does not fit `option`, or undefined when it does (or cannot be judged here). */
const badValue = (option: OptionInfo | { readonly kind: ValueKind; readonly choices: ReadonlyArray<string> }, value: string): string | undefined => {
  switch (option.kind) {
    case "integer":
      return /^[+-]?\d+$/.test(value) ? undefined : `'${value}' is not an integer`
    case "float":
      return value.trim() !== "" && Number.isFinite(Number(value)) ? undefined : `'${value}' is not a number`
    case "choice":
      return option.choices.some((choice) => choice.toLowerCase() === value.toLowerCase())
        ? undefined
        : `'${value}' is not one of ${option.choices.join(", ")}${Suggest.didYouMean(value, option.choices)}`
    default:
      return undefined
  }
}

/** Looks at `args` (what follows `orch`) against the command tree `root`. */
export const preflight = (root: CommandInfo, args: ReadonlyArray<string>): Preflight => {
  const dashes = args.indexOf("--")
  const head = dashes === -1 ? [...args] : args.slice(0, dashes)
  const tail = dashes === -1 ? [] : args.slice(dashes)

  // the command path: leading words that name subcommands
  let command = root
  const path: Array<string> = []
  let index = 0
  while (command.children.length > 0 && index < head.length) {
    const word = head[index]!
    if (word.startsWith("-")) {
      if (builtIns.has(word)) return word === "--help" || word === "-h" ? { _tag: "Help", path } : { _tag: "Run", path, args, logLevel: undefined }
      return { _tag: "Fail", message: `${commandName(path)}: unknown option ${word}; give a command first${seeHelp(path)}` }
    }
    if (word === "help" && path.length === 0) {
      const words = head.slice(index + 1).filter((w) => !w.startsWith("-"))
      const found = find(root, words)
      if (found.unknown !== undefined) return unknownCommand(found.command, found.path, found.unknown)
      return { _tag: "Help", path: found.path }
    }
    const child = command.children.find((candidate) => candidate.name === word)
    if (!child) return unknownCommand(command, path, word)
    command = child
    path.push(word)
    index++
  }
  const rest = head.slice(index)
  if (rest.includes("--help") || rest.includes("-h")) return { _tag: "Help", path }
  if (command.children.length > 0) return { _tag: "Help", path }

  // the command's own flags and arguments
  const byName = new Map<string, OptionInfo>()
  for (const option of command.options) for (const name of option.names) byName.set(name, option)
  const known = [...byName.keys()].filter((name) => name.startsWith("--"))
  const kept: Array<string> = []
  const positional: Array<string> = []
  let logLevel: string | undefined
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) {
      positional.push(token)
      kept.push(token)
      continue
    }
    const eq = token.indexOf("=")
    const name = token.startsWith("--") && eq > 0 ? token.slice(0, eq) : token
    const option = byName.get(name)
    if (!option) {
      if (builtIns.has(name)) {
        kept.push(token)
        continue
      }
      // short flags may be clustered (-abc): @effect/cli judges those
      if (!name.startsWith("--")) {
        kept.push(token)
        continue
      }
      const suggestion = Suggest.didYouMean(name.slice(2), known.map((k) => k.slice(2)), (k) => `--${k}`)
      return { _tag: "Fail", message: `${commandName(path)}: unknown option ${name}${suggestion || seeHelp(path)}` }
    }
    if (option.kind === "bool") {
      kept.push(token)
      continue
    }
    let value: string | undefined
    if (name !== token) value = token.slice(eq + 1)
    else {
      const next = rest[i + 1]
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        return { _tag: "Fail", message: `${commandName(path)}: ${name} needs a value (${option.kind === "choice" ? `one of ${option.choices.join(", ")}` : kindName[option.kind]})` }
      }
      value = next
      i++
    }
    const problem = option.keyValue && !value.includes("=") ? `'${value}' is not key=value` : badValue(option, value)
    if (problem) return { _tag: "Fail", message: `${commandName(path)}: ${name}: ${problem}` }
    // @effect/cli has a built-in --log-level that would swallow orch's: it travels apart
    if (option.names[0] === "--log-level") logLevel = value
    else kept.push(...(name === token ? [name, value] : [token]))
    // key=value options take every following key=value word
    if (option.keyValue) {
      while (rest[i + 1] !== undefined && !rest[i + 1]!.startsWith("-") && rest[i + 1]!.includes("=")) kept.push(rest[++i]!)
    }
  }
  const fixed = command.args.filter((arg) => !arg.variadic)
  for (const [i, arg] of fixed.entries()) {
    const value = positional[i]
    const problem = value === undefined ? undefined : badValue({ kind: arg.kind, choices: [] }, value)
    if (problem) return { _tag: "Fail", message: `${commandName(path)}: <${arg.name}>: ${problem}` }
  }
  return { _tag: "Run", path, args: [...path, ...kept, ...tail], logLevel }
}

const unknownCommand = (command: CommandInfo, path: ReadonlyArray<string>, word: string): Preflight => {
  const names = command.children.map((child) => child.name)
  const suggestion = Suggest.didYouMean(word, names)
  return {
    _tag: "Fail",
    message: `${commandName(path)}: unknown command '${word}'${suggestion || `; the commands are ${names.join(", ")}`}`
  }
}
