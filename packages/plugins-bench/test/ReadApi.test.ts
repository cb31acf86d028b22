/**
 * The read API over a real daemon (in this process, a real SQLite file) seeded with rows:
 * refs, alerts, a commit by any of its names, a run, a compare, the graph's downsampling,
 * and a clear 4xx for what cannot be answered.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { minMaxBuckets } from "../src/pages/Downsample.js"
import { hashOf, type PagesServer, startPagesServer } from "./pagesServer.js"

let server: PagesServer
const main = "a1" + "0".repeat(38)
const parent = "b2" + "0".repeat(38)
const other = "b3" + "0".repeat(38)

beforeAll(async () => {
  server = await startPagesServer()
  server.seed.commits([
    { hash: parent, message: "parent commit", date: 1_700_000_000_000 },
    { hash: main, message: "main commit\n\nwith a body", date: 1_700_000_060_000, parents: [parent] },
    { hash: other, message: "other", date: 1_700_000_030_000, parents: [parent] },
    { hash: "cc001".padEnd(40, "0"), date: 1_600_000_000_000 },
    { hash: "cc002".padEnd(40, "0"), date: 1_600_000_000_000 }
  ])
  server.seed.ref("refs/heads/main", main, true)
  server.seed.ref("refs/heads/feature", other, false)
  server.seed.ref("refs/tags/v1.0", parent, false)
  server.seed.run({ id: "run-p", hash: parent, measurements: { "sort/time": { value: 10, unit: "ms", direction: -1 } }, fingerprint: { cpu: "x" } })
  server.seed.run({
    id: "run-m",
    hash: main,
    measurements: { "sort/time": { value: 12, unit: "ms", direction: -1 } },
    output: [[1, "hello"], [2, "oops"]],
    fingerprint: { cpu: "x" }
  })
  server.seed.queue(other, 5, "manual")
  server.seed.alert(1, parent, main, "blamed", main, [{ metric: "sort/time", before: 10, after: 12, p: 0.0001, regression: true }])
}, 60_000)
afterAll(async () => {
  await server?.close()
})

const get = async (path: string) => {
  const response = await fetch(`${server.url}${path}`)
  return { status: response.status, body: await response.json() as any }
}

describe("the read API", () => {
  it("lists the refs, tracked first, with their commit and newest run", async () => {
    const { status, body } = await get("/bench/api/refs")
    expect(status).toBe(200)
    expect(body.map((r: any) => [r.name, r.tracked, r.newestRun])).toEqual([
      ["refs/heads/main", true, "run-m"],
      ["refs/heads/feature", false, null],
      ["refs/tags/v1.0", false, "run-p"]
    ])
    expect(body[0].subject).toBe("main commit")
  })

  it("lists alerts with the metrics they moved", async () => {
    const { body } = await get("/bench/api/alerts")
    expect(body).toHaveLength(1)
    expect(body[0]).toMatchObject({ id: 1, goodHash: parent, badHash: main, blamedHash: main, state: "blamed" })
    expect(body[0].metrics[0]).toMatchObject({ metric: "sort/time", change: 0.2, regression: true })
    expect((await get("/bench/api/alerts?limit=0")).status).toBe(400)
  })

  it("finds a commit by its hash, a unique prefix, a ref or a branch or tag name", async () => {
    for (const rev of [main, "a1000", "main", "refs/heads/main"]) {
      const { status, body } = await get(`/bench/api/commit/${rev}`)
      expect(status, rev).toBe(200)
      expect(body.hash).toBe(main)
    }
    const { body } = await get(`/bench/api/commit/main`)
    expect(body.parents).toEqual([{ hash: parent, subject: "parent commit" }])
    expect(body.refs).toEqual([{ name: "refs/heads/main", tracked: true }])
    expect(body.runs.map((r: any) => r.id)).toEqual(["run-m"])
    expect((await get("/bench/api/commit/v1.0")).body.hash).toBe(parent)
    expect((await get(`/bench/api/commit/${parent}`)).body.children.map((c: any) => c.hash)).toEqual([other, main])
    expect((await get(`/bench/api/commit/${other}`)).body.queue).toMatchObject({ priority: 5, reason: "manual" })
  })

  it("says 404 for an unknown commit and 400 for an ambiguous prefix", async () => {
    const missing = await get("/bench/api/commit/nope")
    expect(missing.status).toBe(404)
    expect(missing.body.error).toContain("nope")
    const ambiguous = await get("/bench/api/commit/cc00")
    expect(ambiguous.status).toBe(400)
    expect(ambiguous.body.error).toContain("several commits")
    expect((await get("/bench/api/commit/cc001")).body.hash).toBe("cc001".padEnd(40, "0"))
    // a prefix needs 4 digits
    expect((await get("/bench/api/commit/cc0")).status).toBe(404)
  })

  it("shows a run with its measurements and output", async () => {
    const { status, body } = await get("/bench/api/run/run-m")
    expect(status).toBe(200)
    expect(body.measurements).toEqual([
      { metric: "sort/time", value: 12, lowerValue: null, upperValue: null, samples: null, unit: "ms", direction: -1 }
    ])
    expect(body.output).toEqual([{ line: 0, source: "stdout", text: "hello" }, { line: 1, source: "stderr", text: "oops" }])
    expect((await get("/bench/api/run/none")).status).toBe(404)
  })

  it("compares runs named by id, commit or branch", async () => {
    const byIds = await get("/bench/api/compare/run-p/run-m")
    expect(byIds.status).toBe(200)
    const byNames = await get("/bench/api/compare/v1.0/main")
    expect(byNames.body).toEqual(byIds.body)
    expect(byIds.body.metrics[0]).toMatchObject({ metric: "sort/time", before: 10, after: 12, change: 0.2, basis: "single", verdict: "not judged" })
    expect(byIds.body.environment).toEqual({ match: true, differing: [], unknown: false })
    const noRun = await get("/bench/api/compare/run-p/feature")
    expect(noRun.status).toBe(404)
    expect(noRun.body.error).toContain("has no run")
  })
})

describe("the graph's data", () => {
  it("gives each metric's history, a point per commit (the mean of its runs), oldest first", async () => {
    // a second run of main: the point is the mean
    server.seed.run({ id: "run-m2", hash: main, measurements: { "sort/time": { value: 14 } } })
    const { status, body } = await get("/bench/api/graph?metrics=sort/time")
    expect(status).toBe(200)
    const [series] = body.metrics
    expect(series).toMatchObject({ name: "sort/time", unit: "ms", direction: -1, total: 2, x: [1_700_000_000_000, 1_700_000_060_000], y: [10, 13], hash: [parent, main] })
    expect((await get("/bench/api/graph")).body.available).toEqual([{ name: "sort/time", unit: "ms", direction: -1 }])
    const ranged = await get(`/bench/api/graph?metric=sort/time&from=main&to=main`)
    expect(ranged.body.metrics[0].hash).toEqual([main])
  })

  it("refuses bad points, unknown metrics and unknown revs with what is wrong", async () => {
    expect((await get("/bench/api/graph?metrics=sort/time&points=1")).body.error).toContain("points")
    expect((await get("/bench/api/graph?metrics=sort/time&points=x")).status).toBe(400)
    expect((await get("/bench/api/graph?metrics=nope")).status).toBe(404)
    expect((await get("/bench/api/graph?metrics=sort/time&from=nope")).status).toBe(404)
    expect((await get("/bench/api/graph?metrics=sort/time&since=soon")).status).toBe(400)
  })

  it("downsamples to at most the points asked for, keeping each bucket's lowest and highest", () => {
    const n = 10_000
    const x = Array.from({ length: n }, (_, i) => i)
    const y = x.map((i) => (i === 5_000 ? 1000 : i % 7))
    const hash = x.map((i) => hashOf(i))
    const down = minMaxBuckets({ x, y, hash }, 200)
    expect(down.x.length).toBeLessThanOrEqual(200)
    expect(down.x.length).toBeGreaterThan(150)
    // the spike survives, and x stays in order
    expect(down.y).toContain(1000)
    expect(down.hash[down.y.indexOf(1000)]).toBe(hashOf(5_000))
    expect([...down.x].sort((a, b) => a - b)).toEqual(down.x)
    expect(Math.min(...down.y)).toBe(0)
    // a short series is returned whole
    expect(minMaxBuckets({ x: [1, 2], y: [3, 4], hash: ["a", "b"] }, 10)).toEqual({ x: [1, 2], y: [3, 4], hash: ["a", "b"] })
  })
})
