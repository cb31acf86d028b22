/**
 * The watchdog's job kind: one WebPageTest test to run at one location. Its state
 * machine is the seed's: AWAITING → SUBMITTED → FINISHED | ERROR_SUBMITTING |
 * ERROR_TESTING, plus CANCELLED.
 */
import { JobKind } from "@orch/core/Jobs"
import { ParseResult, Schema } from "effect"
import * as Location from "./Location.js"

/** Epoch ms, or an ISO date-time given as text. */
export const Instant = Schema.Union(
  Schema.NonNegativeInt,
  Schema.transformOrFail(Schema.String, Schema.NonNegativeInt, {
    strict: true,
    decode: (text, _, ast) => {
      const ms = Date.parse(text)
      return Number.isNaN(ms)
        ? ParseResult.fail(new ParseResult.Type(ast, text, `"${text}" is not a date-time (use ISO 8601)`))
        : ParseResult.succeed(ms)
    },
    encode: (ms) => ParseResult.succeed(new Date(ms).toISOString())
  })
)

const OptionValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean)

const TestFields = {
  zone: Location.Part,
  browser: Location.Part,
  agent: Location.Part,
  url: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  script: Schema.optional(Schema.String.pipe(Schema.minLength(1))),
  runs: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10, { message: () => "must be from 1 to 10" })), {
    default: () => 1
  }),
  firstViewOnly: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  connectivity: Schema.optionalWith(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_]+$/)), { default: () => "Native" }),
  label: Schema.optional(Schema.String),
  /** Further runtest.php parameters, passed as they are (keepua, timeout, video …). */
  options: Schema.optionalWith(Schema.Record({ key: Schema.String, value: OptionValue }), { default: () => ({}) })
}

const checkTest = (test: { readonly url?: string | undefined; readonly script?: string | undefined } & Location.Location) => {
  if (test.url === undefined && test.script === undefined) return "needs a url or a script"
  return Location.problem(test) ?? true
}

/** A job's payload as stored. */
export const TestPayload = Schema.Struct({
  ...TestFields,
  notBefore: Schema.optional(Schema.NonNegativeInt),
  notAfter: Schema.optional(Schema.NonNegativeInt)
}).pipe(Schema.filter(checkTest))
export type TestPayload = typeof TestPayload.Type

/** A test as users give it (HTTP, `--file`): times may be ISO text. */
export const TestRequest = Schema.Struct({
  ...TestFields,
  notBefore: Schema.optional(Instant),
  notAfter: Schema.optional(Instant)
}).pipe(
  Schema.filter(checkTest),
  Schema.filter((test) =>
    test.notBefore === undefined || test.notAfter === undefined || test.notBefore < test.notAfter ||
    "notBefore must be before notAfter"
  )
)
export type TestRequest = typeof TestRequest.Type

/** The metrics users look at, from `jsonResult`'s first-view median (or first successful run). */
export const Summary = Schema.Struct({
  successfulFVRuns: Schema.Int,
  testRuns: Schema.Int,
  loadTime: Schema.optional(Schema.Number),
  ttfb: Schema.optional(Schema.Number),
  fullyLoaded: Schema.optional(Schema.Number),
  speedIndex: Schema.optional(Schema.Number),
  resultUrl: Schema.optional(Schema.String),
  completedAt: Schema.optional(Schema.Number)
})
export type Summary = typeof Summary.Type

export const TestResult = Schema.Struct({
  testId: Schema.String,
  /** The label sent to WPT, by which a submission is found again after a crash. */
  wptLabel: Schema.String,
  submittedAt: Schema.Number,
  summary: Schema.optional(Summary)
})
export type TestResult = typeof TestResult.Type

export const states = ["AWAITING", "SUBMITTED", "FINISHED", "ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED"] as const
export type State = typeof states[number]

export const WptTest = JobKind.make({
  plugin: "watchdog",
  name: "wpt-test",
  payload: TestPayload,
  result: TestResult,
  states,
  initial: "AWAITING",
  transitions: {
    AWAITING: ["SUBMITTED", "ERROR_SUBMITTING"],
    SUBMITTED: ["FINISHED", "ERROR_TESTING"]
  },
  claimable: ["AWAITING", "SUBMITTED"],
  // no job is failed through the queue's attempts (network failures wait and retry),
  // so only a lease lost again and again could send one here
  dead: "ERROR_SUBMITTING",
  cancelled: "CANCELLED",
  retryFrom: ["ERROR_SUBMITTING", "ERROR_TESTING", "CANCELLED"],
  retry: { maxAttempts: 1_000 }
})

export type Job = import("@orch/core/Jobs").Job<TestPayload, TestResult, State>

export const locationOf = (payload: Location.Location): string => Location.id(payload)

/** Payload from a request: the same fields, times as epoch ms. */
export const toPayload = (request: TestRequest): TestPayload => request as TestPayload
