/**
 * A client for a WebPageTest server's HTTP API, tolerant of the versions in use (21.x
 * to today). WPT answers errors with HTTP 200 and a `statusCode` in the body, encodes
 * an empty object as `[]`, and may send numbers as text; every reader here accepts all
 * of that. The API key goes both as the `X-WPT-API-KEY` header (read by new servers)
 * and as `k=` (read by old ones).
 */
import { Context, Data, Duration, Effect, Layer, Redacted } from "effect"

/** The server could not be asked: refused, timed out, or answered something that is not WPT's. Retry later. */
export class WptUnreachable extends Data.TaggedError("WptUnreachable")<{
  readonly endpoint: string
  readonly message: string
}> {}

/** The server answered with an error `statusCode` (a rejected submission, an unknown location …). */
export class WptRejected extends Data.TaggedError("WptRejected")<{
  readonly endpoint: string
  readonly statusCode: number
  readonly message: string
}> {}

/**
 * A rejection of the API key itself (runtest.php: "missing API key", "Invalid API key"):
 * it would reject every test alike, so it says nothing about the job.
 */
export const isKeyRejection = (error: WptRejected): boolean => /\bAPI key\b/i.test(error.message)

export interface SubmitRequest {
  readonly url?: string | undefined
  readonly script?: string | undefined
  /** `LocationID:Browser.Connectivity`. */
  readonly location: string
  readonly runs: number
  readonly firstViewOnly: boolean
  readonly label: string
  readonly options?: Readonly<Record<string, string | number | boolean>> | undefined
}

export interface Submitted {
  readonly testId: string
  readonly jsonUrl: string | undefined
  readonly userUrl: string | undefined
}

export interface TestStatus {
  /** 100 running, 101 queued, 200 complete, 400 not found / timed out, 401 job file gone, 402 cancelled. */
  readonly statusCode: number
  readonly statusText: string
  /** Epoch ms when an agent took the test, when WPT says. */
  readonly startedAt: number | undefined
  /** Epoch ms when it completed, when WPT says. */
  readonly completedAt: number | undefined
  readonly behindCount: number | undefined
}

export interface TestResult {
  readonly statusCode: number
  readonly statusText: string
  readonly successfulFVRuns: number
  readonly testRuns: number
  readonly loadTime: number | undefined
  readonly ttfb: number | undefined
  readonly fullyLoaded: number | undefined
  readonly speedIndex: number | undefined
  readonly resultUrl: string | undefined
  readonly completedAt: number | undefined
  readonly label: string | undefined
}

export interface LocationQueue {
  readonly location: string
  /** OK when an agent polled within the hour, otherwise OFFLINE. */
  readonly status: string
  readonly browsers: ReadonlyArray<string>
  /** Tests waiting (approximate: WPT's queue index can hold a stale entry). */
  readonly queued: number
  readonly testing: number
  readonly idle: number
  readonly total: number
}

export interface Tester {
  readonly id: string
  readonly pc: string
  /** The instance id the agent reported (`ec2=`), empty when none. */
  readonly instanceId: string
  /** Minutes since it last polled for work. */
  readonly elapsed: number | undefined
  /** Minutes since it last received work. */
  readonly last: number | undefined
  readonly busy: boolean
  /** The test it runs (only when the server key is sent). */
  readonly test: string | undefined
}

export interface LocationTesters {
  readonly location: string
  readonly status: string
  /** Minutes since any of its testers polled, when WPT says. */
  readonly elapsed: number | undefined
  readonly testers: ReadonlyArray<Tester>
}

/** One line of WPT's test log (testlog.php's CSV). */
export interface LoggedTest {
  readonly testId: string
  /** The location's label as WPT shows it, HTML included (`Tor agent 1 - <b>Tor Browser</b> - <b>Native</b>`), not its id. */
  readonly location: string
  readonly url: string
  /** The label as runtest.php kept it. */
  readonly label: string
  /** When WPT logged it (epoch ms), when the date reads as WPT writes it. */
  readonly loggedAt: number | undefined
}

export interface WptClientService {
  readonly server: string
  readonly submit: (request: SubmitRequest) => Effect.Effect<Submitted, WptRejected | WptUnreachable>
  readonly status: (testId: string) => Effect.Effect<TestStatus, WptUnreachable>
  readonly result: (testId: string) => Effect.Effect<TestResult, WptUnreachable>
  /** Every configured location with its queue (`hidden=1`: offline ones too). */
  readonly locations: Effect.Effect<ReadonlyArray<LocationQueue>, WptRejected | WptUnreachable>
  readonly testers: Effect.Effect<ReadonlyArray<LocationTesters>, WptRejected | WptUnreachable>
  /** Cancels a test not yet started (see `CancelOutcome`). */
  readonly cancel: (testId: string) => Effect.Effect<CancelOutcome, WptUnreachable>
  /**
   * The test log's lines of today and the `days` before (WPT keeps one log file per UTC day)
   * that hold `filter`, compared as testlog.php does: lowercased, without the characters it
   * strips (see `TestLog.filterFor`), case-insensitively, anywhere in the line.
   */
  readonly testLog: (filter: string, days: number) => Effect.Effect<ReadonlyArray<LoggedTest>, WptUnreachable>
}

/**
 * What cancelTest.php did. It marks a test not yet started cancelled (testStatus: 402), but
 * deletes its job file only when exactly one matches (CancelTest in cancelTest.php, every
 * release since 21.07): a sharded test of N runs has N, which stay queued, are still handed
 * to agents and run, and the test then reads 200 Test Complete. The page says
 * "Test cancelled!" only when the file went.
 * - `cancelled`: 402 and the page said so: nothing of it will run;
 * - `marked`: 402, but its job files stay queued and will run;
 * - `refused`: not cancelled (already started, or unknown).
 */
export type CancelOutcome = "cancelled" | "marked" | "refused"

export class WptClient extends Context.Tag("@orch/plugins-watchdog/WptClient")<WptClient, WptClientService>() {}

/** The client when `wpt.server` is not set: every call fails saying so. */
export const unconfigured: WptClientService = (() => {
  const unset = (endpoint: string) => Effect.fail(new WptUnreachable({ endpoint, message: "wpt.server is not set" }))
  return {
    server: "(not set)",
    submit: () => unset("runtest.php"),
    status: () => unset("testStatus.php"),
    result: () => unset("jsonResult.php"),
    locations: unset("getLocations.php"),
    testers: unset("getTesters.php"),
    cancel: () => unset("cancelTest.php"),
    testLog: () => unset("testlog.php")
  }
})()

export interface WptOptions {
  readonly server: string
  readonly key?: Redacted.Redacted<string> | undefined
  readonly timeout: Duration.DurationInput
}

// -- lenient readers of PHP's JSON ---------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/** An object where PHP may have written `[]` for an empty one. */
const record = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {})

const num = (value: unknown): number | undefined => {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN
  return Number.isFinite(n) ? n : undefined
}

const str = (value: unknown): string | undefined =>
  typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined

const text = (value: unknown, fallback = ""): string => str(value) ?? fallback

/** Unix seconds (WPT's times) as epoch ms; nonsense (negative, zero) as undefined. */
const epochMs = (value: unknown): number | undefined => {
  const seconds = num(value)
  return seconds !== undefined && seconds > 0 ? seconds * 1000 : undefined
}

const metric = (view: unknown, key: string): number | undefined => {
  const value = num(record(view)[key])
  return value !== undefined && value >= 0 ? value : undefined
}

/** The first-view metrics: the median when there is one, else the first successful run. */
const firstViewMetrics = (data: Record<string, unknown>) => {
  const median = record(record(data.median).firstView)
  if (Object.keys(median).length > 0) return median
  for (const run of Object.values(record(data.runs))) {
    const view = record(record(run).firstView)
    const result = num(view.result)
    if (result === 0 || result === 99999) return view
  }
  return {}
}

export const parseResult = (body: unknown): TestResult => {
  const root = record(body)
  const data = record(root.data)
  const view = firstViewMetrics(data)
  const statusCode = num(root.statusCode) ?? 0
  return {
    statusCode,
    statusText: text(root.statusText),
    successfulFVRuns: statusCode === 200 ? num(data.successfulFVRuns) ?? 0 : 0,
    testRuns: num(data.testRuns) ?? num(data.runs) ?? 0,
    loadTime: metric(view, "loadTime"),
    ttfb: metric(view, "TTFB"),
    fullyLoaded: metric(view, "fullyLoaded"),
    speedIndex: metric(view, "SpeedIndex"),
    resultUrl: str(data.summary),
    completedAt: epochMs(data.completed),
    label: str(data.label)
  }
}

export const parseLocations = (body: unknown): ReadonlyArray<LocationQueue> => {
  const data = record(record(body).data)
  return Object.entries(data).flatMap(([location, value]) => {
    if (!isRecord(value)) return []
    const pending = record(value.PendingTests)
    const queued = num(pending.Queued) ?? (num(pending.HighPriority) ?? 0) + (num(pending.LowPriority) ?? 0)
    const testing = num(pending.Testing) ?? 0
    return [{
      location: str(value.location) ?? location,
      status: text(value.status, "OFFLINE"),
      browsers: text(value.Browsers).split(",").map((b) => b.trim()).filter((b) => b !== ""),
      queued,
      testing,
      idle: num(pending.Idle) ?? 0,
      total: num(pending.Total) ?? queued + testing
    }]
  })
}

export const parseTesters = (body: unknown): ReadonlyArray<LocationTesters> => {
  const data = record(record(body).data)
  return Object.entries(data).flatMap(([location, value]) => {
    if (!isRecord(value)) return []
    const testers = (Array.isArray(value.testers) ? value.testers : Object.values(record(value.testers))).flatMap(
      (tester): Array<Tester> => {
        if (!isRecord(tester)) return []
        const elapsed = num(tester.elapsed)
        const last = num(tester.last)
        return [{
          id: text(tester.id),
          pc: text(tester.pc),
          instanceId: text(tester.ec2),
          elapsed: elapsed !== undefined && elapsed >= 0 ? elapsed : undefined,
          last: last !== undefined && last >= 0 ? last : undefined,
          busy: num(tester.busy) === 1 || tester.busy === true,
          test: str(tester.test) || undefined
        }]
      }
    )
    const elapsed = num(value.elapsed)
    return [{ location, status: text(value.status, "OFFLINE"), elapsed: elapsed !== undefined && elapsed >= 0 ? elapsed : undefined, testers }]
  })
}

/**
 * A date as WPT writes it for people, in UTC: testlog.php's `strftime('%x %X')` in PHP's C
 * locale (`12/01/26 03:29:32`; testlog.php adds the `tzo` cookie's offset, which the
 * watchdog never sends) and testStatus.inc's `gmdate("m/d/y G:i:s")` (`12/01/26 3:29:32`).
 * Anything else (another locale) reads as unknown.
 */
export const parseLogDate = (text: string): number | undefined => {
  const m = /^(\d{2})\/(\d{2})\/(\d{2}) (\d{1,2}):(\d{2}):(\d{2})$/.exec(text.trim())
  if (m === null) return undefined
  const [month, day, year, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number]
  // %y: 70 to 99 are the 1900s (PHP's dates start in 1970)
  const at = Date.UTC(year < 70 ? 2000 + year : 1900 + year, month - 1, day, hour, minute, second)
  return Number.isFinite(at) ? at : undefined
}

/** testStatus's times: unix seconds, or (testStatus.inc) `gmdate("m/d/y G:i:s")` text. */
const statusTime = (value: unknown): number | undefined =>
  epochMs(value) ?? (typeof value === "string" ? parseLogDate(value) : undefined)

const testLogHeader = /^"Date\/Time","Location","Test ID","URL"/m

/**
 * testlog.php's CSV: `"Date/Time","Location","Test ID","URL","Label"`. Only the URL has its
 * quotes doubled: the location (a label with HTML, set by WPT's admin) and the label go out
 * as they are, so a line is read from both ends around the test id. Lines before the header
 * (PHP's warnings, e.g. strftime's deprecation) and lines that do not read are skipped.
 */
export const parseTestLog = (csv: string): ReadonlyArray<LoggedTest> => {
  const header = testLogHeader.exec(csv)
  if (header === null) return []
  return csv.slice(header.index).split(/\r?\n/).slice(1).flatMap((line) => {
    const m = /^"([^"]*)","(.*?)","(\d{6}_[A-Za-z0-9_]+)","((?:[^"]|"")*)"(?:,"(.*)")?\s*$/.exec(line)
    if (m === null) return []
    return [{
      loggedAt: parseLogDate(m[1]!),
      location: m[2]!,
      testId: m[3]!,
      url: m[4]!.replace(/""/g, "\""),
      label: (m[5] ?? "").trim()
    }]
  })
}

// -- the client ----------------------------------------------------------------

export const make = (options: WptOptions): WptClientService => {
  const base = options.server.replace(/\/+$/, "")
  const timeoutMs = Duration.toMillis(Duration.decode(options.timeout))
  const key = options.key === undefined ? undefined : Redacted.value(options.key)

  const request = (
    endpoint: string,
    params: Record<string, string>,
    init: { readonly method?: "GET" | "POST"; readonly withKeyParam?: boolean } = {}
  ) =>
    Effect.tryPromise({
      try: async (signal) => {
        const query = new URLSearchParams(params)
        if (key !== undefined && init.withKeyParam) query.set("k", key)
        const headers: Record<string, string> = {}
        if (key !== undefined) headers["X-WPT-API-KEY"] = key
        const method = init.method ?? "GET"
        const url = `${base}/${endpoint}`
        // a timer of our own: the timeout of AbortSignal.any([.., AbortSignal.timeout()]) can be
        // lost to garbage collection (seen under load: a request waited for WPT's late answer)
        const aborter = new AbortController()
        const timer = setTimeout(() => aborter.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError")), timeoutMs)
        const cancel = () => aborter.abort(signal.reason)
        signal.addEventListener("abort", cancel)
        try {
          const common = { signal: aborter.signal, redirect: "manual" } as const
          const response = method === "GET"
            ? await fetch(`${url}?${query}`, { ...common, method, headers })
            : await fetch(url, {
              ...common,
              method,
              headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
              body: query.toString()
            })
          return { status: response.status, body: await response.text() }
        } finally {
          clearTimeout(timer)
          signal.removeEventListener("abort", cancel)
        }
      },
      catch: (cause) =>
        new WptUnreachable({
          endpoint,
          message: `${endpoint}: ${(cause as Error)?.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : describe(cause)}`
        })
    })

  const json = (endpoint: string, params: Record<string, string>, init?: Parameters<typeof request>[2]) =>
    Effect.flatMap(request(endpoint, params, init), ({ body, status }) => {
      if (status >= 500 || status === 404 || status === 403 || status === 401) {
        return Effect.fail(new WptUnreachable({ endpoint, message: `${endpoint}: HTTP ${status}` }))
      }
      try {
        const parsed: unknown = JSON.parse(body)
        if (!isRecord(parsed)) throw new Error("not an object")
        return Effect.succeed(parsed)
      } catch {
        return Effect.fail(
          new WptUnreachable({ endpoint, message: `${endpoint}: HTTP ${status} with a body that is not WPT's JSON: ${body.slice(0, 120)}` })
        )
      }
    })

  const ok = (endpoint: string, body: Record<string, unknown>) => {
    const statusCode = num(body.statusCode) ?? 0
    const dataError = str(record(body.data).error)
    if (statusCode !== 200 || dataError !== undefined) {
      return Effect.fail(
        new WptRejected({ endpoint, statusCode, message: dataError ?? (text(body.statusText) || `statusCode ${statusCode}`) })
      )
    }
    return Effect.succeed(body)
  }

  const submit: WptClientService["submit"] = (submission) => {
    const params: Record<string, string> = {}
    for (const [name, value] of Object.entries(submission.options ?? {})) {
      params[name] = typeof value === "boolean" ? (value ? "1" : "0") : String(value)
    }
    Object.assign(params, {
      f: "json",
      location: submission.location,
      runs: String(submission.runs),
      fvonly: submission.firstViewOnly ? "1" : "0",
      label: submission.label
    })
    if (submission.url !== undefined) params.url = submission.url
    if (submission.script !== undefined) params.script = submission.script
    return json("runtest.php", params, { method: "POST", withKeyParam: true }).pipe(
      Effect.flatMap((body) => ok("runtest.php", body)),
      Effect.flatMap((body) => {
        const data = record(body.data)
        const testId = str(data.testId)
        return testId === undefined || testId === ""
          ? Effect.fail(new WptUnreachable({ endpoint: "runtest.php", message: "runtest.php: statusCode 200 without data.testId" }))
          : Effect.succeed({ testId, jsonUrl: str(data.jsonUrl), userUrl: str(data.userUrl) })
      })
    )
  }

  const status: WptClientService["status"] = (testId) =>
    Effect.map(json("testStatus.php", { test: testId, f: "json" }), (body) => {
      const data = record(body.data)
      return {
        statusCode: num(body.statusCode) ?? 0,
        statusText: text(body.statusText),
        startedAt: statusTime(data.startTime),
        completedAt: statusTime(data.completeTime),
        behindCount: num(data.behindCount)
      }
    })

  const result: WptClientService["result"] = (testId) =>
    Effect.map(
      json("jsonResult.php", { test: testId, requests: "0", console: "0", lighthouse: "0", standard: "0", average: "0" }),
      parseResult
    )

  const locations: WptClientService["locations"] = json("getLocations.php", { f: "json", hidden: "1" }).pipe(
    Effect.flatMap((body) => ok("getLocations.php", body)),
    Effect.map(parseLocations)
  )

  const testers: WptClientService["testers"] = json("getTesters.php", { f: "json" }).pipe(
    Effect.flatMap((body) => ok("getTesters.php", body)),
    Effect.map(parseTesters)
  )

  const cancel: WptClientService["cancel"] = (testId) =>
    // cancelTest.php answers HTML whatever happened: its words say whether the job file went,
    // testStatus whether the test is marked cancelled
    Effect.flatMap(request("cancelTest.php", { test: testId }), ({ body }) =>
      Effect.map(status(testId), (s): CancelOutcome =>
        s.statusCode !== 402 ? "refused" : /cancelled!/i.test(body) ? "cancelled" : "marked"))

  const testLog: WptClientService["testLog"] = (filter, days) =>
    Effect.flatMap(
      // all=1: every user's tests (the watchdog has no WPT user); nolimit=1: past its first 100 lines;
      // private=1: private tests too, which WPT shows only to its admins
      request("testlog.php", { days: String(Math.max(0, Math.ceil(days))), f: "csv", filter, all: "1", nolimit: "1", private: "1" }),
      ({ body, status: code }) =>
        // anything but the log's CSV cannot tell "not there" from "cannot say": the caller must not resubmit on it
        code === 200 && testLogHeader.test(body)
          ? Effect.succeed(parseTestLog(body))
          : Effect.fail(
            new WptUnreachable({ endpoint: "testlog.php", message: `testlog.php: HTTP ${code} without the test log's CSV` })
          )
    )

  return { server: base, submit, status, result, locations, testers, cancel, testLog }
}

export const layer = (options: WptOptions): Layer.Layer<WptClient> => Layer.succeed(WptClient, make(options))

const describe = (cause: unknown): string => {
  const error = cause as { message?: string; cause?: { code?: string; message?: string } }
  const inner = error?.cause?.code ?? error?.cause?.message
  return inner ? `${error.message ?? "fetch failed"} (${inner})` : String(error?.message ?? cause)
}
