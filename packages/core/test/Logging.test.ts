import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Writable } from "node:stream"
import * as Logging from "../src/Logging.js"
import { tempDir } from "@orch/testing"

const capture = () => {
  const lines: Array<string> = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter((l) => l !== ""))
      done()
    }
  })
  return { lines, stream }
}

describe("Logging", () => {
  it.effect("JSON lines carry timestamp, severity and message, and annotations", () =>
    Effect.gen(function*() {
      const { lines, stream } = capture()
      yield* Effect.logWarning("disk", "almost full").pipe(
        Effect.annotateLogs({ plugin: "demo" }),
        Effect.provide(Logging.layer({ level: "info", format: "json", stream }))
      )
      const event = JSON.parse(lines[0]!)
      expect(event).toMatchObject({ severity: "WARNING", message: "disk almost full", plugin: "demo" })
      expect(Date.parse(event.timestamp)).not.toBeNaN()
    }))

  it.effect("never writes a configured secret, in any format, nor to the file", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "orch.log")
      for (const format of ["json", "pretty"] as const) {
        const { lines, stream } = capture()
        // in a fiber of its own, awaited not joined, so this logger does not outlive the iteration
        const fiber = yield* Effect.forkDaemon(Effect.logError("calling https://wpt?k=hunter2-secret failed").pipe(
          Effect.annotateLogs({ url: "k=hunter2-secret" }),
          Effect.provide(Logging.layer({ level: "info", format, stream, file, secrets: ["hunter2-secret"] }))
        ))
        yield* Fiber.await(fiber)
        expect(lines.join("\n")).not.toContain("hunter2")
        expect(lines.join("\n")).toContain("[redacted]")
      }
      expect(fs.readFileSync(file, "utf8")).not.toContain("hunter2")
      expect(fs.readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2)
    }))

  it.effect("respects the level and keeps one event per line", () =>
    Effect.gen(function*() {
      const { lines, stream } = capture()
      yield* Effect.all([Effect.logDebug("hidden"), Effect.logInfo("first\nsecond")]).pipe(
        Effect.provide(Logging.layer({ level: "info", format: "pretty", stream }))
      )
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("first\\nsecond")
    }))
})
