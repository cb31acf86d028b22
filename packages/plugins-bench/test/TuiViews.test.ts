/**
 * The bench's TUI views over real HTTP (a daemon in this process, seeded rows): the queue
 * with "drop", the recent runs with "queue again", the alerts; each action's path (and body)
 * filled from the row's keys as the TUI fills them, doing what it says.
 */
import { send } from "@orch/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { hashOf, type PagesServer, startPagesServer } from "./pagesServer.js"

let server: PagesServer

beforeAll(async () => {
  server = await startPagesServer()
}, 30_000)

afterAll(async () => {
  await server?.close()
})

const view = async (name: string) => (await send(`${server.url}/tui/views/bench/${name}`)).body as any
const fill = (value: unknown, row: Record<string, string>, encode = (s: string) => s): unknown =>
  typeof value === "string"
    ? value.replace(/\{(\w+)\}/g, (_, k: string) => encode(row[k]!))
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, row, encode)]))
    : value
const perform = (action: any, row: Record<string, string>) =>
  send(`${server.url}${fill(action.path, row, encodeURIComponent)}`, { method: action.method, body: fill(action.body, row) })

describe("bench views", () => {
  it("queue: drop a commit; runs: queue a run's commit again; alerts answer", async () => {
    const [queued, ran] = [hashOf(1), hashOf(2)]
    server.seed.commits([{ hash: queued }, { hash: ran, parents: [queued] }])
    server.seed.queue(queued)
    server.seed.run({ id: "run-1", hash: ran })

    const list = (await send(`${server.url}/tui/views`)).body
    expect(list.map((v: any) => v.name)).toEqual(["queue", "runs", "alerts"])
    const queue = await view("queue")
    expect(queue.rows.map((row: Array<string>) => row[0])).toEqual([queued.slice(0, 10)])
    expect(queue.keys).toEqual([{ hash: queued }])
    expect(queue.actions).toEqual([
      { key: "x", label: "drop from the queue", method: "DELETE", path: "/bench/api/queue/{hash}", role: "operate", confirm: true }
    ])
    expect((await perform(queue.actions[0], queue.keys[0])).status).toBe(200)
    expect((await view("queue")).rows).toEqual([])

    const runs = await view("runs")
    expect(runs.rows[0].slice(0, 2)).toEqual(["run-1", ran.slice(0, 10)])
    expect(runs.keys[0]).toEqual({ hash: ran })
    const again = await perform(runs.actions[0], runs.keys[0])
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ hash: ran, queued: true })
    expect((await view("queue")).keys).toEqual([{ hash: ran }])

    expect((await view("alerts")).columns[0]).toBe("ALERT")
  }, 30_000)
})
