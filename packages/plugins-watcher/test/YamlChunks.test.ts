import { describe, expect, it } from "@effect/vitest"
import * as Yaml from "@orch/core/Yaml"
import { tempDir } from "@orch/testing"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"
import * as YamlChunks from "../src/YamlChunks.js"

const defaults = { timeoutMs: 10_000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }

/** `n` endpoints written in the forms a file mixes: comments, quoted keys, flow maps, block scalars, an anchor used in its own entry. */
const endpointsText = (n: number) => {
  const lines = ["# the fleet", ""]
  for (let i = 0; i < n; i++) {
    const key = i % 7 === 0 ? `"e ${i}"` : `e${i}`
    lines.push(`${key}:`, `  cron_schedule: "*/5 * * * *"`, `  url: http://127.0.0.1:9/health?e=${i}`)
    if (i % 3 === 0) lines.push(`  headers: { authorization: "Bearer \${TOKEN}" }`)
    if (i % 5 === 0) lines.push(`  body: |`, `    line one of ${i}`, ``, `    line three`)
    if (i % 11 === 0) lines.push(`  success_test: &t${i} { key: status, value: ok }`, `  webhooks: [{ url: http://127.0.0.1:9/hook, headers: { x: "y" } }]`)
    if (i % 13 === 0) lines.push(`# about the next one`)
  }
  return lines.join("\n") + "\n"
}

const whole = (text: string, env: Record<string, string>) =>
  YamlChunks.runSync(YamlChunks.parse(text, "f.yml", env, Infinity))

const library = (text: string, env: Record<string, string>) =>
  Yaml.parse(text, "f.yml").pipe(Either.flatMap((document) => Yaml.substituteEnv(document, env)))

const chunked = (text: string, env: Record<string, string>, entries = 10) => YamlChunks.runSync(YamlChunks.parse(text, "f.yml", env, entries))

describe("endpoint files parsed in chunks", () => {
  it("the chunks together are the whole file: the same values and the same lines for every key", () => {
    const text = endpointsText(250)
    const env = { TOKEN: "secret" }
    const one = Either.getOrThrow(library(text, env))
    const many = Either.getOrThrow(chunked(text, env))
    expect(many.value).toEqual(one.value)
    expect(Object.keys(many.value as object)).toEqual(Object.keys(one.value as object))
    for (const key of ["e1", "e 7", "e110", "e249", "e 245"]) {
      for (const rest of [[], ["url"], ["headers", "authorization"], ["body"], ["webhooks", 0, "headers", "x"]]) {
        expect([key, ...rest, many.locate([key, ...rest])]).toEqual([key, ...rest, one.locate([key, ...rest])])
      }
    }
    expect(many.locate(["nope", "url"])).toEqual(one.locate(["nope", "url"]))
  })

  it("a problem in a later chunk names its line in the file", () => {
    const text = endpointsText(300).replace("  url: http://127.0.0.1:9/health?e=251\n", "  url: http://127.0.0.1:9/health?e=251\n  colour: blue\n")
    const line = text.split("\n").indexOf("  colour: blue") + 1
    const load = EndpointFiles.loadText(text, "f.yml", defaults, { TOKEN: "t" })
    expect(load.problems.map(String)).toEqual([`f.yml:${line}:3 at e251.colour: unknown key (not allowed here)`])
    // an unset variable, in the 27th chunk of 10
    const missing = EndpointFiles.loadText(endpointsText(300), "f.yml", defaults, {})
    expect(missing.problems).toHaveLength(1)
    expect(String(missing.problems[0]).split("\n")[0]).toBe("100 problems in the configuration:")
    expect(missing.problems[0]!.problems).toEqual(Either.getLeft(whole(endpointsText(300), {})).pipe((o) => o._tag === "Some" ? o.value.problems : undefined))
  })

  it("what a cut could change is parsed whole: the same errors and values as in one go", () => {
    const base = endpointsText(40)
    const cases = [
      // a syntax error in the last chunk
      base + "broken: [unclosed\n",
      // a key repeated in another chunk
      base + "e1:\n  interval: 1m\n  url: http://x/\n",
      // an alias to an anchor of an earlier chunk
      base + "late:\n  interval: 1m\n  url: http://x/\n  success_test: *t0\n",
      // a flow map whose lines start at column 0
      base + "flow: {interval: 1m,\nurl: http://x/}\n",
      // two documents
      base + "---\nother: 1\n",
      // an alias to no anchor (the library throws it)
      base + "late:\n  interval: 1m\n  url: *nowhere\n"
    ]
    const valueOf = (parsed: ReturnType<typeof whole>) => Either.map(parsed, (document) => document.value)
    for (const text of cases.slice(0, -1)) expect(valueOf(whole(text, { TOKEN: "t" }))).toEqual(valueOf(library(text, { TOKEN: "t" })))
    expect(String(Either.getLeft(whole(cases[5]!, {})).pipe((o) => o._tag === "Some" ? o.value : ""))).toBe("f.yml:183:8: invalid YAML: Unresolved alias (the anchor must be set before the alias): nowhere")
    for (const text of cases) {
      expect(valueOf(chunked(text, { TOKEN: "t" }, 10))).toEqual(valueOf(whole(text, { TOKEN: "t" })))
    }
    expect(EndpointFiles.loadText(cases[0]!, "f.yml", defaults, { TOKEN: "t" }).problems.map(String)).toEqual(
      [String(Either.getLeft(whole(cases[0]!, {})).pipe((o) => o._tag === "Some" ? o.value : ""))]
    )
  })

  it.effect("a large file gives the event loop a turn between chunks and slices", () =>
    Effect.gen(function*() {
      const text = endpointsText(1000)
      let turns = 0
      let loading = true
      const tick = () => {
        turns++
        if (loading) setImmediate(tick)
      }
      setImmediate(tick)
      // (a budget of 0 ms: a turn after every step; by default steps run 40 ms between turns)
      const load = yield* EndpointFiles.loadTextYielding(text, "f.yml", defaults, { TOKEN: "t" }, 0)
      loading = false
      expect(load.endpoints).toHaveLength(1000)
      // 10 chunks of YAML and 10 slices of endpoints, each followed by a turn (a blocking load: 0 turns)
      expect(turns).toBeGreaterThanOrEqual(18)
      expect(load).toEqual(EndpointFiles.loadText(text, "f.yml", defaults, { TOKEN: "t" }))
    }))

  it.effect("a re-read reuses the files whose mtime and size did not change", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "a.yml"), "a:\n  interval: 30s\n  url: http://127.0.0.1:9/a\n")
      fs.writeFileSync(path.join(dir, "b.yml"), "b:\n  interval: 30s\n  url: http://127.0.0.1:9/b\n")
      const first = yield* EndpointFiles.loadDirectory(dir, defaults, {})
      fs.writeFileSync(path.join(dir, "b.yml"), "b:\n  interval: 1m\n  url: http://127.0.0.1:9/bb\n")
      const second = yield* EndpointFiles.loadDirectory(dir, defaults, {}, first)
      expect(second.files[0]).toBe(first.files[0])
      expect(second.files[1]).not.toBe(first.files[1])
      expect(second.files[1]!.endpoints.map((e) => e.fingerprint)).not.toEqual(first.files[1]!.endpoints.map((e) => e.fingerprint))
      // a duplicate across files is still found when neither file changed
      fs.writeFileSync(path.join(dir, "c.yml"), "a:\n  interval: 30s\n  url: http://127.0.0.1:9/c\n")
      const third = yield* EndpointFiles.loadDirectory(dir, defaults, {}, second)
      expect(third.files.map((f) => [f.file, f.endpoints.length, f.problems.map(String)])).toEqual([
        ["a.yml", 1, []], ["b.yml", 1, []], ["c.yml", 0, [`c.yml at a: endpoint "a" is already defined in a.yml`]]
      ])
    }))
})
