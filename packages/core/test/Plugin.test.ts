import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Plugin from "../src/Plugin.js"

const plugin = (name: string) => Plugin.make({ name, description: name, config: Schema.Struct({}) })

describe("Plugin", () => {
  it("select takes all, a list, and refuses an unknown name listing the valid ones", () => {
    const available = [plugin("alpha"), plugin("beta")]
    expect(Plugin.select(available, "all")).toMatchObject({ _tag: "Right", plugins: available })
    expect(Plugin.select(available, "beta")).toMatchObject({ _tag: "Right", plugins: [available[1]] })
    expect(Plugin.select(available, " alpha , beta ")).toMatchObject({ _tag: "Right", plugins: available })
    expect(Plugin.select(available, "alpha,gamma")).toEqual({
      _tag: "Left",
      message: `unknown plugin "gamma"; valid: all, alpha, beta`
    })
    expect(Plugin.select([], "x")).toEqual({ _tag: "Left", message: `unknown plugin "x"; valid: all` })
  })

  it("make refuses names that would clash with core", () => {
    expect(() => plugin("metrics")).toThrow(/must be/)
    expect(() => plugin("core")).toThrow(/must be/)
    expect(() => plugin("Bad Name")).toThrow(/must be/)
    expect(plugin("device-lab").name).toBe("device-lab")
  })
})
