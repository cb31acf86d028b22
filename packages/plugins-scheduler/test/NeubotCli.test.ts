/**
 * Neubot's own command-line client (neubot/runner_clnt.py, Python 2, from a fetched
 * neubot/neubot, never in this repository) against the real `orch` binary's own listener:
 * it checks `/api/version`, asks `/api/runner?test=…&streaming=1` and copies the lines
 * until the server closes. It skips, saying why, without a copy of Neubot or a Python 2.7.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { checkoutNeubot, findPython2 } from "./neubotWww.js"
import { writeDescriptor } from "./helpers.js"

const neubot = checkoutNeubot("neubot")
const python = findPython2()
const missing = "missing" in neubot ? neubot.missing : "missing" in python ? python.missing : undefined
if (missing !== undefined) console.warn(`NeubotCli.test.ts skipped: ${missing}`)

describe.skipIf(missing !== undefined)(`Neubot's command line on orch${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let daemon: Daemon
  let port: string

  beforeAll(async () => {
    const dir = tempDir("orch-neubot-cli-")
    const descriptors = path.join(dir, "descriptors")
    writeDescriptor(descriptors, "echo", {
      command: ["$node", "-e", "console.error('INFO echo says ' + process.argv[1]); console.error('DEBUG hidden'); console.log('{}')", "$n"],
      parameters: { n: "1" },
      schedule: { every: 86_400 }
    })
    const config = path.join(dir, "orch.yaml")
    fs.writeFileSync(config, `scheduler:\n  descriptors: ${descriptors}\n  apiPort: 0\n  apiHosts: ["127.0.0.1"]\n`)
    daemon = await startDaemon(orchBin, ["--plugins", "scheduler", "--data-dir", path.join(dir, "data"), "--config", config])
    const own = await eventually(() => {
      const line = daemon.logs.find((l) => String(l.message).startsWith("also listening on "))
      return line ? String(line.message).slice("also listening on ".length) : undefined
    })
    port = new URL(own).port
    await eventually(async () => ((await fetch(`${own}/api/version`)).status === 200 ? true : undefined))
  })
  afterAll(async () => {
    await daemon?.stop("SIGKILL")
  })

  it("runner_clnt.py runs a test through orch and prints its lines as they are, ending when orch closes", async () => {
    const { root } = neubot as { root: string }
    const { stderr, stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        (python as { executable: string }).executable,
        ["neubot/runner_clnt.py", "-D", "address=127.0.0.1", "-D", `port=${port}`, "echo"],
        { cwd: root, timeout: 60_000 },
        (error, out, err) => (error ? reject(error) : resolve({ stdout: out, stderr: err }))
      ))
    expect(stderr).toBe("INFO: Asking Neubot to run the test...\n")
    const lines = stdout.split("\n")
    expect(lines.slice(0, 3)).toEqual([
      "INFO The local daemon will run the test for us",
      "INFO === BEGIN local daemon log ===",
      expect.stringMatching(/^INFO runner: starting test echo( as \w+)?\r$/)
    ])
    expect(lines).toContain("INFO echo: echo says 1\r")
    // it drops DEBUG lines unless verbose, as it did with Neubot
    expect(stdout).not.toContain("hidden")
    // the lines as sent: no chunk sizes between them
    expect(lines.filter((line) => /^[0-9a-f]+\r?$/.test(line))).toEqual([])
    expect(stdout).toMatch(/INFO runner: done \(ok\)\r\nINFO === END local daemon log ===\n?$/)
  })
})
