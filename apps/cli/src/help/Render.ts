/**
 * Help text for people: wrapped to the terminal (80 columns when piped, `COLUMNS`
 * honoured), bold headings only on a terminal without `NO_COLOR`, `orch <command>` in
 * usage lines, each option once, and the environment variables orch reads.
 */
import type { ArgInfo, CommandInfo, OptionInfo } from "./CommandInfo.js"

export interface Terminal {
  readonly width: number
  readonly color: boolean
}

/** The width and colour help is written with, from the environment and stdout. */
export const terminal = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  stdout: { readonly isTTY?: boolean; readonly columns?: number } = process.stdout
): Terminal => {
  const columns = Number.parseInt(env.COLUMNS ?? "", 10)
  const width = Number.isInteger(columns) && columns > 0
    ? columns
    : stdout.isTTY && stdout.columns
    ? Math.min(stdout.columns, 100)
    : 80
  const color = stdout.isTTY === true && (env.NO_COLOR ?? "") === "" && env.TERM !== "dumb"
  return { width: Math.max(width, 40), color }
}

/** The options every command that reads the config takes; listed apart from a command's own. */
export const commonOptionNames = new Set(["--config", "--data-dir", "--log-level", "--log-format", "--log-file", "--set"])

/** Environment variables orch reads, for the root help. */
export const environment: ReadonlyArray<readonly [string, string]> = [
  ["ORCH_CONFIG", "config file, as --config (default ./orch.yaml when present)"],
  ["ORCH_DATA_DIR", "folder for the database and state, as --data-dir"],
  ["ORCH_LOG_LEVEL", "least severe level logged, as --log-level"],
  ["ORCH_URL", "the daemon that commands talk to, as --url (default: core.http of the config)"],
  ["ORCH_ALLOCATOR_HOLDER", "holder name of allocator leases, as --holder"],
  ["NO_COLOR", "when set, no colour in help and logs"],
  ["COLUMNS", "width help is wrapped to (default: the terminal's, 80 when piped)"]
]

/** Words of `text` in lines of at most `width` (a longer word gets a line of its own). */
export const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  for (const paragraph of text.split("\n")) {
    let line = ""
    for (const word of paragraph.split(/\s+/).filter((w) => w !== "")) {
      if (line === "") line = word
      else if (line.length + 1 + word.length <= width) line += ` ${word}`
      else {
        lines.push(line)
        line = word
      }
    }
    lines.push(line)
  }
  return lines
}

/** `label` in a column of `column` characters, `text` wrapped beside it (or below, when the label is wider). */
const twoColumns = (indent: number, column: number, width: number, label: string, text: string): Array<string> => {
  const pad = " ".repeat(indent)
  const textWidth = Math.max(width - indent - column, 20)
  const lines = wrap(text, textWidth)
  if (label.length + 2 > column) {
    return [`${pad}${label}`, ...(text === "" ? [] : lines.map((line) => `${pad}${" ".repeat(column)}${line}`))]
  }
  return lines.map((line, i) => `${pad}${i === 0 ? label.padEnd(column) : " ".repeat(column)}${line}`.trimEnd())
}

const placeholder = (option: OptionInfo): string => {
  if (option.kind === "bool") return ""
  if (option.keyValue) return " <key=value>"
  if (option.placeholder) return ` <${option.placeholder}>`
  if (option.kind === "choice") {
    const choices = option.choices.join("|")
    return choices.length <= 24 ? ` <${choices}>` : " <value>"
  }
  return ` <${option.kind === "integer" ? "n" : option.kind === "float" ? "number" : option.kind}>`
}

const optionLabel = (option: OptionInfo): string => {
  const [long, ...aliases] = option.names
  return aliases.length > 0 ? `${aliases.join(", ")}, ${long}${placeholder(option)}` : `    ${long}${placeholder(option)}`
}

const optionText = (option: OptionInfo): string => {
  const notes: Array<string> = []
  const says = (word: string) => option.description.toLowerCase().includes(word.toLowerCase())
  if (option.kind === "choice" && placeholder(option) === " <value>") notes.push(`one of ${option.choices.join(", ")}`)
  if (option.fallback !== undefined && !says("default")) notes.push(`default ${option.fallback}`)
  if (option.env && !says(option.env)) notes.push(`env ${option.env}`)
  if (option.repeatable && !says("repeatable")) notes.push("repeatable")
  if (notes.length === 0) return option.description
  // "(default 50)" joins a description's own closing parenthesis: "(default info; env X; …)"
  return option.description.endsWith(")")
    ? `${option.description.slice(0, -1)}; ${notes.join("; ")})`
    : `${option.description} (${notes.join("; ")})`.trim()
}

const argLabel = (arg: ArgInfo): string => {
  const name = `<${arg.name}>${arg.variadic ? "..." : ""}`
  return arg.optional ? `[${name}]` : name
}

const firstLine = (text: string): string => text.split("\n")[0] ?? ""

/** The help of the command at `path` (names below `orch`). */
export const render = (
  command: CommandInfo,
  path: ReadonlyArray<string>,
  terminal: Terminal,
  version: string
): string => {
  const bold = (text: string) => (terminal.color ? `\x1b[1m${text}\x1b[0m` : text)
  const heading = (text: string) => bold(`${text}:`)
  const { width } = terminal
  const name = ["orch", ...path].join(" ")
  const out: Array<string> = []
  const isRoot = path.length === 0

  if (isRoot) out.push(...wrap(`orch ${version}: ${command.description.replace(/^orch:\s*/, "")}`, width), "")
  if (command.children.length > 0) {
    out.push(`${heading("Usage")} ${name} <command>`, "")
    if (!isRoot && command.description) out.push(...wrap(command.description, width), "")
    out.push(heading("Commands"))
    const column = Math.min(Math.max(...command.children.map((child) => child.name.length)) + 3, 20)
    for (const child of command.children) out.push(...twoColumns(2, column, width, child.name, firstLine(child.description)))
  } else {
    const usage = [name, command.options.length > 0 ? "[options]" : "", ...command.args.map(argLabel)].filter((part) => part !== "")
    out.push(...wrap(`${heading("Usage")} ${usage.join(" ")}`, width), "")
    if (command.description) out.push(...wrap(command.description, width))
    if (command.args.length > 0) {
      out.push("", heading("Arguments"))
      const column = Math.min(Math.max(...command.args.map((arg) => argLabel(arg).length)) + 3, 24)
      for (const arg of command.args) out.push(...twoColumns(2, column, width, argLabel(arg), arg.description))
    }
    const seen = new Set<string>()
    const once = command.options.filter((option) => !seen.has(option.names[0]!) && seen.add(option.names[0]!))
    const own = once.filter((option) => !commonOptionNames.has(option.names[0]!))
    const common = once.filter((option) => commonOptionNames.has(option.names[0]!))
    const labels = once.map(optionLabel)
    const column = Math.min(Math.max(0, ...labels.map((label) => label.length)) + 3, 32)
    for (const [title, options] of [["Options", own], ["Common options", common]] as const) {
      if (options.length === 0) continue
      out.push("", heading(title))
      for (const option of options) out.push(...twoColumns(2, column, width, optionLabel(option), optionText(option)))
    }
  }
  out.push("")
  if (isRoot) {
    out.push(heading("Environment"))
    const column = Math.max(...environment.map(([variable]) => variable.length)) + 3
    for (const [variable, text] of environment) out.push(...twoColumns(2, column, width, variable, text))
    out.push("")
    out.push(...wrap("`orch help <command>` (or `orch <command> --help`) shows a command's options; `orch --version` prints the version; `orch --completions bash|zsh|fish` prints a shell completion script.", width))
  } else if (command.children.length > 0) {
    out.push(...wrap(`\`orch help ${path.join(" ")} <command>\` shows a command's options.`, width))
  } else {
    out.push(...wrap("Exit status: 0 done, 1 failed, 2 bad usage or configuration.", width))
  }
  return out.join("\n") + "\n"
}
