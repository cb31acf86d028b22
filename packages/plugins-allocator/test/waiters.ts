/**
 * Many waiting allocations at once against a running daemon, over real HTTP (one
 * connection each), with the daemon's resident memory sampled meanwhile. Used by
 * Daemon.test.ts and by bench/waiters.ts.
 */
import * as fs from "node:fs"
import * as http from "node:http"

export interface Answer {
  readonly status: number
  readonly body: any
  /** When the request was sent, and its answer complete (performance.now(), ms). */
  readonly sentAt: number
  readonly answeredAt: number
}

/** One POST of `body` as JSON over `agent`. */
export const post = (agent: http.Agent, url: string, body: unknown) =>
  new Promise<Answer>((resolve, reject) => {
    const text = JSON.stringify(body)
    const sentAt = performance.now()
    const request = http.request(url, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) }
    }, (response) => {
      let data = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => (data += chunk))
      response.on("end", () => {
        let parsed: unknown = data
        try {
          parsed = JSON.parse(data)
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: response.statusCode ?? 0, body: parsed, sentAt, answeredAt: performance.now() })
      })
      response.on("error", reject)
    })
    request.on("error", reject)
    request.end(text)
  })

/** The resident set of process `pid` in bytes (VmRSS), or undefined once it is gone. */
export const residentBytes = (pid: number): number | undefined => {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

export interface WaitersRun {
  readonly answers: ReadonlyArray<Answer>
  /** How long after `waitSeconds` each answer came (ms; negative: before the wait ran out). */
  readonly lateness: ReadonlyArray<number>
  readonly maxRssBytes: number
}

/**
 * `count` allocations of `type` waiting `waitSeconds` each, all sent at once on as many
 * connections, while `pid`'s resident memory is sampled every 20 ms.
 */
export const waiters = async (options: {
  readonly url: string
  readonly pid: number
  readonly count: number
  readonly type: string
  readonly waitSeconds: number
}): Promise<WaitersRun> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.count })
  let maxRssBytes = residentBytes(options.pid) ?? 0
  const sampler = setInterval(() => (maxRssBytes = Math.max(maxRssBytes, residentBytes(options.pid) ?? 0)), 20)
  try {
    const answers = await Promise.all(Array.from({ length: options.count }, (_, i) =>
      post(agent, `${options.url}/allocator/leases`, {
        type: options.type,
        holder: `waiter-${i}`,
        ttlSeconds: 60,
        waitSeconds: options.waitSeconds
      })))
    maxRssBytes = Math.max(maxRssBytes, residentBytes(options.pid) ?? 0)
    return {
      answers,
      lateness: answers.map((answer) => answer.answeredAt - answer.sentAt - options.waitSeconds * 1000),
      maxRssBytes
    }
  } finally {
    clearInterval(sampler)
    agent.destroy()
  }
}

/** The `p`-th percentile (0–100) of `values`. */
export const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
}
