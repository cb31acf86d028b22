import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Config from "../src/Config.js"
import * as ConfigInit from "../src/ConfigInit.js"
import * as Plugin from "../src/Plugin.js"
import * as Suggest from "../src/Suggest.js"
import * as Yaml from "../src/Yaml.js"
import { tempDir } from "@orch/testing"

const demo = Plugin.make({
  name: "demo",
  description: "A plugin for config problem tests",
  config: Schema.Struct({
    mode: Schema.optionalWith(Schema.Literal("fast", "safe"), { default: () => "safe" as const }),
    inventory: Schema.optional(Schema.String).annotations({ description: "A file", [Config.ExistingPathId]: "file" }),
    spool: Schema.optionalWith(Schema.String, { default: () => "./no-such-spool" }).annotations({
      [Config.ExistingPathId]: "folder"
    }),
    limits: Schema.optionalWith(
      Schema.Struct({ queue: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }) }),
      { default: () => ({ queue: 5 }) }
    )
  })
})

const write = (text: string) => {
  const file = path.join(tempDir(), "orch.yaml")
  fs.writeFileSync(file, text)
  return file
}

describe("config problems", () => {
  it.effect("every problem is listed, in line order, each with its line and key", () =>
    Effect.gen(function*() {
      const file = write([
        "core:",
        "  htp:",
        "    port: 1",
        "  log:",
        "    level: loud",
        "demo:",
        "  mode: quick",
        "  limits:",
        "    queue: -2",
        ""
      ].join("\n"))
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error.problems?.map((problem) => [problem.line, problem.key])).toEqual([
        [2, "core.htp"],
        [5, "core.log.level"],
        [7, "demo.mode"],
        [9, "demo.limits.queue"]
      ])
      const text = String(error)
      expect(text.split("\n")).toHaveLength(5)
      expect(text).toContain("did you mean core.http?")
      expect(text).toContain("must be one of trace, debug, info, warning, error, none (got \"loud\")")
      expect(text).toContain("must be one of fast, safe (got \"quick\")")
      expect(text).not.toContain("Expected undefined")
      expect(text).not.toContain("more problem")
    }))

  it.effect("a bad --set is blamed on the flag, not on a line of the file", () =>
    Effect.gen(function*() {
      const file = write("core:\n  log:\n    level: info\n")
      const error = yield* Effect.flip(Config.load([demo], { configFile: file, set: ["core.log.level=bogus"] }, {}))
      expect(error.flag).toBe("--set core.log.level=bogus")
      expect(error.line).toBeUndefined()
      expect(String(error)).toBe(
        "--set core.log.level=bogus at core.log.level: must be one of trace, debug, info, warning, error, none (got \"bogus\")"
      )
      const unknown = yield* Effect.flip(Config.load([demo], { configFile: file, set: ["core.htp.port=1"] }, {}))
      expect(String(unknown)).toBe("--set core.htp.port=1 at core.htp: unknown key; did you mean core.http?")
      const flag = yield* Effect.flip(Config.load([demo], { configFile: file, httpPort: 70000 }, {}))
      expect(flag.flag).toBe("--http-port 70000")
    }))

  it.effect("a missing file or folder named in the config is an error when checked; a missing default is not", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const file = write(`demo:\n  inventory: ${dir}/devices.yaml\n`)
      const error = yield* Effect.flip(Config.load([demo], { configFile: file, checkPaths: true }, {}))
      expect(error.key).toBe("demo.inventory")
      expect(error.line).toBe(2)
      expect(error.message).toBe(`file not found: ${dir}/devices.yaml`)
      // without checkPaths (every command but run and config check) it loads
      yield* Config.load([demo], { configFile: file }, {})
      fs.writeFileSync(path.join(dir, "devices.yaml"), "devices: []\n")
      const config = yield* Config.load([demo], { configFile: file, checkPaths: true }, {})
      expect(config.plugins.demo).toMatchObject({ inventory: `${dir}/devices.yaml`, spool: "./no-such-spool" })
      const folder = yield* Effect.flip(Config.load([demo], { configFile: file, checkPaths: true, set: [`demo.spool=${dir}/devices.yaml`] }, {}))
      expect(String(folder)).toBe(`--set demo.spool=${dir}/devices.yaml at demo.spool: is not a folder: ${dir}/devices.yaml`)
    }))

  it("config init's values are checked with their key paths", () => {
    const problems = ConfigInit.problems([demo], { core: { http: { port: 99999 } }, plugins: { demo: [[["mode"], "quick"]] } })
    expect(problems).toEqual([
      { path: ["core", "http", "port"], message: "must be a port number from 0 to 65535" },
      { path: ["demo", "mode"], message: "must be one of fast, safe (got \"quick\")" }
    ])
  })

  it("suggests the closest name only when it is a likely typo", () => {
    expect(Suggest.closest("htp", ["http", "log", "dataDir"])).toBe("http")
    expect(Suggest.closest("plugns", ["plugins", "http-port"])).toBe("plugins")
    expect(Suggest.closest("stat", ["state", "kind"])).toBe("state")
    expect(Suggest.closest("zzz", ["http", "log"])).toBeUndefined()
  })

  it("a key given twice in one map is an error at the second, at any depth; the same key in two maps is not", () => {
    const twice = Yaml.parse("core:\n  http:\n    port: 1\n    host: a\n    port: 2\n", "orch.yaml")
    expect(twice._tag).toBe("Left")
    if (twice._tag === "Left") {
      expect([twice.left.line, twice.left.column]).toEqual([5, 5])
      expect(twice.left.message).toBe('invalid YAML: Map keys must be unique ("port" again)')
    }
    expect(Yaml.parse("a:\n  x: 1\nb:\n  x: 2\n", "f.yml")._tag).toBe("Right")
  })
})
