/**
 * Gatus-style conditions: `[STATUS] == 200`, `[BODY].status == ok`,
 * `[RESPONSE_TIME] < 500`, `len([BODY].items) > 0`, `[STATUS] == any(200, 204)`,
 * `[BODY] == pat(*ok*)`, `has([BODY].error) == false`, `[CERTIFICATE_EXPIRATION] > 48h`,
 * `[CONNECTED] == true`. Parsed when a file is read (a bad one is that file's error);
 * evaluated against a probe's outcome, a failure reading as Gatus' does:
 * `[STATUS] (500) == 200`.
 */
import { Either } from "effect"
import { jsonPath } from "./JsonPath.js"

export type Operator = "==" | "!=" | "<=" | ">=" | "<" | ">"

const placeholders = ["STATUS", "BODY", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION", "CONNECTED", "IP"] as const
export type Placeholder = typeof placeholders[number]

/** The left side: a placeholder, a path into the JSON body, maybe wrapped in `len()` or `has()`. */
export interface Operand {
  readonly placeholder: Placeholder
  readonly path: string | undefined
  readonly fn: "len" | "has" | undefined
}

/** The right side: a literal, `any(a, b)` or `pat(glob)`. */
export type Expected =
  | { readonly _tag: "Literal"; readonly value: string }
  | { readonly _tag: "Any"; readonly values: ReadonlyArray<string> }
  | { readonly _tag: "Pattern"; readonly glob: string }

export interface Condition {
  readonly text: string
  readonly left: Operand
  readonly operator: Operator
  readonly right: Expected
}

/** What a condition is judged against. */
export interface Observed {
  readonly connected: boolean
  readonly status?: number | undefined
  readonly body?: string | undefined
  readonly responseTimeMs?: number | undefined
  /** Milliseconds until the peer certificate expires. */
  readonly certificateExpiresInMs?: number | undefined
  readonly ip?: string | undefined
}

const conditionPattern = /^(.+?)\s*(==|!=|<=|>=|<|>)\s*(.*)$/
const operandPattern = /^(?:(len|has)\((.*)\)|(.*))$/
const placeholderPattern = /^\[([A-Z_]+)\](?:\.?(.+))?$/

const parseOperand = (text: string): Either.Either<Operand, string> => {
  const [, fn, inner, plain] = operandPattern.exec(text.trim())!
  const body = (inner ?? plain ?? "").trim()
  const match = placeholderPattern.exec(body)
  if (!match) return Either.left(`the left side must be a placeholder such as [STATUS] or [BODY].status, not ${JSON.stringify(body)}`)
  const placeholder = match[1] as Placeholder
  if (!placeholders.includes(placeholder)) {
    return Either.left(`unknown placeholder [${match[1]}] (known: ${placeholders.map((p) => `[${p}]`).join(", ")})`)
  }
  if (match[2] !== undefined && placeholder !== "BODY") return Either.left(`only [BODY] takes a path, not [${placeholder}]`)
  return Either.right({ placeholder, path: match[2], fn: fn as Operand["fn"] })
}

const parseExpected = (text: string): Either.Either<Expected, string> => {
  const trimmed = text.trim()
  const call = /^(any|pat)\((.*)\)$/.exec(trimmed)
  if (call?.[1] === "any") {
    const values = call[2]!.split(",").map((value) => value.trim()).filter((value) => value !== "")
    return values.length === 0 ? Either.left("any() needs at least one value") : Either.right({ _tag: "Any", values })
  }
  if (call?.[1] === "pat") return Either.right({ _tag: "Pattern", glob: call[2]!.trim() })
  if (trimmed === "") return Either.left("the right side is empty")
  return Either.right({ _tag: "Literal", value: trimmed.replace(/^"(.*)"$/, "$1") })
}

/** Parses one condition, or says what is wrong with it. */
export const parse = (text: string): Either.Either<Condition, string> => {
  const match = conditionPattern.exec(text.trim())
  if (!match) return Either.left(`${JSON.stringify(text)} is not a condition: write LEFT OPERATOR RIGHT, e.g. "[STATUS] == 200"`)
  return Either.gen(function*() {
    const left = yield* parseOperand(match[1]!)
    const right = yield* parseExpected(match[3]!)
    const operator = match[2] as Operator
    if (right._tag !== "Literal" && operator !== "==" && operator !== "!=") {
      return yield* Either.left(`${right._tag === "Any" ? "any()" : "pat()"} goes with == or !=`)
    }
    if (left.placeholder === "CERTIFICATE_EXPIRATION" && right._tag === "Literal" && durationMs(right.value) === undefined) {
      return yield* Either.left(`[CERTIFICATE_EXPIRATION] is compared with a duration such as 48h or 30d, not ${JSON.stringify(right.value)}`)
    }
    return { text: text.trim(), left, operator, right }
  }).pipe(Either.mapLeft((problem) => `condition ${JSON.stringify(text.trim())}: ${problem}`))
}

const durationPattern = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `500ms`, `30s`, `5m`, `48h`, `30d` in milliseconds; undefined when it is none of those. */
export const durationMs = (text: string): number | undefined => {
  const match = durationPattern.exec(text.trim())
  return match ? Number(match[1]) * unitMs[match[2] as keyof typeof unitMs] : undefined
}

const parseBody = (body: string | undefined): unknown => {
  if (body === undefined) return undefined
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

/** The left side's value: a string, number or boolean; undefined when absent. */
const resolve = (operand: Operand, observed: Observed, json: () => unknown): unknown => {
  let value: unknown
  switch (operand.placeholder) {
    case "STATUS": value = observed.status; break
    case "RESPONSE_TIME": value = observed.responseTimeMs === undefined ? undefined : Math.round(observed.responseTimeMs); break
    case "CERTIFICATE_EXPIRATION": value = observed.certificateExpiresInMs; break
    case "CONNECTED": value = observed.connected; break
    case "IP": value = observed.ip; break
    case "BODY": value = operand.path === undefined ? (operand.fn === "len" ? json() ?? observed.body : observed.body) : jsonPath(json(), operand.path)
  }
  if (operand.fn === "has") return value !== undefined && value !== null
  if (operand.fn === "len") {
    if (typeof value === "string" || Array.isArray(value)) return value.length
    if (value !== null && typeof value === "object") return Object.keys(value).length
    return undefined
  }
  return value
}

const globMatches = (glob: string, value: string) =>
  new RegExp(`^${glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s").test(value)

const compare = (actual: unknown, operator: Operator, expected: string, isDuration: boolean): boolean => {
  const wanted = isDuration ? durationMs(expected) : expected
  const a = typeof actual === "number" ? actual : typeof actual === "string" && actual.trim() !== "" ? Number(actual) : NaN
  const b = typeof wanted === "number" ? wanted : wanted !== undefined && wanted.trim() !== "" ? Number(wanted) : NaN
  if (!Number.isNaN(a) && !Number.isNaN(b)) {
    switch (operator) {
      case "==": return a === b
      case "!=": return a !== b
      case "<": return a < b
      case "<=": return a <= b
      case ">": return a > b
      case ">=": return a >= b
    }
  }
  const text = actual === undefined || actual === null ? "" : typeof actual === "object" ? JSON.stringify(actual) : String(actual)
  switch (operator) {
    case "==": return text === expected
    case "!=": return text !== expected
    default: return false // an order between things that are not numbers never holds
  }
}

const show = (value: unknown) =>
  value === undefined ? "absent" : typeof value === "string" ? (value.length > 60 ? value.slice(0, 57) + "..." : value) : JSON.stringify(value)

/** Judges `conditions`; the failed ones come back as Gatus shows them, with the value seen. */
export const evaluate = (conditions: ReadonlyArray<Condition>, observed: Observed): ReadonlyArray<string> => {
  let cached: { value: unknown } | undefined
  const json = () => (cached ??= { value: parseBody(observed.body) }).value
  const failed: Array<string> = []
  for (const condition of conditions) {
    const actual = resolve(condition.left, observed, json)
    const isDuration = condition.left.placeholder === "CERTIFICATE_EXPIRATION"
    const { right, operator } = condition
    let holds: boolean
    if (right._tag === "Literal") holds = compare(actual, operator, right.value, isDuration)
    else {
      const matches = right._tag === "Any"
        ? right.values.some((value) => compare(actual, "==", value, isDuration))
        : globMatches(right.glob, actual === undefined ? "" : String(actual))
      holds = operator === "==" ? matches : !matches
    }
    if (!holds) {
      const left = condition.text.slice(0, condition.text.search(/\s*(==|!=|<=|>=|<|>)/))
      const shown = isDuration && typeof actual === "number" ? `${Math.floor(actual / 3_600_000)}h` : show(actual)
      failed.push(`${left} (${shown}) ${condition.text.slice(left.length).trim()}`)
    }
  }
  return failed
}
