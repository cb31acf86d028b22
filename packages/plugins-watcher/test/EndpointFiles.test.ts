import { describe, expect, it } from "@effect/vitest"
import { tempDir } from "@orch/testing"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as EndpointFiles from "../src/EndpointFiles.js"

const defaults = { timeoutMs: 10_000, failureThreshold: 3, successThreshold: 2, timeZone: "UTC" }
const seedText = fs.readFileSync(new URL("./fixtures/seed-example.yml", import.meta.url), "utf8")

/** The seed's example with its two YAML mistakes fixed as the errors say, and nothing else changed. */
const seedFixed = `
www.fabricsounds.com/health:
  cron_schedule: "* * * * *"
  scheme: http
  response_json_values:
    - status
  success_test:
    key: status
    value: ok
  post_endpoint:
    url: https://app.datadoghq.com/api/v1/events
    post_api_key:
      param_name: api_key
      param_value: \${DD_API_KEY}
    post_json_info:
      title: fabricsounds health
      text: health ok
      tags:
        - status: "{status}"
`

describe("endpoint files", () => {
  it("the seed's own example: each mistake named at its line with what to write instead", () => {
    const load = EndpointFiles.loadText(seedText, "seed.yml", defaults)
    expect(load.endpoints).toEqual([])
    const messages = load.problems.map(String)
    expect(messages).toContain(`seed.yml:2:18 at www.fabricsounds.com/health.cron_schedule: an unquoted * * * * * is read by YAML as an alias: quote it, cron_schedule: "* * * * *"`)
    expect(messages).toContain(`seed.yml:23:18 at mixsig.fabricsounds.com/health.cron_schedule: an unquoted * * * * * is read by YAML as an alias: quote it, cron_schedule: "* * * * *"`)
    expect(messages).toContain(
      `seed.yml:10:3 at www.fabricsounds.com/health.post_endpoint: post_endpoint has both a value (https://app.datadoghq.com/api/v1/events) and children (post_api_key at line 13): a YAML key has one or the other. Write "post_endpoint:" alone and put the value under it as "url: https://app.datadoghq.com/api/v1/events"`
    )
    expect(messages).toContain(
      `seed.yml:32:3 at mixsig.fabricsounds.com/health.post_service: post_service has both a value (aws-cloudwatch) and children (aws_key at line 33): a YAML key has one or the other. ` +
        `Write "post_service:" alone and put the value under it as "service: aws-cloudwatch"; with data_* keys, which describe an event (CloudWatch Events, now EventBridge), ` +
        `write "service: aws-eventbridge" (PutEvents); aws-cloudwatch sends metrics (PutMetricData)`
    )
    expect(load.problems).toHaveLength(4)
  })

  it("the seed's example fixed as told loads, with ${ENV} substituted and the seed's tag form kept", () => {
    const load = EndpointFiles.loadText(seedFixed, "seed.yml", defaults, { DD_API_KEY: "secret-key" })
    expect(load.problems.map(String)).toEqual([])
    const [endpoint] = load.endpoints
    expect(endpoint!.key).toBe("www.fabricsounds.com/health")
    expect(endpoint!.target).toMatchObject({ _tag: "Http", url: "http://www.fabricsounds.com/health", method: "GET" })
    expect(endpoint!.cadence._tag).toBe("Cron")
    expect(endpoint!.sinks[0]).toMatchObject({ _tag: "Datadog", on: "every_check", config: { post_api_key: { param_value: "secret-key" } } })
  })

  it("an unquoted {status} template (a YAML map) is an error saying to quote it", () => {
    const load = EndpointFiles.loadText(seedFixed.replace(`"{status}"`, "{status}"), "seed.yml", defaults, { DD_API_KEY: "k" })
    expect(load.problems.map(String)).toEqual([
      expect.stringMatching(/^seed\.yml:19:\d+ at www\.fabricsounds\.com\/health\.post_endpoint\.post_json_info\.tags\[0\]\.status: .*quote the template/)
    ])
  })

  it("every problem of a file is listed, each at its line and key", () => {
    const text = [
      "a:",
      "  interval: 30s",
      "  url: http://127.0.0.1:1/",
      "  conditions: ['[STATUS] = 200', '[NOPE] == 1']",
      "  colour: blue",
      "b:",
      "  url: http://127.0.0.1:1/",
      "c:",
      "  interval: 1m",
      "  cron_schedule: '* * * * *'",
      "  scheme: http",
      "d:",
      "  cron_schedule: 'not cron'",
      "  url: tcp://nohost"
    ].join("\n")
    const messages = EndpointFiles.loadText(text, "bad.yml", defaults).problems.map(String)
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/^bad\.yml:4:\d+ at a\.conditions\[0\]: .*is not a condition/),
      expect.stringMatching(/^bad\.yml:4:\d+ at a\.conditions\[1\]: .*unknown placeholder \[NOPE\]/),
      "bad.yml:5:3 at a.colour: unknown key (not allowed here)",
      expect.stringMatching(/^bad\.yml:6:1 at b: give exactly one of cron_schedule/),
      expect.stringMatching(/^bad\.yml:8:1 at c: give exactly one of cron_schedule/),
      expect.stringMatching(/^bad\.yml:13:\d+ at d\.cron_schedule: "not cron" is not a cron expression/)
    ]))
    expect(messages).toHaveLength(6)
  })

  it.effect("a directory: bad files are skipped, the others load; a missing directory is no endpoints", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, "good.yml"), "api:\n  interval: 30s\n  url: http://127.0.0.1:9/health\n")
      fs.writeFileSync(path.join(dir, "tcp.yaml"), "db:5432:\n  interval: 1m\n  scheme: tcp\n")
      fs.writeFileSync(path.join(dir, "bad.yml"), "x:\n  cron_schedule: * * * * *\n  url: http://a/\n")
      fs.writeFileSync(path.join(dir, "dup.yml"), "api:\n  interval: 30s\n  url: http://127.0.0.1:9/other\n")
      fs.writeFileSync(path.join(dir, "notes.txt"), "ignored")
      const load = yield* EndpointFiles.loadDirectory(dir, defaults)
      // dup.yml comes first in name order, so good.yml's "api" is the duplicate
      expect(EndpointFiles.endpointsOf(load).map((e) => [e.key, e.file])).toEqual([["api", "dup.yml"], ["db:5432", "tcp.yaml"]])
      expect(load.files.map((f) => [f.file, f.endpoints.length, f.problems.length])).toEqual([
        ["bad.yml", 0, 1], ["dup.yml", 1, 0], ["good.yml", 0, 1], ["tcp.yaml", 1, 0]
      ])
      const missing = yield* EndpointFiles.loadDirectory(path.join(dir, "nope"), defaults)
      expect(missing).toEqual({ directory: path.join(dir, "nope"), missing: true, files: [] })
    }))
})
