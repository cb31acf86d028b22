/**
 * A WebPageTest server double speaking WPT's wire protocol on 127.0.0.1, quirks
 * included: errors as HTTP 200 with a `statusCode` in the body, `[]` for empty objects,
 * a queue count that can be one too high after a location's first submission (and an
 * agent poll that then comes back empty), a running test past `max_run_minutes` that
 * answers 400 once and 200 after, cancelTest.php answering HTML only (and leaving a
 * sharded test's job files queued).
 *
 * Each behaviour follows the WPT file named beside it (catchpoint/WebPageTest, `www/`); none
 * of WPT's code is here. The test log (testlog.php) is kept as WPT keeps it: one file of
 * tab-separated lines per UTC day, written by runtest.php after the test is queued, read
 * back through testlog.php's filter.
 *
 * The agent side (work/getwork.php, work/workdone.php) is served too and driven by
 * `SimulatedAgent`s, which can be slow, failing or silent. `now` and `minuteMs` let a
 * test compress WPT's minutes (getTesters' `elapsed`) or drive them from its own clock.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { FakeTestLog } from "./FakeTestLog.js"
import * as zip from "./zip.js"

export interface FakeLocation {
  readonly id: string
  readonly browsers?: ReadonlyArray<string>
  readonly label?: string
}

export interface FakeWptOptions {
  readonly locations: ReadonlyArray<FakeLocation>
  /** When set, runtest.php needs this key (keys.ini `[server] secret`). */
  readonly apiKey?: string
  /**
   * keys.ini `[server] key`: accepted by runtest.php too, and the only key for which
   * getTesters.php adds each tester's current `test` (an ordinary API key does not: seen on
   * the real server).
   */
  readonly serverKey?: string
  /** Where the key is read: new servers read the header only, servers up to 23.01 read k=. */
  readonly keyFrom?: "header" | "param"
  /** The agents' location key. */
  readonly locationKey?: string
  readonly now?: () => number
  /** Real ms per WPT minute, for elapsed/last/max_run_minutes. */
  readonly minuteMs?: number
  readonly maxRunMinutes?: number
  /** runtest.php works this long before it queues and logs the test (and answers). */
  readonly runtestDelayMs?: number
  /** runtest.php waits this long after queuing and logging the test, before answering. */
  readonly answerDelayMs?: number
  /** WPT's disable_sharding setting: a test of N runs is one job file, not N. */
  readonly disableSharding?: boolean
  /** testStatus.php waits this long before answering. */
  readonly statusDelayMs?: number
  /** URLs the spam filter rejects. */
  readonly blocked?: RegExp
}

export interface FakeTest {
  readonly id: string
  readonly location: string
  readonly browser: string
  readonly connectivity: string
  readonly label: string
  readonly url: string
  readonly script: string | undefined
  readonly runs: number
  readonly fvonly: boolean
  state: "queued" | "running" | "complete" | "cancelled"
  readonly submittedAt: number
  startedAt?: number
  completedAt?: number
  tester?: string
  /** A timed-out test has answered its one 400. */
  timeoutAnswered?: boolean
  pages: Record<number, Record<string, unknown>>
  /** Runs reported done one by one (a sharded test completes when all are). */
  readonly runsDone: Set<number>
  /**
   * Marked cancelled while its job files stay queued (cancelTest.php on a sharded test):
   * testStatus answers 402 until its runs, which agents are still handed, complete it.
   */
  cancelMarked?: boolean
}

/** A job file in a location's work directory: a whole test, or one run of a sharded one. */
interface JobFile {
  readonly id: string
  readonly run: number | undefined
}

interface TesterRecord {
  pc: string
  ec2: string
  lastPoll: number
  lastWork: number | undefined
  busy: boolean
  test: string | undefined
}

export class FakeWpt {
  readonly tests = new Map<string, FakeTest>()
  /** Every runtest.php that created a test, in order. */
  readonly submissions: Array<FakeTest> = []
  /** Requests served, by endpoint. */
  readonly hits = new Map<string, number>()
  /** Most requests served at once, by endpoint. */
  readonly peaks = new Map<string, number>()
  /** When true, every request's connection is dropped (WPT unreachable). */
  unreachable = false
  private readonly queues = new Map<string, Array<JobFile>>()
  /** The test log (runtest.php writes it, testlog.php reads it). */
  readonly testLog = new FakeTestLog()
  private readonly serving = new Map<string, number>()
  private readonly stale = new Map<string, number>()
  private readonly everSubmitted = new Set<string>()
  private readonly testers = new Map<string, Map<string, TesterRecord>>()
  private server: http.Server | undefined
  private counter = 0
  url = ""

  constructor(readonly options: FakeWptOptions) {
    for (const location of options.locations) this.queues.set(location.id, [])
  }

  now = (): number => (this.options.now ?? Date.now)()
  private get minute() {
    return this.options.minuteMs ?? 60_000
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** Tests created for a job: the watchdog's tag ends the label. */
  testsOfJob(jobId: number): Array<FakeTest> {
    return this.submissions.filter((t) => new RegExp(`(^| )orch-job-${jobId}-([0-9a-z]+-)?try-\\d+$`).test(t.label))
  }

  /** The tests queued at a location, one entry per job file (a sharded test has one per run). */
  queueOf(location: string): ReadonlyArray<string> {
    return (this.queues.get(location) ?? []).map((file) => file.id)
  }

  // -- HTTP ----------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    if (this.unreachable) return req.socket.destroy()
    const url = new URL(req.url ?? "/", "http://fake")
    const body = await new Promise<Buffer>((resolve) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => resolve(Buffer.concat(chunks)))
    })
    const params = new URLSearchParams(url.search)
    if ((req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(body.toString())) params.set(k, v)
    }
    const endpoint = url.pathname.replace(/^\//, "")
    this.hits.set(endpoint, (this.hits.get(endpoint) ?? 0) + 1)
    const serving = (this.serving.get(endpoint) ?? 0) + 1
    this.serving.set(endpoint, serving)
    this.peaks.set(endpoint, Math.max(this.peaks.get(endpoint) ?? 0, serving))
    res.on("close", () => this.serving.set(endpoint, this.serving.get(endpoint)! - 1))
    const json = (value: unknown) => {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "access-control-allow-origin": "*" })
      res.end(JSON.stringify(value))
    }
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()]
      return Array.isArray(value) ? value[0] : value
    }
    try {
      switch (endpoint) {
        case "runtest.php":
          return await this.runtest(params, header("x-wpt-api-key"), res, json)
        case "testStatus.php":
          if (this.options.statusDelayMs) await new Promise((r) => setTimeout(r, this.options.statusDelayMs))
          return json(this.testStatus(params.get("test") ?? ""))
        case "jsonResult.php":
          return json(this.jsonResult(params.get("test") ?? ""))
        case "getLocations.php":
          if (params.get("f") !== "json") return this.xml(res)
          return json(this.getLocations(params.get("hidden") === "1"))
        case "getTesters.php":
          if (params.get("f") !== "json") return this.xml(res)
          return json(this.getTesters(header("x-wpt-api-key") !== undefined && header("x-wpt-api-key") === this.options.serverKey))
        case "cancelTest.php":
          return this.cancelTest(params.get("test") ?? "", res)
        case "testlog.php":
          return this.testlog(params, res)
        case "work/getwork.php":
          return this.getwork(params, res)
        case "work/workdone.php":
          return await this.workdone(params, req, body, res)
        default:
          res.writeHead(404, { "content-type": "text/html" })
          return res.end("<h1>Not Found</h1>")
      }
    } catch (error) {
      res.writeHead(500, { "content-type": "text/plain" })
      res.end(String(error))
    }
  }

  private xml(res: http.ServerResponse) {
    res.writeHead(200, { "content-type": "text/xml" })
    res.end("<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><statusCode>200</statusCode></response>")
  }

  private async runtest(
    params: URLSearchParams,
    headerKey: string | undefined,
    res: http.ServerResponse,
    json: (value: unknown) => void
  ) {
    const fail = (statusText: string) => json({ statusCode: 400, statusText, ...(params.has("r") ? { requestId: params.get("r") } : {}) })
    if (this.options.apiKey !== undefined) {
      const given = (this.options.keyFrom ?? "header") === "header" ? headerKey : params.get("k") ?? undefined
      // runtest.php's messages as the 2025 server (4e157836c) words them; older ones end differently
      if (given === undefined || given === "") {
        return fail("An error occurred processing your request (missing API key). If you do not have an API key you can purchase one here: https://product.webpagetest.org/api")
      }
      if (given !== this.options.apiKey && given !== this.options.serverKey) {
        return fail("Invalid API key. To continue running tests via the WebPageTest API, you'll need to update your current key for the enhanced WebPageTest API. Read more here: https://product.webpagetest.org/api")
      }
    }
    const [locationId, rest] = (params.get("location") ?? "").split(":") as [string, string | undefined]
    const location = this.options.locations.find((l) => l.id === locationId)
    if (location === undefined) return fail("Invalid Location, please try submitting your test request again.")
    const [browser, connectivity] = (rest ?? "").split(".")
    const script = params.get("script") ?? undefined
    let url = params.get("url") ?? ""
    if (url === "" && script !== undefined) url = /navigate\t(\S+)/.exec(script)?.[1] ?? ""
    if (url === "") return fail("Invalid URL, please try submitting your test request again.")
    if (this.options.blocked?.test(url)) {
      return fail("Your test request was intercepted by our spam filters (or because we need to talk to you about how you are submitting tests)")
    }
    if (params.get("f") !== "json") {
      res.writeHead(302, { location: "/result/" })
      return res.end()
    }
    if (this.options.runtestDelayMs) await new Promise((r) => setTimeout(r, this.options.runtestDelayMs))
    const date = new Date(this.now())
    const ymd = `${String(date.getUTCFullYear()).slice(2)}${String(date.getUTCMonth() + 1).padStart(2, "0")}${String(date.getUTCDate()).padStart(2, "0")}`
    const id = `${ymd}_${"ABCDEFGHJKMNPQRSTVWXYZ"[this.counter % 22]}${(this.counter % 9) + 1}_${++this.counter}`
    const test: FakeTest = {
      id,
      location: location.id,
      browser: browser || location.browsers?.[0] || "Chrome",
      connectivity: connectivity || "Cable",
      // runtest.php: preg_replace('/[^\w\d \-_\.]/', '', trim($req_label)), byte by byte
      label: Buffer.from((params.get("label") ?? "").trim(), "utf8").toString("latin1").replace(/[^A-Za-z0-9_ .-]/g, ""),
      url,
      script,
      runs: Math.min(10, Math.max(1, Number(params.get("runs") ?? 1) || 1)),
      fvonly: params.get("fvonly") === "1" || params.get("rv") === "0",
      state: "queued",
      submittedAt: this.now(),
      pages: {},
      runsDone: new Set()
    }
    this.tests.set(id, test)
    this.submissions.push(test)
    // common_lib.inc AddTestJob: one job file per run, so the runs can go to several agents,
    // unless disable_sharding
    const files = this.options.disableSharding || test.runs === 1 ? 1 : test.runs
    for (let run = 1; run <= files; run++) this.queues.get(location.id)!.push({ id, run: files > 1 ? run : undefined })
    // the file-based queue index keeps a stale entry after a location's first job
    if (!this.everSubmitted.has(location.id)) {
      this.everSubmitted.add(location.id)
      this.stale.set(location.id, 1)
    }
    this.log(test, params.get("private") === "1", location)
    if (this.options.answerDelayMs) await new Promise((r) => setTimeout(r, this.options.answerDelayMs))
    json({
      statusCode: 200,
      statusText: "Ok",
      data: {
        testId: id,
        jsonUrl: `${this.url}/jsonResult.php?test=${id}`,
        xmlUrl: `${this.url}/xmlResult.php?test=${id}`,
        userUrl: `${this.url}/results.php?test=${id}`,
        summaryCSV: `${this.url}/csv.php?test=${id}`,
        detailCSV: `${this.url}/csv.php?test=${id}&amp;requests=1`
      }
    })
  }

  /** A running test past max_run_minutes is completed by the first poll, which answers 400. */
  private timeout(test: FakeTest): boolean {
    const limit = (this.options.maxRunMinutes ?? 60) * this.minute
    if (test.state === "running" && test.startedAt !== undefined && this.now() - test.startedAt > limit) {
      test.state = "complete"
      test.completedAt = this.now()
      test.pages = {}
      test.timeoutAnswered = true
      this.releaseTester(test)
      return true
    }
    return false
  }

  private releaseTester(test: FakeTest) {
    const tester = test.tester === undefined ? undefined : this.testers.get(test.location)?.get(test.tester)
    if (tester !== undefined && tester.test === test.id) {
      tester.busy = false
      tester.test = undefined
    }
  }

  private statusOf(test: FakeTest) {
    const base = { id: test.id, testId: test.id, runs: test.runs, fvonly: test.fvonly ? 1 : 0, location: test.location, testInfo: { label: test.label, url: test.url } }
    // testStatus.inc GetTestStatus: test.complete first, then testinfo's `cancelled`
    if (test.cancelMarked === true && test.state !== "complete") return { statusCode: 402, statusText: "Test Cancelled", data: base }
    switch (test.state) {
      case "queued": {
        const position = this.queueOf(test.location).indexOf(test.id)
        return position <= 0
          ? { statusCode: 101, statusText: "Waiting at the front of the queue...", data: { ...base, behindCount: 0 } }
          : { statusCode: 101, statusText: `Waiting behind ${position} other tests...`, data: { ...base, behindCount: position } }
      }
      case "running": {
        const seconds = Math.round((this.now() - (test.startedAt ?? this.now())) / 1000)
        return {
          statusCode: 100,
          statusText: seconds < 1 ? "Test just started" : `Test Started ${seconds} seconds ago`,
          data: { ...base, startTime: gmdate(test.startedAt ?? 0), elapsed: -1795447106 }
        }
      }
      case "cancelled":
        return { statusCode: 402, statusText: "Test Cancelled", data: base }
      case "complete":
        return {
          statusCode: 200,
          statusText: "Test Complete",
          data: { ...base, startTime: gmdate(test.startedAt ?? 0), completeTime: gmdate(test.completedAt ?? 0) }
        }
    }
  }

  private testStatus(id: string) {
    const test = this.tests.get(id)
    if (test === undefined) return { statusCode: 400, statusText: "Test not found", data: { statusCode: 400, statusText: "Test not found", id } }
    if (this.timeout(test)) return { statusCode: 400, statusText: "Test not found", data: { statusCode: 400, statusText: "Test not found", id } }
    const status = this.statusOf(test)
    return { statusCode: status.statusCode, statusText: status.statusText, data: { ...status.data, statusCode: status.statusCode, statusText: status.statusText } }
  }

  private jsonResult(id: string) {
    const test = this.tests.get(id)
    if (test === undefined || this.timeout(test)) return { statusCode: 400, statusText: "Test not found" }
    if (test.state === "queued") return { statusCode: 101, statusText: "Test pending", id }
    if (test.state === "running") return { statusCode: 100, statusText: "Test Started", id }
    if (test.state === "cancelled" || (test.cancelMarked === true && test.state !== "complete")) return { statusCode: 402, statusText: "Test Cancelled", id }
    const runs: Record<string, unknown> = {}
    const good: Array<Record<string, unknown>> = []
    const all: Array<Record<string, unknown>> = []
    for (let run = 1; run <= test.runs; run++) {
      const page = test.pages[run]
      if (page === undefined) continue
      runs[String(run)] = { firstView: { ...page, URL: test.url, run } }
      all.push({ ...page, run })
      if (page.result === 0 || page.result === 99999) good.push({ ...page, run })
    }
    // include/TestResults.php getMedianRunNumber: runs sorted by loadTime, the successful ones,
    // else all (so a failed test has a median too: seen on the real server), index floor((n-1)/2)
    const candidates = (good.length > 0 ? good : all)
      .filter((page) => typeof page.loadTime === "number")
      .sort((a, b) => (a.loadTime as number) - (b.loadTime as number))
    const median = candidates.length === 0 ? [] : { firstView: { ...candidates[Math.floor((candidates.length - 1) / 2)]!, URL: test.url } }
    const location = this.options.locations.find((l) => l.id === test.location)
    return {
      statusCode: 200,
      statusText: "Test Complete",
      webPagetestVersion: "24.12",
      data: {
        id: test.id,
        url: test.url,
        summary: `${this.url}/results.php?test=${test.id}`,
        testUrl: test.url,
        location: `${test.location}:${test.browser}`,
        from: location?.label ?? test.location,
        connectivity: test.connectivity,
        label: test.label,
        completed: Math.floor((test.completedAt ?? 0) / 1000),
        tester: test.tester ?? "",
        testRuns: test.runs,
        fvonly: test.fvonly,
        successfulFVRuns: good.length,
        average: good.length === 0 ? [] : { firstView: good[0] },
        standardDeviation: [],
        median,
        runs: Object.keys(runs).length === 0 ? [] : runs
      }
    }
  }

  private minutesSince(at: number | undefined): number {
    return at === undefined ? 0 : Math.floor((this.now() - at) / this.minute)
  }

  private getLocations(hidden: boolean) {
    const data: Record<string, unknown> = {}
    for (const location of this.options.locations) {
      const testers = [...(this.testers.get(location.id)?.values() ?? [])]
      const recent = testers.filter((t) => this.minutesSince(t.lastPoll) < 30)
      if (!hidden && recent.length === 0) continue
      const queued = this.queueOf(location.id).length + (this.stale.get(location.id) ?? 0)
      const testing = recent.filter((t) => t.busy).length
      const idle = recent.filter((t) => !t.busy).length
      const p: Record<string, number> = {}
      for (let i = 1; i <= 9; i++) p[`p${i}`] = i === 7 ? queued : 0
      data[location.id] = {
        Label: location.label ?? location.id,
        location: location.id,
        Browsers: (location.browsers ?? ["Chrome"]).join(","),
        status: testers.some((t) => this.minutesSince(t.lastPoll) < 60) ? "OK" : "OFFLINE",
        labelShort: location.label ?? location.id,
        group: "Desktop",
        PendingTests: {
          ...p,
          Blocking: 0,
          Total: queued + testing,
          Queued: queued,
          HighPriority: 0,
          LowPriority: queued,
          Testing: testing,
          Idle: idle,
          TestAgentRatio: testing + idle === 0 ? 0 : (queued + testing) / (testing + idle)
        }
      }
    }
    // PHP writes an empty array, not an empty object
    return { statusCode: 200, statusText: "Ok", data: Object.keys(data).length === 0 ? [] : data }
  }

  private getTesters(admin: boolean) {
    const data: Record<string, unknown> = {}
    for (const location of this.options.locations) {
      const testers = [...(this.testers.get(location.id)?.values() ?? [])]
      if (testers.length === 0) {
        data[location.id] = { status: "OFFLINE", label: location.label ?? location.id }
        continue
      }
      data[location.id] = {
        testers: testers.map((t) => ({
          // work/getwork.php: the tester is its instance id when it gives one, else pc-address
          id: t.ec2 || `${t.pc}-127.0.0.1`,
          pc: t.pc,
          ec2: t.ec2,
          ip: "127.0.0.1",
          version: "19.04",
          freedisk: "50",
          upminutes: "10",
          dns: "",
          offline: null,
          screenwidth: "",
          screenheight: "",
          rebooted: false,
          cpu: 12,
          errors: 0,
          elapsed: this.minutesSince(t.lastPoll),
          // common_lib.inc GetTesters: `last` only once it was given work
          ...(t.lastWork === undefined ? {} : { last: this.minutesSince(t.lastWork) }),
          busy: t.busy ? 1 : 0,
          ...(admin && t.test !== undefined ? { test: t.test } : {})
        })),
        elapsed: Math.min(...testers.map((t) => this.minutesSince(t.lastPoll))),
        status: testers.some((t) => this.minutesSince(t.lastPoll) < 60) ? "OK" : "OFFLINE",
        label: location.label ?? location.id
      }
    }
    return { statusCode: 200, statusText: "Ok", data }
  }

  private cancelTest(id: string, res: http.ServerResponse) {
    const test = this.tests.get(id)
    let deleted = false
    if (test !== undefined && test.state === "queued" && test.cancelMarked !== true) {
      // cancelTest.php CancelTest: testinfo gets `cancelled` (testStatus: 402), but the job
      // file is deleted only when exactly one matches `*.<id>.p<priority>`; a sharded test's
      // N files stay queued, agents are still handed them, and the test completes after all
      // (seen on the real server: runs=3 cancelled, then run by its agent, 200 Test Complete)
      const queue = this.queues.get(test.location)!
      const files = queue.filter((file) => file.id === test.id)
      if (files.length === 1) {
        test.state = "cancelled"
        queue.splice(0, queue.length, ...queue.filter((file) => file.id !== test.id))
        // the queue index keeps counting it until the next agent poll
        this.stale.set(test.location, (this.stale.get(test.location) ?? 0) + 1)
        deleted = true
      } else {
        test.cancelMarked = true
      }
    }
    // the page says so only when CancelTest deleted the file; otherwise just the Back button
    res.writeHead(200, { "content-type": "text/html" })
    res.end(`${deleted ? "<h3 align=\"center\">Test cancelled!</h3>" : ""}<form><input type="button" value="Back" onClick="history.go(-1);return true;"> </form>`)
  }

  /** runtest.php LogTest, after the test is queued: the location as its label with the browser and connectivity in HTML. */
  private log(test: FakeTest, isPrivate: boolean, location: FakeLocation) {
    const locationText = `${location.label ?? location.id} - <b>${test.browser}</b> - <b>${test.connectivity}</b>`
    this.testLog.append(this.now(), [test.id, test.url, locationText, isPrivate ? "1" : "0", "", "", "0", test.label, "", "", String(test.runs), "7", "", "0"])
  }

  private testlog(params: URLSearchParams, res: http.ServerResponse) {
    if ((params.get("f") ?? "").toLowerCase() !== "csv") {
      res.writeHead(200, { "content-type": "text/html" })
      return res.end("<html><body><h1>Test History</h1></body></html>")
    }
    res.writeHead(200, { "content-type": "text/csv" })
    res.end(this.testLog.csv(params, this.now()))
  }

  private agentAuthorized(params: URLSearchParams) {
    const location = params.get("location") ?? ""
    const known = this.options.locations.some((l) => l.id === location)
    return known && (this.options.locationKey === undefined || params.get("key") === this.options.locationKey)
  }

  private getwork(params: URLSearchParams, res: http.ServerResponse) {
    const empty = () => {
      res.writeHead(200, { "content-type": "text/plain" })
      res.end("")
    }
    // a wrong key is silent and the tester is not registered
    if (!this.agentAuthorized(params)) return empty()
    const location = params.get("location")!
    const pc = params.get("pc") ?? "agent"
    const testers = this.testers.get(location) ?? new Map<string, TesterRecord>()
    this.testers.set(location, testers)
    const tester = testers.get(pc) ?? { pc, ec2: "", lastPoll: this.now(), lastWork: undefined, busy: false, test: undefined }
    testers.set(pc, tester)
    tester.lastPoll = this.now()
    tester.ec2 = params.get("ec2") ?? tester.ec2
    // a poll is never busy: whatever it ran before is over
    if (tester.test !== undefined) {
      const previous = this.tests.get(tester.test)
      if (previous?.state === "running") this.timeout(previous)
    }
    tester.busy = false
    tester.test = undefined
    if ((this.stale.get(location) ?? 0) > 0) {
      this.stale.set(location, 0)
      return empty()
    }
    // work/getwork.php hands out one job file: a whole test, or one run of a sharded one
    const file = this.queues.get(location)!.shift()
    if (file === undefined) return empty()
    const id = file.id
    const test = this.tests.get(id)!
    if (test.state === "queued") {
      test.state = "running"
      test.startedAt = this.now()
    }
    test.tester = pc
    tester.busy = true
    tester.test = id
    tester.lastWork = this.now()
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({
      "Test ID": id,
      url: test.url,
      ...(test.script !== undefined ? { script: test.script } : {}),
      runs: test.runs,
      ...(file.run !== undefined ? { run: file.run } : {}),
      fvonly: test.fvonly ? 1 : 0,
      browser: test.browser,
      priority: 7,
      timeline: 1,
      "Capture Video": 1,
      bwIn: 0,
      bwOut: 0,
      latency: 0,
      plr: 0,
      shaperLimit: 0,
      orientation: "default",
      wpthost: this.url.replace("http://", ""),
      signature: "0000"
    }))
  }

  private async workdone(params: URLSearchParams, req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) {
    if (!this.agentAuthorized(params)) {
      res.writeHead(403, { "content-type": "text/plain" })
      return res.end("Forbidden")
    }
    const test = this.tests.get(params.get("id") ?? "")
    if (test !== undefined && test.state === "running") {
      if ((req.headers["content-type"] ?? "").startsWith("multipart/form-data")) {
        const form = await new Request("http://fake/", { method: "POST", headers: { "content-type": req.headers["content-type"]! }, body }).formData()
        const file = form.get("file")
        if (file instanceof Blob) {
          for (const [name, data] of Object.entries(zip.read(Buffer.from(await file.arrayBuffer())))) {
            const match = /^(\d+)_page_data\.json$/.exec(name)
            if (match) test.pages[Number(match[1])] = JSON.parse(data.toString())
          }
        }
      }
      // work/workdone.php: done=1 ends the test; with run=N it ends that run, and the test
      // once every run has (run.complete.N files counted against runs)
      if (params.get("done") === "1") {
        const run = Number(params.get("run") ?? NaN)
        if (Number.isInteger(run) && run > 0) test.runsDone.add(run)
        const whole = !Number.isInteger(run) || run <= 0
        if (whole || test.runsDone.size >= test.runs) {
          test.state = "complete"
          test.completedAt = this.now()
        }
        const tester = this.testers.get(test.location)?.get(params.get("pc") ?? "")
        if (tester !== undefined && tester.test === test.id) {
          tester.busy = false
          tester.test = undefined
        }
      }
    }
    res.writeHead(200, { "content-type": "text/plain" })
    res.end(params.get("id") ?? "")
  }
}

/** testStatus.inc's times: gmdate("m/d/y G:i:s"), the hour without a leading zero. */
const gmdate = (ms: number): string => {
  const at = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}/${String(at.getUTCFullYear()).slice(2)} ${at.getUTCHours()}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`
}

export { type AgentBehavior, SimulatedAgent } from "./SimulatedAgent.js"
