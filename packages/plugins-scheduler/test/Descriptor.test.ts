import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as path from "node:path"
import * as Descriptor from "../src/Descriptor.js"
import * as SpeedTest from "../src/SpeedTest.js"
import { tempDir } from "@orch/testing"
import { nodeScript, writeDescriptor } from "./helpers.js"

const parse = (text: unknown, file = "/etc/tests/probe.json") => Descriptor.parse("probe", file, JSON.stringify(text))

describe("descriptor parsing", () => {
  it("reads parameters, command, directory, max run time and each kind of schedule", () => {
    const parsed = parse({
      parameters: { host: { default: "example.org", regexp: "^[a-z.]+$", label: "Host" }, count: "3" },
      command: ["$node", "probe.mjs", "$host", "$count"],
      directory: "work",
      maxRuntimeSeconds: 12,
      schedule: { every: 600, jitter: 30, firstDelay: 10 }
    })
    const descriptor = Either.getOrThrow(parsed)
    expect(descriptor.name).toBe("probe")
    expect(descriptor.parameters).toEqual({ host: { default: "example.org", regexp: "^[a-z.]+$", label: "Host" }, count: { default: "3" } })
    expect(descriptor.directory).toBe(path.resolve("/etc/tests/work"))
    expect(descriptor.maxRuntimeMs).toBe(12_000)
    expect(descriptor.schedule).toEqual({ kind: "interval", everyMs: 600_000, jitterMs: 30_000, firstDelayMs: 10_000 })

    const cron = Either.getOrThrow(parse({ command: ["true"], schedule: { cron: "*/30 * * * *", timeZone: "Europe/Rome" } }))
    expect(cron.schedule).toEqual({ kind: "cron", expression: "*/30 * * * *", timeZone: "Europe/Rome" })
    expect(cron.directory).toBe("/")
    expect(cron.maxRuntimeMs).toBe(300_000)

    const neubot = Either.getOrThrow(parse({ command: ["true"] }))
    expect(neubot.schedule).toEqual({ kind: "neubot", firstDelayMs: 5 * 60_000 })
  })

  it("refuses each kind of bad descriptor with what is wrong and where", () => {
    const reason = (text: unknown) => Either.getLeft(parse(text)).pipe((o) => (o._tag === "Some" ? o.value : "(parsed)"))
    expect(Either.getLeft(Descriptor.parse("x", "/x.json", "{ nope"))._tag).toBe("Some")
    expect(reason({})).toMatch(/command/)
    expect(reason({ command: [] })).toMatch(/command/)
    expect(reason({ command: ["true"], extra: 1 })).toMatch(/extra/)
    expect(reason({ command: ["$host"] })).toBe("command[0] \"$host\" names no parameter (declared: none; built in: $node)")
    expect(reason({ command: ["true"], parameters: { a: { regexp: "([" } } })).toMatch(/parameters\.a\.regexp is not a regular expression/)
    expect(reason({ command: ["true"], parameters: { a: { default: "x y", regexp: "^\\S+$" } } }))
      .toBe("parameters.a: the default \"x y\" does not match ^\\S+$")
    expect(reason({ command: ["true"], parameters: { "bad-name": "1" } })).toMatch(/parameter name "bad-name"/)
    expect(reason({ command: ["true"], parameters: { node: "1" } })).toMatch(/reserved/)
    expect(reason({ command: ["true"], schedule: { cron: "61 * * * *" } })).toMatch(/^schedule: .*cron expression "61 \* \* \* \*"/)
    expect(reason({ command: ["true"], schedule: { every: 0 } })).toMatch(/every/)
    expect(reason({ command: ["true"], maxRuntimeSeconds: -1 })).toMatch(/maxRuntimeSeconds/)
  })
})

describe("parameter substitution", () => {
  const descriptor = Either.getOrThrow(parse({
    parameters: { url: { default: "http://a.example/", regexp: "^https?://\\S+$" }, n: { regexp: "^[0-9]+$" } },
    command: ["$node", "client.mjs", "--url", "$url", "$n"]
  }))

  it("replaces $name items with defaults overlaid by the given values, $node with this Node", () => {
    const { argv, values } = Either.getOrThrow(Descriptor.substitute(descriptor, { n: "5" }))
    expect(argv).toEqual([process.execPath, "client.mjs", "--url", "http://a.example/", "5"])
    expect(values).toEqual({ url: "http://a.example/", n: "5" })
    expect(Either.getOrThrow(Descriptor.substitute(descriptor, { n: "7", url: "https://b.example/x" })).argv[3]).toBe("https://b.example/x")
  })

  it("refuses a value that does not match its regexp, an unknown parameter and a missing value, with a message", () => {
    const message = (given: Record<string, string>) =>
      Either.match(Descriptor.substitute(descriptor, given), { onLeft: (e) => e.message, onRight: () => "(accepted)" })
    expect(message({ n: "5; rm -rf /" })).toBe("probe: parameter n=\"5; rm -rf /\" does not match ^[0-9]+$")
    expect(message({ n: "1", url: "ftp://x" })).toBe("probe: parameter url=\"ftp://x\" does not match ^https?://\\S+$")
    expect(message({ n: "1", other: "x" })).toBe("probe: no parameter \"other\" (parameters: url, n)")
    expect(message({})).toBe("probe: parameter n has no value (no default, none given)")
  })
})

describe("the descriptor folder", () => {
  it.effect("reports a broken descriptor (file and reason) beside good ones, which are kept", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      writeDescriptor(dir, "good", { command: nodeScript("console.log('{}')") })
      writeDescriptor(dir, "also-good", { command: ["true"], schedule: { every: 60 } })
      writeDescriptor(dir, "broken", "{ \"command\": [\"true\"], ")
      writeDescriptor(dir, "invalid", { command: ["$missing"] })
      const bundled = [SpeedTest.descriptor({ url: "http://127.0.0.1:1/scheduler/speedtest", bytes: 1000, firstDelayMs: 60_000 })]
      const catalog = yield* Descriptor.load(dir, bundled)
      expect(catalog.valid.map((d) => d.name)).toEqual(["also-good", "good", "speedtest"])
      expect(catalog.invalid).toEqual([
        { name: "broken", file: path.join(dir, "broken.json"), reason: expect.stringMatching(/^not JSON: /) },
        { name: "invalid", file: path.join(dir, "invalid.json"), reason: expect.stringMatching(/names no parameter/) }
      ])
    }))

  it.effect("a missing folder holds no descriptor; a file replaces the bundled test of its name", () =>
    Effect.gen(function*() {
      const bundled = [SpeedTest.descriptor({ url: "http://127.0.0.1:1/scheduler/speedtest", bytes: 1000, firstDelayMs: 60_000 })]
      const none = yield* Descriptor.load(path.join(tempDir(), "absent"), bundled)
      expect(none).toEqual({ valid: bundled, invalid: [] })
      const dir = tempDir()
      writeDescriptor(dir, "speedtest", { command: ["true"] })
      const replaced = yield* Descriptor.load(dir, bundled)
      expect(replaced.valid).toHaveLength(1)
      expect(replaced.valid[0]!.file).toBe(path.join(dir, "speedtest.json"))
    }))
})
