import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as Runner from "../src/Runner.js"
import type { Severity } from "../src/Stores.js"
import { isRoot } from "./helpers.js"

const identity = Either.getOrThrow(Runner.resolveIdentity({ runAs: "nobody", allowRoot: false }))

const run = (source: string, maxRuntimeMs = 20_000) =>
  Effect.gen(function*() {
    const lines: Array<[Severity, string]> = []
    const outcome = yield* Runner.execute(
      { argv: [process.execPath, "-e", source], cwd: "/", maxRuntimeMs, identity },
      (severity, message) => lines.push([severity, message])
    )
    return { outcome, lines }
  })

/** Gone, or a zombie waiting to be reaped: either way no longer running. */
const dead = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return true
  }
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z")
  } catch {
    return true
  }
}

describe("runner", () => {
  it.live("stdout's JSON object is the result; stderr lines are log lines with their severity", () =>
    Effect.gen(function*() {
      const { lines, outcome } = yield* run(`
        console.error("INFO starting"); console.error("WARNING slow link"); console.error("plain line")
        console.log("progress 50%")
        console.log(JSON.stringify({ download_speed: 1000 }))`)
      expect(outcome).toEqual({ _tag: "Succeeded", result: { download_speed: 1000 }, exitCode: 0 })
      expect(lines).toEqual([["INFO", "starting"], ["WARNING", "slow link"], ["INFO", "plain line"]])
    }))

  it.live("a non-zero exit, no output or output that is not a JSON object is a failed outcome with the reason", () =>
    Effect.gen(function*() {
      expect((yield* run(`console.log("{}"); process.exit(3)`)).outcome).toMatchObject({ _tag: "Failed", reason: "exited with code 3", exitCode: 3 })
      expect((yield* run(``)).outcome).toMatchObject({ _tag: "Failed", reason: "printed no result on stdout" })
      expect((yield* run(`console.log("[1, 2]")`)).outcome).toMatchObject({ _tag: "Failed", reason: "printed no valid JSON object on stdout" })
      const missing = yield* Runner.execute(
        { argv: ["/nonexistent/binary"], cwd: "/", maxRuntimeMs: 5000, identity },
        () => {}
      )
      expect(missing).toMatchObject({ _tag: "Failed", reason: expect.stringMatching(/^cannot start \/nonexistent\/binary: .*ENOENT/) })
      const noFolder = yield* Runner.execute({ argv: [process.execPath, "-e", ""], cwd: "/nonexistent/folder", maxRuntimeMs: 5000, identity }, () => {})
      expect(noFolder).toMatchObject({ _tag: "Failed", reason: "working directory /nonexistent/folder does not exist" })
    }))

  it.live("a run past its longest time is killed with the processes it started, and fails with the reason", () =>
    Effect.gen(function*() {
      const { lines, outcome } = yield* run(
        `const { spawn } = require("node:child_process")
         const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "inherit" })
         console.error("INFO grandchild " + child.pid)
         setInterval(() => {}, 1000)`,
        1500
      )
      expect(outcome).toMatchObject({ _tag: "Failed", reason: "killed after running longer than 1500 ms", signal: "SIGKILL" })
      const pid = Number(lines.find(([, m]) => m.startsWith("grandchild "))![1].split(" ")[1])
      expect(pid).toBeGreaterThan(0)
      // SIGKILL is delivered asynchronously: allow the kernel a moment
      for (let i = 0; i < 40 && !dead(pid); i++) yield* Effect.sleep("50 millis")
      expect(dead(pid)).toBe(true)
    }))
})

describe("who tests run as", () => {
  it.live.skipIf(!isRoot)("orch as root runs a test as the unprivileged user, which reports its uid", () =>
    Effect.gen(function*() {
      expect(identity).toMatchObject({ _tag: "User", identity: { user: "nobody" } })
      const { outcome } = yield* run(`console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), home: process.env.HOME }))`)
      const nobody = Either.getOrThrow(Runner.lookupUser("nobody"))
      expect(outcome).toEqual({ _tag: "Succeeded", result: { uid: nobody.uid, gid: nobody.gid, home: "/" }, exitCode: 0 })
      expect(nobody.uid).not.toBe(0)
    }))

  it("a missing runAs user is refused with the reason, unless allowRoot", () => {
    const refused = Runner.resolveIdentity({ runAs: "no-such-user-4711", allowRoot: false }, 0)
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.getLeft(refused).pipe((o) => (o._tag === "Some" ? o.value.message : ""))).toMatch(
      /^the scheduler will not start: orch runs as root and tests must not, but no user "no-such-user-4711" on this system.*set scheduler\.runAs to an existing unprivileged user, or scheduler\.allowRoot: true/
    )
    expect(Runner.resolveIdentity({ runAs: "no-such-user-4711", allowRoot: true }, 0)).toEqual(
      Either.right({ _tag: "Root", reason: expect.stringMatching(/no user "no-such-user-4711"/) })
    )
    expect(Either.isLeft(Runner.resolveIdentity({ runAs: "root", allowRoot: false }, 0))).toBe(true)
    // orch not root: tests run as orch's own user, whatever runAs says
    expect(Runner.resolveIdentity({ runAs: "no-such-user-4711", allowRoot: false }, 1000)).toEqual(Either.right({ _tag: "Self" }))
  })
})
