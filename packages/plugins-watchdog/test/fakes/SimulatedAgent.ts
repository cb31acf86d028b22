/**
 * A wptagent stand-in for the fake WPT server: polls work/getwork.php, "runs" the test,
 * reports work/workdone.php with a zip of page data (one report per run of a sharded job,
 * as wptagent does); it can be slow, failing or silent.
 */
import * as zip from "./zip.js"

export interface AgentBehavior {
  /** How long one test takes, in real ms. */
  readonly testMs?: number
  readonly pollMs?: number
  /** URLs whose tests fail (the agent reports result 404). */
  readonly failing?: RegExp
  /** Stops polling (hangs) after this many tests. */
  readonly silentAfterTests?: number
}

/** A wptagent stand-in: polls getwork, runs the test, reports workdone with a zip of page data. */
export class SimulatedAgent {
  tests = 0
  silent = false
  private running = true
  private timer: NodeJS.Timeout | undefined
  private wake: (() => void) | undefined
  private readonly done: Promise<void>

  constructor(
    readonly server: string,
    readonly location: string,
    readonly pc: string,
    readonly instanceId: string,
    readonly behavior: AgentBehavior,
    readonly key = ""
  ) {
    this.done = this.loop()
  }

  private sleep(ms: number) {
    return new Promise<void>((resolve) => {
      this.wake = resolve
      this.timer = setTimeout(resolve, ms)
    })
  }

  private query(extra: Record<string, string> = {}) {
    return new URLSearchParams({ location: this.location, key: this.key, pc: this.pc, ec2: this.instanceId, version: "1", ...extra })
  }

  private async loop() {
    const poll = this.behavior.pollMs ?? 20
    while (this.running) {
      if (this.silent) {
        await this.sleep(poll)
        continue
      }
      try {
        const response = await fetch(`${this.server}/work/getwork.php?${this.query()}`)
        const text = await response.text()
        if (!this.running) break
        if (text === "" || !text.startsWith("{")) {
          await this.sleep(poll)
          continue
        }
        const job = JSON.parse(text) as { "Test ID": string; url: string; runs: number; run?: number }
        await this.sleep(this.behavior.testMs ?? 10)
        if (!this.running) break
        const fails = this.behavior.failing?.test(job.url) ?? false
        const files: Record<string, string> = {}
        // a sharded job is one run, reported on its own (wptagent: one workdone per run)
        const runs = job.run !== undefined ? [job.run] : Array.from({ length: job.runs }, (_, i) => i + 1)
        for (const run of runs) {
          files[`${run}_page_data.json`] = JSON.stringify(
            fails
              ? { result: 404, URL: job.url, loadTime: 0 }
              : { result: 0, URL: job.url, loadTime: 1000 + run * 10, TTFB: 200 + run, fullyLoaded: 1500 + run * 10, SpeedIndex: 900 }
          )
        }
        const form = new FormData()
        form.set("file", new Blob([zip.write(files)], { type: "application/zip" }), "result.zip")
        await fetch(`${this.server}/work/workdone.php?${this.query({ id: job["Test ID"], done: "1", ...(job.run !== undefined ? { run: String(job.run) } : {}) })}`, { method: "POST", body: form })
        this.tests++
        if (this.behavior.silentAfterTests !== undefined && this.tests >= this.behavior.silentAfterTests) this.silent = true
      } catch {
        await this.sleep(poll)
      }
    }
  }

  async stop() {
    this.running = false
    clearTimeout(this.timer)
    this.wake?.()
    await this.done
  }
}
