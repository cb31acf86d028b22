/** The watchdog's config section: defaults, flags derived for `orch config init`, the key kept secret. */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "@orch/core/Config"
import * as ConfigInit from "@orch/core/ConfigInit"
import { Effect, Either, Layer, Logger, Redacted } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { tempDir } from "@orch/testing"
import { plugin, services, workers } from "../src/index.js"
import * as Location from "../src/Location.js"

describe("watchdog config", () => {
  it("accepts an empty section: every key has its default and the loops stay idle without a server", () => {
    const config = Effect.runSync(Config.load([plugin], {}, {}))
    const watchdog = config.plugins.watchdog as any
    expect(watchdog.wpt.server).toBeUndefined()
    expect(watchdog.provider).toBe("static")
    expect(watchdog.controller.protected).toEqual(["wpt-server"])
    expect(watchdog.starter.maxQueueLength).toBe(100)
  })

  it("derives --watchdog-wpt-server and --watchdog-wpt-key from the schema's key paths", () => {
    const flags = ConfigInit.leaves(plugin).map((leaf) => leaf.flag)
    expect(flags).toEqual(expect.arrayContaining(["watchdog-wpt-server", "watchdog-wpt-key", "watchdog-wpt-location-key", "watchdog-provider", "watchdog-gce-project"]))
    const server = ConfigInit.leaves(plugin).find((leaf) => leaf.flag === "watchdog-wpt-server")!
    expect(server.path).toEqual(["wpt", "server"])
  })

  it("writes the values of those flags into orch.yaml, the key as a secret that is never logged", () => {
    const text = ConfigInit.render([plugin], {
      plugins: { watchdog: [[["wpt", "server"], "http://wpt.example:8080"], [["wpt", "key"], "0123456789abcdef0123456789abcdef"]] }
    })
    expect(text).toContain("    server: http://wpt.example:8080")
    const file = path.join(tempDir(), "orch.yaml")
    fs.writeFileSync(file, text)
    const config = Effect.runSync(Config.load([plugin], { configFile: file }, {}))
    const wpt = (config.plugins.watchdog as any).wpt
    expect(Redacted.isRedacted(wpt.key)).toBe(true)
    expect(Redacted.value(wpt.key)).toBe("0123456789abcdef0123456789abcdef")
    expect(config.secrets).toContain("0123456789abcdef0123456789abcdef")
    expect(String(wpt.key)).not.toContain("0123")
  })

  it("still loads a file with finisher.batchSize, a key of the finisher's rounds, and says at start that it is no longer used", () => {
    const file = path.join(tempDir(), "orch.yaml")
    fs.writeFileSync(file, "watchdog:\n  wpt:\n    server: http://wpt.example\n  finisher:\n    batchSize: 50\n")
    const config = Effect.runSync(Config.load([plugin], { configFile: file }, {})).plugins.watchdog as any
    expect(config.finisher).toMatchObject({ batchSize: 50, concurrency: 8 })
    expect(workers(config).map((w) => [w.kind.name, w.states, w.concurrency])).toEqual([["wpt-test", ["SUBMITTED"], 8]])
    const logged: Array<string> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(String(message))))
    Effect.runSync(Effect.scoped(Layer.build(services(config))).pipe(Effect.provide(capture)))
    expect(logged).toContainEqual(expect.stringContaining("finisher.batchSize is no longer used"))
    // without it, nothing to say; without a server, no worker
    logged.length = 0
    Effect.runSync(Effect.scoped(Layer.build(services({ ...config, finisher: { ...config.finisher, batchSize: undefined } }))).pipe(Effect.provide(capture)))
    expect(logged.filter((m) => m.includes("batchSize"))).toEqual([])
    expect(workers({ ...config, wpt: { ...config.wpt, server: undefined } })).toEqual([])
  })

  it("says which key is wrong and where", () => {
    const file = path.join(tempDir(), "orch.yaml")
    fs.writeFileSync(file, "watchdog:\n  wpt:\n    server: wpt.example\n  starter:\n    intervalMs: -5\n")
    const result = Effect.runSync(Effect.either(Config.load([plugin], { configFile: file }, {})))
    expect(Either.isLeft(result) && result.left).toMatchObject({ file, line: 3, key: "watchdog.wpt.server" })
    expect(Either.isLeft(result) && result.left.message).toContain("must be an http:// or https:// URL")
  })
})

describe("locations", () => {
  it("parse only names of the scheme <zone>--<browser>--<agent>", () => {
    expect(Location.parse("us-central1-a--tor--agent1")).toEqual({ zone: "us-central1-a", browser: "tor", agent: "agent1" })
    for (const name of ["wpt-server", "a--b", "a--b--c--d", "us-central1-a--Tor--agent1", "1zone--tor--agent", "us-central1-a----agent1"]) {
      expect(Location.parse(name)).toBeUndefined()
    }
    expect(Location.problem({ zone: "us-central1-a", browser: "tor", agent: "x".repeat(60) })).toMatch(/not a valid instance name/)
  })
})
