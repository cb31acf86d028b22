/** The WPT client: its readers of PHP's JSON, and its calls against the fake server. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Wpt from "../src/Wpt.js"
import { FakeWpt } from "./fakes/FakeWpt.js"
import { SimulatedAgent } from "./fakes/SimulatedAgent.js"
import * as zip from "./fakes/zip.js"

const A = "us-central1-a--tor--agent1"

describe("WPT answers as PHP writes them", () => {
  it("reads getLocations with [] for no data, counts as text, and missing PendingTests", () => {
    expect(Wpt.parseLocations({ statusCode: 200, data: [] })).toEqual([])
    expect(Wpt.parseLocations({
      statusCode: 200,
      data: {
        [A]: { location: A, status: "OK", Browsers: "Tor Browser,Firefox", PendingTests: { Queued: "2", Testing: 1, Idle: "0", Total: "3" } },
        bare: { status: "OFFLINE" },
        junk: "x"
      }
    })).toEqual([
      { location: A, status: "OK", browsers: ["Tor Browser", "Firefox"], queued: 2, testing: 1, idle: 0, total: 3 },
      { location: "bare", status: "OFFLINE", browsers: [], queued: 0, testing: 0, idle: 0, total: 0 }
    ])
  })

  it("reads getTesters with testers as a list or an object, locations without testers, and no admin test id", () => {
    expect(Wpt.parseTesters({
      data: {
        [A]: { status: "OK", elapsed: "3", testers: { 0: { id: "t", pc: "p", ec2: "123", elapsed: "3", last: 70, busy: "1" } } },
        off: { status: "OFFLINE", label: "x" }
      }
    })).toEqual([
      { location: A, status: "OK", elapsed: 3, testers: [{ id: "t", pc: "p", instanceId: "123", elapsed: 3, last: 70, busy: true, test: undefined }] },
      { location: "off", status: "OFFLINE", elapsed: undefined, testers: [] }
    ])
  })

  it("reads jsonResult: median [] without successful runs, else the median's first view; garbage elapsed is ignored", () => {
    const failed = Wpt.parseResult({ statusCode: 200, statusText: "Test Complete", data: { successfulFVRuns: 0, testRuns: 2, median: [], runs: [] } })
    expect([failed.successfulFVRuns, failed.loadTime, failed.testRuns]).toEqual([0, undefined, 2])
    const ok = Wpt.parseResult({
      statusCode: 200,
      data: {
        successfulFVRuns: "1",
        testRuns: 1,
        completed: 1_700_000_000,
        summary: "http://w/results.php?test=1",
        median: { firstView: { loadTime: "1234", TTFB: 200, fullyLoaded: 2000, SpeedIndex: -1 } }
      }
    })
    expect(ok).toMatchObject({ successfulFVRuns: 1, loadTime: 1234, ttfb: 200, fullyLoaded: 2000, speedIndex: undefined, completedAt: 1_700_000_000_000 })
    // no median: the first successful run
    expect(Wpt.parseResult({ statusCode: 200, data: { successfulFVRuns: 1, runs: { 1: { firstView: { result: 404, loadTime: 1 } }, 2: { firstView: { result: 99999, loadTime: 7 } } } } }).loadTime).toBe(7)
    // still running: never counted as a result
    expect(Wpt.parseResult({ statusCode: 100, data: { successfulFVRuns: 1 } }).successfulFVRuns).toBe(0)
  })

  it("reads the test log's CSV as testlog.php writes it: C-locale dates, the location's label with HTML, quotes doubled in the URL only, PHP's warnings before it", () => {
    const csv = `\nDeprecated: Function strftime() is deprecated in /www/testlog.php on line 306\n` +
      `"Date/Time","Location","Test ID","URL","Label"\r\n` +
      `"12/01/26 03:29:32","Tor "agent", 1 - <b>Tor Browser</b> - <b>Native</b>","261201_AB_1","https://e.org/?q=""a"",""b""","my run orch-job-72-try-1"\r\n` +
      `"a date in another locale","x","261201_AB_2","https://e.org/",""\r\n` +
      `not a line\r\n`
    expect(Wpt.parseTestLog(csv)).toEqual([
      {
        loggedAt: Date.UTC(2026, 11, 1, 3, 29, 32),
        location: "Tor \"agent\", 1 - <b>Tor Browser</b> - <b>Native</b>",
        testId: "261201_AB_1",
        url: "https://e.org/?q=\"a\",\"b\"",
        label: "my run orch-job-72-try-1"
      },
      { loggedAt: undefined, location: "x", testId: "261201_AB_2", url: "https://e.org/", label: "" }
    ])
    expect(Wpt.parseTestLog("<html>Test Log</html>")).toEqual([])
  })

  it("reads testStatus's gmdate(\"m/d/y G:i:s\") times, an hour without its leading zero", () => {
    expect(Wpt.parseLogDate("12/01/26 7:24:46")).toBe(Date.UTC(2026, 11, 1, 7, 24, 46))
    expect(Wpt.parseLogDate("01/01/70 00:00:00")).toBe(0)
    expect(Wpt.parseLogDate("01.12.2026 07:24:46")).toBeUndefined()
  })
})

describe("WPT client", () => {
  it.effect("lists offline locations too (hidden=1), where plain getLocations answers data: []", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => new FakeWpt({ locations: [{ id: A }] }).start()), (f) => Effect.promise(() => f.close()))
      const plain = yield* Effect.promise(() => fetch(`${fake.url}/getLocations.php?f=json`).then((r) => r.json()))
      expect((plain as any).data).toEqual([])
      const wpt = Wpt.make({ server: fake.url, timeout: 2_000 })
      expect(yield* wpt.locations).toEqual([{ location: A, status: "OFFLINE", browsers: ["Chrome"], queued: 0, testing: 0, idle: 0, total: 0 }])
      expect(yield* wpt.testers).toEqual([{ location: A, status: "OFFLINE", elapsed: undefined, testers: [] }])
    }).pipe(Effect.scoped))

  it.effect("tells a rejection (statusCode in an HTTP 200) from an unreachable server or an answer that is not WPT's", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => new FakeWpt({ locations: [{ id: A }], apiKey: "k" }).start()), (f) => Effect.promise(() => f.close()))
      const noKey = Wpt.make({ server: fake.url, timeout: 2_000 })
      const rejected = yield* Effect.either(noKey.submit({ url: "https://e.org/", location: A, runs: 1, firstViewOnly: true, label: "l" }))
      expect(Either.isLeft(rejected) && rejected.left).toMatchObject({ _tag: "WptRejected", statusCode: 400, message: expect.stringContaining("An error occurred processing your request (missing API key).") })
      const keyed = Wpt.make({ server: `${fake.url}/`, key: Redacted.make("k"), timeout: 2_000 })
      const ok = yield* keyed.submit({ url: "https://e.org/", location: `${A}:Chrome.Native`, runs: 1, firstViewOnly: true, label: "l" })
      expect(ok.testId).toMatch(/^\d{6}_[A-Z]{1,2}\d_\d+$/)
      expect((yield* keyed.status(ok.testId)).statusCode).toBe(101)
      expect(yield* keyed.cancel(ok.testId)).toBe("cancelled")
      expect((yield* keyed.status(ok.testId)).statusCode).toBe(402)
      fake.unreachable = true
      const down = yield* Effect.either(keyed.status(ok.testId))
      expect(Either.isLeft(down) && down.left._tag).toBe("WptUnreachable")
      // a proxy's error page is not WPT's answer
      const proxy = http.createServer((req, res) =>
        req.url?.startsWith("/testlog.php")
          ? res.writeHead(200, { "content-type": "text/html" }).end("<html>Test Log</html>")
          : res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad Gateway</h1>"))
      yield* Effect.acquireRelease(Effect.promise(() => new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r))), () => Effect.promise(() => new Promise<void>((r) => proxy.close(() => r()))))
      const behindProxy = Wpt.make({ server: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, timeout: 2_000 })
      const bad = yield* Effect.either(behindProxy.locations)
      expect(Either.isLeft(bad) && bad.left).toMatchObject({ _tag: "WptUnreachable", message: "getLocations.php: HTTP 502" })
      // a test log that is not the CSV cannot say a test is absent
      const log = yield* Effect.either(behindProxy.testLog("orch-job-1-try-1", 1))
      expect(Either.isLeft(log) && log.left).toMatchObject({ _tag: "WptUnreachable", message: "testlog.php: HTTP 200 without the test log's CSV" })
      // the real one finds the test by its label
      fake.unreachable = false
      const labelled = yield* keyed.submit({ url: "https://e.org/x", location: A, runs: 1, firstViewOnly: true, label: "Mine orch-job-12-try-1" })
      yield* keyed.submit({ url: "https://e.org/y", location: A, runs: 1, firstViewOnly: true, label: "orch-job-12-try-11" })
      // case aside, anywhere in the line: both; the label column tells them apart
      const lines = yield* keyed.testLog("ORCH-job-12-try-1", 1)
      expect(lines.map((l) => [l.testId, l.label, l.location, l.url])).toEqual([
        [expect.any(String), "orch-job-12-try-11", `${A} - <b>Chrome</b> - <b>Cable</b>`, "https://e.org/y"],
        [labelled.testId, "Mine orch-job-12-try-1", `${A} - <b>Chrome</b> - <b>Cable</b>`, "https://e.org/x"]
      ])
      // an underscore is dropped from the filter: an older watchdog's tag never matched
      yield* keyed.submit({ url: "https://e.org/z", location: A, runs: 1, firstViewOnly: true, label: "watchdog_job_7_try_1_" })
      expect(yield* keyed.testLog("watchdog_job_7_try_1_", 1)).toEqual([])
    }).pipe(Effect.scoped))

  it.effect("cancels a one-run test outright, but only marks a sharded one, whose runs stay queued and still run (as the real server did)", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => new FakeWpt({ locations: [{ id: A }] }).start()), (f) => Effect.promise(() => f.close()))
      const wpt = Wpt.make({ server: fake.url, timeout: 2_000 })
      const single = yield* wpt.submit({ url: "https://e.org/1", location: A, runs: 1, firstViewOnly: true, label: "one" })
      const sharded = yield* wpt.submit({ url: "https://e.org/3", location: A, runs: 3, firstViewOnly: true, label: "three" })
      expect(yield* wpt.cancel(single.testId)).toBe("cancelled")
      expect(yield* wpt.cancel(sharded.testId)).toBe("marked")
      expect((yield* wpt.status(sharded.testId)).statusCode).toBe(402)
      // its three job files are still queued (the index counts the deleted one until a poll)
      expect((yield* wpt.locations)[0]!.queued).toBeGreaterThanOrEqual(3)
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new SimulatedAgent(fake.url, A, "agent1", "1", { testMs: 5, pollMs: 5 })),
        (a) => Effect.promise(() => a.stop())
      )
      yield* Effect.promise(async () => {
        while (agent.tests < 3) await new Promise((r) => setTimeout(r, 10))
      })
      const after = yield* wpt.status(sharded.testId)
      expect(after.statusCode).toBe(200)
      expect((yield* wpt.result(sharded.testId)).successfulFVRuns).toBe(3)
      expect((yield* wpt.status(single.testId)).statusCode).toBe(402)
      // a test already started is refused
      expect(yield* wpt.cancel(sharded.testId)).toBe("refused")
    }).pipe(Effect.scoped))

  it.effect("is told a busy tester's test by getTesters only with WPT's server key, not an ordinary API key (as the real server did)", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(
        Effect.promise(() => new FakeWpt({ locations: [{ id: A }], apiKey: "api", serverKey: "server" }).start()),
        (f) => Effect.promise(() => f.close())
      )
      const ordinary = Wpt.make({ server: fake.url, key: Redacted.make("api"), timeout: 2_000 })
      const admin = Wpt.make({ server: fake.url, key: Redacted.make("server"), timeout: 2_000 })
      const test = yield* admin.submit({ url: "https://e.org/", location: A, runs: 1, firstViewOnly: true, label: "l" })
      // the first poll meets the stale queue entry; the second takes the test
      for (let i = 0; i < 2; i++) yield* Effect.promise(() => fetch(`${fake.url}/work/getwork.php?location=${A}&pc=p1`))
      const seen = (wpt: Wpt.WptClientService) => Effect.map(wpt.testers, (ls) => ls[0]!.testers.map((t) => [t.busy, t.test]))
      expect(yield* seen(ordinary)).toEqual([[true, undefined]])
      expect(yield* seen(admin)).toEqual([[true, test.testId]])
    }).pipe(Effect.scoped))

  it.effect("reads the median run as WPT picks it: by loadTime among the successful runs, not the middle run number", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => new FakeWpt({ locations: [{ id: A }], disableSharding: true }).start()), (f) => Effect.promise(() => f.close()))
      const wpt = Wpt.make({ server: fake.url, timeout: 2_000 })
      const test = yield* wpt.submit({ url: "https://e.org/", location: A, runs: 4, firstViewOnly: true, label: "l" })
      yield* Effect.promise(async () => {
        let job = ""
        while (!job.startsWith("{")) job = await (await fetch(`${fake.url}/work/getwork.php?location=${A}&pc=p1`)).text()
        const page = (result: number, loadTime: number) => JSON.stringify({ result, loadTime, TTFB: loadTime / 10 })
        const form = new FormData()
        const files = { "1_page_data.json": page(0, 1300), "2_page_data.json": page(0, 1100), "3_page_data.json": page(404, 900), "4_page_data.json": page(0, 1200) }
        form.set("file", new Blob([zip.write(files)], { type: "application/zip" }), "result.zip")
        await fetch(`${fake.url}/work/workdone.php?id=${test.testId}&location=${A}&pc=p1&done=1`, { method: "POST", body: form })
      })
      const result = yield* wpt.result(test.testId)
      // successful runs sorted 1100 (2), 1200 (4), 1300 (1): floor((3-1)/2) is 1200, the failed 900 left out
      expect([result.successfulFVRuns, result.testRuns, result.loadTime, result.ttfb]).toEqual([3, 4, 1200, 120])
    }).pipe(Effect.scoped))
})
