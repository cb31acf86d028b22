import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Yaml from "../src/Yaml.js"

describe("Yaml.parse", () => {
  it("an alias to no anchor is an error at the alias's line, not a throw", () => {
    const parsed = Yaml.parse("a: 1\nb:\n  url: *x\n", "endpoints.yml")
    expect(Either.isLeft(parsed)).toBe(true)
    const error = Either.getLeft(parsed).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    expect([error.file, error.line, error.column]).toEqual(["endpoints.yml", 3, 8])
    expect(error.message).toContain("invalid YAML: Unresolved alias")
  })

  it("aliases that expand too far (a billion laughs) are an error", () => {
    const text = ["a: &a [x, x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]", "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]", ""].join("\n")
    const parsed = Yaml.parse(text, "f.yml")
    expect(Either.isLeft(parsed)).toBe(true)
    const error = Either.getLeft(parsed).pipe((o) => o._tag === "Some" ? o.value : undefined)!
    expect(error.message).toContain("invalid YAML")
    expect(error.line).toBe(2)
  })
})
