import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Inventory from "../src/Inventory.js"
import { tempDir } from "@orch/testing"

describe("Inventory", () => {
  it.effect("the example inventory parses and has two types of hardware", () =>
    Effect.gen(function*() {
      const inventory = yield* Inventory.load(undefined)
      expect(inventory.source).toBe("(example inventory)")
      expect(new Set(inventory.devices.map((d) => d.type))).toEqual(new Set(["android-phone", "lab-board"]))
      expect(inventory.types["android-phone"]?.cleaning?.timeoutSeconds).toBe(60)
    }))

  it.effect("a broken file is reported with file, line and key", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "inventory.yaml")
      const problems: Array<[string, RegExp]> = [
        ["devices:\n  - name: a\n    type: t\n    labels: { type: x }\n", /inventory\.yaml:4:.* at devices\[0\]\.labels: "type" is the device's type/],
        ["devices:\n  - name: a\n    type: t\n  - name: a\n    type: t\n", /inventory\.yaml:4:.* at devices\[1\]\.name: device name "a" is already used by devices\[0\]/],
        ["devices:\n  - name: a\n", /inventory\.yaml:2:.* at devices\[0\]\.type: is required/],
        ["types:\n  t:\n    health: { intervalSeconds: 5 }\ndevices: []\n", /inventory\.yaml:3:.* at types\.t\.health: give exactly one of tcp or command/],
        ["devices:\n  - name: a\n    type: t\n    colour: red\n", /inventory\.yaml:4:.* at devices\[0\]\.colour: unknown key/],
        ["devices: [\n", /inventory\.yaml:2:.*invalid YAML/]
      ]
      for (const [text, expected] of problems) {
        fs.writeFileSync(file, text)
        const error = yield* Effect.flip(Inventory.load(file))
        expect(String(error)).toMatch(expected)
      }
      const missing = yield* Effect.flip(Inventory.load(path.join(tempDir(), "nope.yaml")))
      expect(String(missing)).toMatch(/nope\.yaml: file not found/)
    }))
})
