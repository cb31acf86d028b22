/**
 * A schema failure as a list of problems a person can act on: one per key, the allowed
 * values of a literal ("must be one of …"), a did-you-mean for an unknown key, and no
 * "Expected undefined" noise from optional keys.
 */
import { ParseResult, SchemaAST } from "effect"
import * as Suggest from "../Suggest.js"

export interface Problem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The literal values a union allows, when it is made only of literals (and undefined). */
const literalsOf = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.LiteralValue> | undefined => {
  switch (ast._tag) {
    case "Literal":
      return [ast.literal]
    case "UndefinedKeyword":
      return []
    case "Union": {
      const parts = ast.types.map(literalsOf)
      return parts.every((part) => part !== undefined) ? parts.flat() : undefined
    }
    case "Refinement":
    case "Suspend":
      return undefined
    default:
      return undefined
  }
}

const oneOf = (literals: ReadonlyArray<SchemaAST.LiteralValue>, actual: unknown): string =>
  `must be ${literals.length === 1 ? "" : "one of "}${literals.map((literal) => String(literal)).join(", ")} (got ${show(actual)})`

/** The keys a struct declares (for an unknown key's did-you-mean). */
const keysOf = (ast: SchemaAST.AST | undefined): ReadonlyArray<string> =>
  ast && SchemaAST.isTypeLiteral(ast)
    ? ast.propertySignatures.flatMap((signature) => (typeof signature.name === "string" ? [signature.name] : []))
    : []

const isUndefinedMismatch = (issue: ParseResult.ParseIssue) =>
  issue._tag === "Type" && issue.ast._tag === "UndefinedKeyword"

const leaf = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>): Array<Problem> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map((found) => ({ path: [...path, ...found.path], message: found.message }))

const walk = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>, struct: SchemaAST.AST | undefined): Array<Problem> => {
  switch (issue._tag) {
    case "Pointer":
      return walk(issue.issue, [...path, ...(Array.isArray(issue.path) ? issue.path : [issue.path])], struct)
    case "Unexpected": {
      const key = path[path.length - 1]
      const prefix = path.slice(0, -1).map(String).join(".")
      const suggestion = typeof key === "string"
        ? Suggest.didYouMean(key, keysOf(struct), (name) => (prefix ? `${prefix}.${name}` : name))
        : ""
      const known = keysOf(struct)
      return [{
        path,
        message: suggestion
          ? `unknown key${suggestion}`
          : `unknown key${known.length > 0 ? ` (known here: ${known.join(", ")})` : ""}`
      }]
    }
    case "Missing":
      return [{ path, message: "is required" }]
    case "Composite": {
      const literals = SchemaAST.isUnion(issue.ast) ? literalsOf(issue.ast) : undefined
      if (literals && literals.length > 0) return [{ path, message: oneOf(literals, issue.actual) }]
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
      const kept = SchemaAST.isUnion(issue.ast) ? issues.filter((sub) => !isUndefinedMismatch(sub)) : issues
      const next = SchemaAST.isTypeLiteral(issue.ast) ? issue.ast : struct
      return (kept.length > 0 ? kept : issues).flatMap((sub) => walk(sub, path, next))
    }
    case "Refinement":
      return issue.kind === "From" ? walk(issue.issue, path, struct) : leaf(issue, path)
    case "Transformation":
      return issue.kind === "Transformation" ? leaf(issue, path) : walk(issue.issue, path, struct)
    case "Type":
      return issue.ast._tag === "Literal" && issue.message === undefined
        ? [{ path, message: oneOf([issue.ast.literal], issue.actual) }]
        : leaf(issue, path)
    default:
      return leaf(issue, path)
  }
}

/** Every problem of a failed decode, one per key (the first message of a key wins). */
export const problems = (issue: ParseResult.ParseIssue): ReadonlyArray<Problem> => {
  const seen = new Set<string>()
  return walk(issue, [], undefined).filter((problem) => {
    const key = problem.path.map(String).join("\u0000")
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
