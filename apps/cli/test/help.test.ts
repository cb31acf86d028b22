/** Help and errors a person can read: the built `orch`, run as a child process with its output piped. */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { orchBin, run, tempDir } from "@orch/testing"
import { preflight } from "../src/help/Preflight.js"
import { describe as describeCommands } from "../src/help/CommandInfo.js"
import { terminal } from "../src/help/Render.js"
import { rootCommand } from "../src/main.js"
import { plugins } from "../src/plugins.js"

/** Colour allowed: only the pipe should keep escape bytes out. */
const piped = { env: { NO_COLOR: undefined, COLUMNS: undefined, TERM: "xterm-256color" } }
const widest = (text: string) => Math.max(...text.split("\n").map((line) => line.length))

describe("orch help", () => {
  it("orch --help is a short list of commands, 80 columns and no escape bytes when piped", async () => {
    const help = await run(orchBin, ["--help"], piped)
    expect(help.code).toBe(0)
    expect(widest(help.stdout)).toBeLessThanOrEqual(80)
    expect(help.stdout).not.toContain("\x1b")
    expect(help.stdout.split("\n").length).toBeLessThan(60)
    expect(help.stdout).toMatch(/^Usage: orch <command>$/m)
    for (const command of ["run", "config", "db", "jobs", "resources", "tui", "allocator", "scheduler", "watchdog", "help"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, "m"))
    }
    for (const variable of ["ORCH_CONFIG", "ORCH_DATA_DIR", "ORCH_URL", "ORCH_LOG_LEVEL", "NO_COLOR"]) expect(help.stdout).toContain(variable)
    for (const builtIn of ["--wizard", "$ "]) expect(help.stdout).not.toContain(builtIn)
    const bare = await run(orchBin, [], piped)
    expect(bare).toMatchObject({ code: 0, stdout: help.stdout })
  })

  it("COLUMNS sets the width; a command's help is wrapped too", async () => {
    const help = await run(orchBin, ["run", "--help"], { env: { ...piped.env, COLUMNS: "60" } })
    expect(help.code).toBe(0)
    expect(widest(help.stdout)).toBeLessThanOrEqual(60)
    const wide = await run(orchBin, ["config", "init", "--help"], piped)
    expect(widest(wide.stdout)).toBeLessThanOrEqual(80)
    expect(wide.stdout).toContain("--allocator-inventory")
  })

  it("colour only on a terminal without NO_COLOR; 80 columns when piped", () => {
    expect(terminal({}, { isTTY: false })).toEqual({ width: 80, color: false })
    expect(terminal({}, { isTTY: true, columns: 90 })).toEqual({ width: 90, color: true })
    expect(terminal({ NO_COLOR: "1" }, { isTTY: true, columns: 90 })).toEqual({ width: 90, color: false })
    expect(terminal({ COLUMNS: "120" }, { isTTY: false })).toEqual({ width: 120, color: false })
  })

  it("orch help <command> is the command's --help; usage reads orch <command>", async () => {
    for (const words of [["jobs"], ["jobs", "list"], ["scheduler", "config", "get"], ["config", "init"]]) {
      const viaHelp = await run(orchBin, ["help", ...words], piped)
      const viaFlag = await run(orchBin, [...words, "--help"], piped)
      expect(viaHelp.code).toBe(0)
      expect(viaHelp.stdout).toBe(viaFlag.stdout)
      expect(viaHelp.stdout).toContain(`Usage: orch ${words.join(" ")} `)
      expect(viaHelp.stdout).not.toContain("\x1b")
    }
    const unknown = await run(orchBin, ["help", "jobz"], piped)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr.trim()).toBe("orch: unknown command 'jobz'; did you mean jobs?")
  })

  it("each option once, no built-ins, no repeated group names", async () => {
    const runHelp = await run(orchBin, ["help", "run"], piped)
    expect(runHelp.stdout.match(/--log-level/g)).toHaveLength(1)
    expect(runHelp.stdout).toContain("--config <file>")
    expect(runHelp.stdout).toContain("ORCH_CONFIG")
    for (const builtIn of ["--wizard", "--completions", "--version", "fatal"]) expect(runHelp.stdout).not.toContain(builtIn)
    for (const words of [[], ["scheduler"], ["scheduler", "config"]]) {
      const help = await run(orchBin, ["help", ...words], piped)
      expect(help.stdout).not.toMatch(/scheduler scheduler/)
    }
  })
})

describe("orch's errors", () => {
  it("a flag error names the command and the flag, with a did-you-mean", async () => {
    const cases: Array<[Array<string>, string]> = [
      [["run", "--http-port", "abc"], "orch run: --http-port: 'abc' is not an integer"],
      [["run", "--http-port"], "orch run: --http-port needs a value (an integer)"],
      [["run", "--plugns", "all"], "orch run: unknown option --plugns; did you mean --plugins?"],
      [["config", "check", "--log-format", "xml"], "orch config check: --log-format: 'xml' is not one of auto, pretty, json"],
      [["jobs", "lst"], "orch jobs: unknown command 'lst'; did you mean list?"],
      [["jobs", "list", "--wizard"], "orch jobs list: unknown option --wizard (see `orch help jobs list`)"],
      [["watchdog", "cancel", "abc"], "orch watchdog cancel: <job>: 'abc' is not an integer"],
      [["resources", "list", "--label", "nokv"], "orch resources list: --label: 'nokv' is not key=value"],
      [["allocator", "allocate", "--ttl", "soon"], "orch allocator allocate: --ttl: \"soon\" is not a duration like 90s, 5m or 1h (`orch help allocator allocate` shows the usage)"]
    ]
    for (const [args, message] of cases) {
      const result = await run(orchBin, args, piped)
      expect({ args, code: result.code, stderr: result.stderr.trim() }).toEqual({ args, code: 2, stderr: message })
    }
  })

  it("--log-level reaches orch's option (not @effect/cli's built-in of the same name)", () => {
    const root = describeCommands(rootCommand(plugins))
    expect(preflight(root, ["run", "--log-level", "error"])).toEqual({ _tag: "Run", path: ["run"], args: ["run"], logLevel: "error" })
    expect(preflight(root, ["config", "check", "--log-level=debug", "--config", "x.yaml"])).toEqual({
      _tag: "Run",
      path: ["config", "check"],
      args: ["config", "check", "--config", "x.yaml"],
      logLevel: "debug"
    })
  })

  it("config check lists every problem with its line, the allowed values and a did-you-mean", async () => {
    const file = path.join(tempDir(), "orch.yaml")
    fs.writeFileSync(file, "core:\n  htp:\n    port: 7600\n  log:\n    level: loud\n  shutdownGraceSeconds: -1\nallocator:\n  retryAfterSeconds: soon\n")
    const check = await run(orchBin, ["config", "check", "--config", file], piped)
    expect(check.code).toBe(2)
    const lines = check.stderr.trim().split("\n")
    expect(lines[0]).toBe("orch: 4 problems in the configuration:")
    expect(lines.slice(1)).toHaveLength(4)
    for (const [i, line] of [2, 5, 6, 8].entries()) expect(lines[i + 1]).toContain(`${file}:${line}:`)
    expect(check.stderr).toContain(`${file}:2:3 at core.htp: unknown key; did you mean core.http?`)
    expect(check.stderr).toContain("at core.log.level: must be one of trace, debug, info, warning, error, none (got \"loud\")")
    expect(check.stderr).not.toContain("\x1b")
  })

  it("a bad --set is blamed on the flag", async () => {
    const file = path.join(tempDir(), "orch.yaml")
    fs.writeFileSync(file, "core:\n  log:\n    level: info\n")
    const check = await run(orchBin, ["config", "check", "--config", file, "--set", "core.log.level=bogus"], piped)
    expect(check.code).toBe(2)
    expect(check.stderr.trim()).toBe(
      "orch: --set core.log.level=bogus at core.log.level: must be one of trace, debug, info, warning, error, none (got \"bogus\")"
    )
  })

  it("a bad config init flag is one line naming the flag", async () => {
    const dir = tempDir()
    const init = await run(orchBin, ["config", "init", "-o", path.join(dir, "orch.yaml"), "--http-port", "99999"], piped)
    expect(init.code).toBe(2)
    expect(init.stderr).toBe("orch: --http-port: must be a port number from 0 to 65535\n")
    const plugin = await run(orchBin, ["config", "init", "-o", "-", "--allocator-retry-after-seconds", "soon"], piped)
    expect(plugin.code).toBe(2)
    expect(plugin.stderr.trim().split("\n")).toHaveLength(1)
    expect(plugin.stderr).toContain("orch: --allocator-retry-after-seconds: ")
    expect(fs.existsSync(path.join(dir, "orch.yaml"))).toBe(false)
  })

  it("a missing allocator.inventory is a config error naming the key and the path, at config check and at run", async () => {
    const dir = tempDir()
    const file = path.join(dir, "orch.yaml")
    const inventory = path.join(dir, "devices.yaml")
    fs.writeFileSync(file, `core:\n  dataDir: ${dir}/data\n  http:\n    port: 0\nallocator:\n  inventory: ${inventory}\n`)
    for (const args of [["config", "check"], ["run", "--plugins", "allocator"]]) {
      const result = await run(orchBin, [...args, "--config", file], piped)
      expect(result.code).toBe(2)
      expect(result.stderr.trim()).toBe(`orch: ${file}:6:3 at allocator.inventory: file not found: ${inventory}`)
    }
    expect(fs.existsSync(path.join(dir, "data"))).toBe(false)
  })
})
