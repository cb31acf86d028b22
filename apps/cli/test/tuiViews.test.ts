/** The watcher's and the bench's views in the TUI, served by a real `orch run` through core's `/tui/views`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, orchBin, startDaemon, tempDir } from "@orch/testing"

let daemon: Daemon

beforeAll(async () => {
  daemon = await startDaemon(orchBin, ["--data-dir", tempDir(), "--plugins", "watcher,bench"])
}, 30_000)

afterAll(async () => {
  await daemon?.stop("SIGKILL")
})

const get = (path: string) => fetch(`${daemon.url}${path}`).then(async (r) => ({ status: r.status, body: await r.json() as any }))

describe("plugins' views over the API", () => {
  it("lists the bench's queue and alerts and the watcher's endpoints, and serves each as a table", async () => {
    const list = await get("/tui/views")
    expect(list.status).toBe(200)
    expect(list.body).toEqual(expect.arrayContaining([
      expect.objectContaining({ plugin: "bench", name: "queue" }),
      expect.objectContaining({ plugin: "bench", name: "alerts" }),
      expect.objectContaining({ plugin: "watcher", name: "endpoints" })
    ]))
    const endpoints = await get("/tui/views/watcher/endpoints")
    expect(endpoints.body.columns).toEqual(["ENDPOINT", "STATE", "FOR", "SINCE", "FAILURES IN A ROW", "CHECKED", "LATENCY (LAST 16)"])
    expect(endpoints.body.title).toMatch(/^watcher: \d+ endpoint\(s\) seen, \d+ down$/)
    const queue = await get("/tui/views/bench/queue")
    expect(queue.body.columns).toEqual(["COMMIT", "PRIORITY", "REASON", "QUEUED", "WORKER", "MESSAGE"])
    expect(queue.body.title).toMatch(/^bench: \d+ commit\(s\) queued$/)
    // each view's actions come with it, their paths under the plugin's mount
    expect(queue.body.actions.map((a: any) => a.path)).toEqual(["/bench/api/queue/{hash}"])
    expect(endpoints.body.actions.map((a: any) => a.path)).toEqual(["/watcher/api/endpoints/{endpoint}/check"])
    expect((await get("/tui/views/bench/alerts")).body.columns[0]).toBe("ALERT")
    expect((await get("/tui/views/bench/nope")).status).toBe(404)
  }, 30_000)
})
