/** Which `orch tui …` arguments the TUI's light entry serves itself, and which go to the full CLI. */
import { describe, expect, it } from "vitest"
import { defaultUrl, parse } from "../src/tui/Args.js"

const noEnv = {}

describe("the TUI's own arguments", () => {
  it("serves --once, --view, --url and --token, spaced or with =", () => {
    expect(parse(["--once", "--view", "jobs", "--url=http://h:1/", "--token", "t"], noEnv, false)).toEqual({
      _tag: "Tui",
      once: true,
      view: "jobs",
      url: "http://h:1",
      token: "t"
    })
    expect(parse([], noEnv, false)).toEqual({ _tag: "Tui", once: false, view: undefined, url: defaultUrl, token: undefined })
  })

  it("takes the address and token from ORCH_URL and ORCH_TOKEN when not given, an empty one as none", () => {
    expect(parse([], { ORCH_URL: "http://e:2", ORCH_TOKEN: "s" }, false)).toMatchObject({ url: "http://e:2", token: "s" })
    expect(parse([], { ORCH_URL: "", ORCH_TOKEN: "" }, false)).toMatchObject({ url: defaultUrl, token: undefined })
    expect(parse(["--url", "http://a:3", "--token", "x"], { ORCH_URL: "http://e:2", ORCH_TOKEN: "s" }, false))
      .toMatchObject({ url: "http://a:3", token: "x" })
  })

  it("hands everything else to the full CLI", () => {
    for (
      const args of [
        ["--help"],
        ["-h"],
        ["--config", "x.yaml"],
        ["--set", "core.http.port=1"],
        ["--log-level", "debug"],
        ["jobs"],
        ["--once", "--once"],
        ["--url"],
        ["--url="],
        ["--url", "--once"],
        ["--view", "a", "--view", "b"]
      ]
    ) expect(parse(args, noEnv, false)._tag, args.join(" ")).toBe("FullCli")
  })

  it("hands a folder with ./orch.yaml to the full CLI, which reads and checks it", () => {
    expect(parse(["--url", "http://a:3"], noEnv, true)._tag).toBe("FullCli")
  })
})
