/**
 * `orch tui` in a real terminal: Debian's tmux (skipped, saying so, without it) at 80×24
 * then 160×50, with CI set as in CI runs, against a daemon holding jobs and under load (a
 * job created and cancelled, so finished, every 150 ms). Every line fits, the header
 * shows, the overview has the rate jobs finish at with its sparkline, `:jobs` switches,
 * Enter shows a job's history, cancel through the TUI cancels it in the daemon, and after
 * `q` the shell's scrollback is as it was.
 */
import { execFileSync } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, orchBin, startDaemon, tempDir } from "@orch/testing"
import { demoBin } from "./support.js"

const hasTmux = (() => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
if (!hasTmux) console.warn("tmux is not installed: the TUI's terminal test skips (apt-get install -y tmux)")

// a server of our own (-L), with no user config (-f /dev/null), so nothing else's sessions are touched
const socket = `orch-tui-test-${process.pid}`
const tmux = (...args: Array<string>) => execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" })
const screen = () => tmux("capture-pane", "-p", "-t", "tui").replace(/\n+$/, "").split("\n")
const keys = (...args: Array<string>) => void tmux("send-keys", "-t", "tui", ...args)
const showing = (what: string, holds: (text: string) => boolean) =>
  eventually(() => (holds(screen().join("\n")) ? true : undefined), 15_000).catch(() => {
    throw new Error(`the TUI never showed ${what}; the screen:\n${screen().join("\n")}`)
  })

let daemon: Daemon
let load: { stop: () => Promise<void>; finished: () => number } | undefined

/** A job created and cancelled (a final state) every `everyMs`, until stopped. */
const startLoad = (url: string, everyMs: number) => {
  let running = true
  let finished = 0
  const loop = (async () => {
    while (running) {
      const { ids } = await fetch(`${url}/demo/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n: 2 }) })
        .then((r) => r.json() as Promise<{ ids: Array<number> }>)
      const cancelled = await fetch(`${url}/jobs/${ids[0]}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason: "load" }) })
      if (cancelled.ok) finished++
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return { stop: () => { running = false; return loop }, finished: () => finished }
}

beforeAll(async () => {
  if (!hasTmux) return
  daemon = await startDaemon(demoBin, ["--data-dir", tempDir(), "--plugins", "demo", "--set", "demo.workers=0"])
  await fetch(`${daemon.url}/demo/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n: 1, count: 40 }) })
  load = startLoad(daemon.url, 150)
  tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", "bash --norc --noprofile")
}, 30_000)

afterAll(async () => {
  if (!hasTmux) return
  await load?.stop()
  try {
    tmux("kill-server")
  } catch {
    // already gone
  }
  await daemon?.stop("SIGKILL")
})

describe.skipIf(!hasTmux)("orch tui in tmux", () => {
  it("fits 80×24 and 160×50, switches with :jobs, shows a job's history, cancels it in the daemon, leaves the scrollback intact", async () => {
    keys("-l", "echo scrollback-before-tui")
    keys("Enter")
    await showing("the shell's echo", (text) => text.includes("\nscrollback-before-tui"))
    // the installed command: it starts the TUI's own bundle
    // CI set, as in CI runs: on a terminal the TUI is interactive all the same
    keys("-l", `CI=true TERM=xterm-256color node ${orchBin} tui --url ${daemon.url}`)
    keys("Enter")
    await showing("the overview, live", (text) => text.includes("● live") && /demo\s+task\s+queued\s+40\b/.test(text))
    // the load's jobs finish: their kind's first row has the rate and the sparkline, the newest minute on the right
    await showing("the rate and its sparkline", (text) => /demo\s+task\s+cancelled\s+\d+\s+\d+(\.\d)?\s+[▁▂▃▄▅▆▇█]{5,}/.test(text))
    expect(load!.finished()).toBeGreaterThan(0)
    const overview = screen()
    expect(overview.every((line) => line.length <= 80)).toBe(true)
    expect(overview[0]).toContain(`orch  ${daemon.url}`)
    expect(overview.join("\n")).not.toContain("scrollback-before-tui")

    keys("-l", ":jobs")
    keys("Enter")
    await showing("the jobs view", (text) => Number(/jobs \((\d+)\)/.exec(text)?.[1] ?? 0) > 40)
    expect(screen()[0]).toContain(`orch  ${daemon.url}`)
    expect(screen().every((line) => line.length <= 80)).toBe(true)
    // newest first: the last row is the oldest job, one of the 40 the load never touches
    keys("G")
    keys("Enter")
    await showing("a job's history", (text) => /job \d+: demo\/task queued/.test(text) && text.includes("history (1)"))
    expect(screen().every((line) => line.length <= 80)).toBe(true)
    const id = Number(/job (\d+):/.exec(screen().join("\n"))![1])
    keys("c")
    await showing("the confirmation", (text) => text.includes(`cancel job ${id}? y to confirm`))
    keys("y")
    await showing("the cancel done", (text) => text.includes(`cancel job ${id}: done, now cancelled`) && text.includes("history (2)"))
    const answer = await fetch(`${daemon.url}/jobs/${id}`).then((r) => r.json() as Promise<{ job: { state: string } }>)
    expect(answer.job.state).toBe("cancelled")

    tmux("resize-window", "-t", "tui", "-x", "160", "-y", "50")
    keys("Escape")
    await showing("the jobs view at 160 columns", (text) => /jobs \(\d+\)/.test(text) && text.split("\n").length > 24)
    const wide = screen()
    expect(wide.every((line) => line.length <= 160)).toBe(true)
    expect(wide[0]).toContain(`orch  ${daemon.url}`)
    keys("-l", ":overview")
    keys("Enter")
    await showing("the overview at 160 columns, with 30 minutes of sparkline", (text) => text.includes("LAST 30 MIN") && /demo\s+task\s+cancelled\s+\d+\s+\d+(\.\d)?\s+[▁▂▃▄▅▆▇█]{30}/.test(text))
    expect(screen().every((line) => line.length <= 160)).toBe(true)
    expect(screen()[0]).toContain(`orch  ${daemon.url}`)
    keys("-l", ":jobs")
    keys("Enter")
    tmux("resize-window", "-t", "tui", "-x", "80", "-y", "24")
    await showing("the jobs view at 80 columns again", (text) => text.split("\n").every((line) => line.length <= 80) && /jobs \(\d+\)/.test(text))

    keys("q")
    await showing("the shell again, as it was", (text) => text.includes("scrollback-before-tui") && !text.includes("● live"))
    const history = tmux("capture-pane", "-p", "-t", "tui", "-S", "-200")
    expect(history).not.toContain("● live")
    expect(history).not.toMatch(/jobs \(\d+\)/)
  }, 90_000)
})
