import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Config from "../src/Config.js"
import * as ConfigInit from "../src/ConfigInit.js"
import * as Plugin from "../src/Plugin.js"
import { tempDir } from "@orch/testing"

const demo = Plugin.make({
  name: "demo",
  description: "A plugin for config tests",
  config: Schema.Struct({
    server: Schema.optionalWith(Schema.String, { default: () => "http://127.0.0.1:8080" }).annotations({
      description: "Where the server is"
    }),
    apiKey: Schema.optional(Schema.Redacted(Schema.String)).annotations({ description: "The key" }),
    limits: Schema.optionalWith(
      Schema.Struct({ queue: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 }) }),
      { default: () => ({ queue: 5 }) }
    ),
    oldKey: Config.retiredKey("demo.oldKey has moved to demo.server")
  })
})

const write = (text: string) => {
  const file = path.join(tempDir(), "orch.yaml")
  fs.writeFileSync(file, text)
  return file
}

describe("Config", () => {
  it.effect("an absent file gives every default", () =>
    Effect.gen(function*() {
      const config = yield* Config.load([demo], {}, {})
      expect(config.core.http).toEqual({ host: "127.0.0.1", port: 7600, maxBodyBytes: 1024 * 1024, allowedHosts: [] })
      expect(config.core.auth).toEqual({ tokens: [] })
      expect(config.plugins.demo).toEqual({ server: "http://127.0.0.1:8080", limits: { queue: 5 } })
      expect(config.database.location).toBe(path.resolve(".orch/orch.sqlite"))
    }))

  it.effect("a wrong type names the file, the line and the key", () =>
    Effect.gen(function*() {
      const file = write("core:\n  http:\n    port: 7600\ndemo:\n  limits:\n    queue: many\n")
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error._tag).toBe("ConfigError")
      expect(error.file).toBe(file)
      expect(error.line).toBe(6)
      expect(error.key).toBe("demo.limits.queue")
      expect(String(error)).toContain(`${file}:6:`)
    }))

  it.effect("an unknown key is an error at its line", () =>
    Effect.gen(function*() {
      const file = write("core:\n  dataDir: ./x\n  htpp:\n    port: 1\n")
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error.line).toBe(3)
      expect(error.key).toBe("core.htpp")
      expect(error.message).toContain("unknown key")
    }))

  it.effect("an unknown section is an error", () =>
    Effect.gen(function*() {
      const file = write("core: {}\nallocatr:\n  x: 1\n")
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error.key).toBe("allocatr")
      expect(error.line).toBe(2)
    }))

  it.effect("malformed YAML says where", () =>
    Effect.gen(function*() {
      const file = write("core:\n  http: [1, 2\n  log: {}\n")
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error.message).toContain("invalid YAML")
      expect(error.line).toBeGreaterThan(1)
    }))

  it.effect("a named file that does not exist is an error naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Config.load([demo], { configFile: "/nonexistent/orch.yaml" }, {}))
      expect(String(error)).toBe("/nonexistent/orch.yaml: file not found")
    }))

  it.effect("substitutes ${ENV}, with defaults, and refuses an unset variable", () =>
    Effect.gen(function*() {
      const file = write("demo:\n  server: ${SERVER:-http://default}\n  apiKey: ${DEMO_KEY}\n")
      const config = yield* Config.load([demo], { configFile: file }, { DEMO_KEY: "s3cret-key" })
      const section = config.plugins.demo as { server: string; apiKey: Redacted.Redacted<string> }
      expect(section.server).toBe("http://default")
      expect(Redacted.value(section.apiKey)).toBe("s3cret-key")
      expect(config.secrets).toEqual(["s3cret-key"])
      const error = yield* Effect.flip(Config.load([demo], { configFile: file }, {}))
      expect(error.message).toContain("DEMO_KEY is not set")
      expect(error.line).toBe(3)
      expect(error.key).toBe("demo.apiKey")
    }))

  it.effect("flags override the file, and --set reaches any key", () =>
    Effect.gen(function*() {
      const file = write("core:\n  http:\n    port: 7000\n  log:\n    level: debug\n")
      const config = yield* Config.load([demo], {
        configFile: file,
        httpPort: 0,
        dataDir: "/tmp/orch-data",
        set: ["demo.limits.queue=9", "core.log.format=json"]
      }, {})
      expect(config.core.http.port).toBe(0)
      expect(config.core.log).toEqual({ level: "debug", format: "json" })
      expect(config.database.location).toBe("/tmp/orch-data/orch.sqlite")
      expect((config.plugins.demo as any).limits.queue).toBe(9)
    }))

  it.effect("core.database.url, or ORCH_DATABASE_URL, selects PostgreSQL; its password is a secret and never its location", () =>
    Effect.gen(function*() {
      const file = write("core:\n  database:\n    url: postgres://orch:pg-secret-1@db.example:5433/orch?sslmode=require\n")
      const config = yield* Config.load([demo], { configFile: file }, {})
      expect(config.database.dialect).toBe("pg")
      expect(config.database.location).toBe("postgres://orch@db.example:5433/orch")
      expect(config.secrets).toContain("pg-secret-1")
      const fromEnv = yield* Config.load([demo], {}, { ORCH_DATABASE_URL: "postgresql://u:env-secret@127.0.0.1/test" })
      expect(fromEnv.database).toMatchObject({ dialect: "pg", location: "postgresql://u@127.0.0.1/test" })
      expect(Redacted.value((fromEnv.database as { url: Redacted.Redacted<string> }).url)).toBe("postgresql://u:env-secret@127.0.0.1/test")
    }))

  it.effect("refuses core.database.file and core.database.url together, naming both, and a URL that is not PostgreSQL's", () =>
    Effect.gen(function*() {
      const file = write("core:\n  database:\n    file: ./x.sqlite\n")
      const both = yield* Effect.flip(Config.load([demo], { configFile: file }, { ORCH_DATABASE_URL: "postgres://u:pw-both-1@h/d" }))
      expect(both.message).toContain("core.database.file")
      expect(both.message).toContain("core.database.url (ORCH_DATABASE_URL)")
      expect(both.message).toContain(`core.database.file (${file}:3)`)
      expect(String(both)).not.toContain("pw-both-1")
      const mysql = yield* Effect.flip(Config.load([demo], { set: ["core.database.url=mysql://u:pw-my-1@h/d"] }, {}))
      expect(mysql.key).toBe("core.database.url")
      expect(mysql.message).toContain("must be a postgres://")
      expect(String(mysql)).not.toContain("pw-my-1")
    }))
})

describe("ConfigInit", () => {
  it("writes a commented file that loads back, with flag values in it", () => {
    const text = ConfigInit.render([demo], {
      core: { http: { port: 7700 } },
      plugins: { demo: [[["server"], "http://wpt.example:80"], [["limits", "queue"], 3]] }
    })
    expect(text).toContain("# Where the server is")
    expect(text).toContain("server: http://wpt.example:80")
    expect(text).toContain("    queue: 3")
    expect(text).toContain("# apiKey:")
    expect(text).not.toContain("oldKey")
    const file = write(text)
    const config = Effect.runSync(Config.load([demo], { configFile: file }, {}))
    expect(config.core.http.port).toBe(7700)
    expect((config.plugins.demo as any).limits.queue).toBe(3)
  })

  it("derives one flag per scalar setting", () => {
    expect(ConfigInit.leaves(demo).map((leaf) => leaf.flag)).toEqual(["demo-server", "demo-api-key", "demo-limits-queue"])
  })

  it("refuses a retired key with its message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Config.load([demo], { configFile: write("demo:\n  oldKey: 1\n") }, {}))
      expect(String(error.message)).toContain("demo.oldKey has moved to demo.server")
    }).pipe(Effect.runPromise))

  it("refuses a flag value the schema refuses", () => {
    expect(() => ConfigInit.render([demo], { plugins: { demo: [[["limits", "queue"], -1]] } })).toThrow()
  })
})
