/**
 * What every format adapter shares: a rejection that says where and why, path-aware readers for
 * parsed JSON, a builder that refuses a metric given twice, and the unit table that gives a
 * metric its direction. Adapters throw `Rejected`; `index.ts` turns it into a `FormatError`.
 */
import type { Direction, Measurement, Measurements } from "../Measurement.js"
import { metricName } from "../Measurement.js"

/**
 * Why an adapter refused its input. `recognised` is false when the input is plainly not this
 * format (the wrong top-level shape), true when it is this format but broken somewhere: the
 * automatic detection reports only the recognised rejections when there are any.
 */
export class Rejected {
  constructor(
    readonly reason: string,
    readonly where: string | undefined,
    readonly recognised: boolean
  ) {}
}

/** The input is not this format at all. */
export const notThisFormat = (reason: string): Rejected => new Rejected(reason, undefined, false)

/** The input is this format, but wrong at `where` (a JSON path like `$.results[2].mean`, or `line 12`). */
export const wrongAt = (where: string, reason: string): Rejected => new Rejected(reason, where, true)

/** A short description of a JSON value for an error message. */
export const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  if (typeof value === "object") return "an object"
  if (typeof value === "string") return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
  return `${typeof value} ${String(value)}`
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `$.a.b`, or `$["odd key"]` when the key is not a plain identifier. */
export const pathKey = (path: string, key: string): string =>
  /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`

export const pathIndex = (path: string, index: number): string => `${path}[${index}]`

export const readRecord = (value: unknown, where: string): Record<string, unknown> => {
  if (!isRecord(value)) throw wrongAt(where, `expected an object, got ${describe(value)}`)
  return value
}

export const readArray = (value: unknown, where: string): ReadonlyArray<unknown> => {
  if (!Array.isArray(value)) throw wrongAt(where, `expected an array, got ${describe(value)}`)
  return value
}

export const readString = (value: unknown, where: string): string => {
  if (typeof value !== "string") throw wrongAt(where, `expected a string, got ${describe(value)}`)
  if (value.length === 0) throw wrongAt(where, "is empty")
  return value
}

/** A finite number: JSON.parse turns `1e999` into Infinity, which is no measurement. */
export const readNumber = (value: unknown, where: string): number => {
  if (typeof value !== "number") throw wrongAt(where, `expected a number, got ${describe(value)}`)
  if (!Number.isFinite(value)) throw wrongAt(where, `${value} is not a finite number`)
  return value
}

export const readOptionalNumber = (value: unknown, where: string): number | undefined =>
  value === undefined ? undefined : readNumber(value, where)

export const readNumbers = (value: unknown, where: string): ReadonlyArray<number> =>
  readArray(value, where).map((item, index) => readNumber(item, pathIndex(where, index)))

/**
 * A decimal number in a text format (Go, criterion): no NaN, no inf, thousands separators allowed.
 * `timesTenTo` scales it in decimal (so 1.9909 µs is 1990.9 ns, not 1990.8999999999999).
 */
export const parseDecimal = (text: string, where: string, timesTenTo = 0): number => {
  const plain = text.replace(/,/g, "")
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+))?$/.exec(plain)
  if (match === null) throw wrongAt(where, `"${text}" is not a number`)
  const value = Number(`${match[1]}e${Number(match[2] ?? 0) + timesTenTo}`)
  if (!Number.isFinite(value)) throw wrongAt(where, `"${text}" is not a finite number`)
  return value
}

/** The mean of a non-empty list. */
export const mean = (values: ReadonlyArray<number>): number => {
  let sum = 0
  for (const value of values) sum += value
  return sum / values.length
}

/** Builds a Measurement without writing `undefined` into its optional fields. */
export const measurement = (fields: {
  readonly value: number
  readonly lower_value?: number | undefined
  readonly upper_value?: number | undefined
  readonly unit?: string | undefined
  readonly direction?: Direction | undefined
  readonly samples?: ReadonlyArray<number> | undefined
}): Measurement => {
  const out: { -readonly [K in keyof Measurement]: Measurement[K] } = { value: fields.value }
  if (fields.lower_value !== undefined) out.lower_value = fields.lower_value
  if (fields.upper_value !== undefined) out.upper_value = fields.upper_value
  if (fields.unit !== undefined) out.unit = fields.unit
  if (fields.direction !== undefined) out.direction = fields.direction
  if (fields.samples !== undefined && fields.samples.length > 0) out.samples = fields.samples
  return out
}

/**
 * Value ± spread as lower/upper bounds (used where a tool gives a standard deviation or a ± range).
 * `nonNegative` (times, rates) keeps the lower bound at 0 or above: a mean of 0.5 ms ± 1.1 ms is no negative time.
 */
export const plusMinus = (
  value: number,
  spread: number | undefined,
  nonNegative = false
): { lower_value?: number; upper_value?: number } => {
  if (spread === undefined) return {}
  const lower = value - Math.abs(spread)
  return { lower_value: nonNegative ? Math.max(0, lower) : lower, upper_value: value + Math.abs(spread) }
}

/** Collects measurements; a metric given twice is an error naming both places. */
export class MeasurementsBuilder {
  private readonly metrics = new Map<string, { readonly measurement: Measurement; readonly where: string }>()

  add(benchmark: string, measure: string, value: Measurement, where: string): void {
    const name = metricName(benchmark, measure)
    const first = this.metrics.get(name)
    if (first !== undefined) throw wrongAt(where, `metric "${name}" is given twice (first at ${first.where})`)
    this.metrics.set(name, { measurement: value, where })
  }

  get size(): number {
    return this.metrics.size
  }

  result(): Measurements {
    const out: Record<string, Measurement> = {}
    for (const [name, { measurement }] of this.metrics) out[name] = measurement
    return out
  }
}

/** Powers of ten to nanoseconds of the time units tools print (criterion prints both µ signs). */
export const nanosecondsPowerOf: Readonly<Record<string, number>> = {
  ps: -3,
  ns: 0,
  us: 3,
  "µs": 3,
  "μs": 3,
  ms: 6,
  s: 9
}

const timeUnits = new Set(["ps", "ns", "us", "µs", "μs", "ms", "s", "sec", "secs", "second", "seconds", "min", "minutes", "h", "hours"])

/**
 * The direction a unit implies, when it implies one: a time (possibly per op/iter) is better
 * smaller, a rate (`…/s`) is better larger; anything else (bytes, counts, percent) is left unset.
 */
export const directionOfUnit = (unit: string | undefined): Direction | undefined => {
  if (unit === undefined) return undefined
  const trimmed = unit.trim()
  const [head, per] = trimmed.split("/", 2)
  if (per === undefined) return timeUnits.has(trimmed.toLowerCase()) ? "less_is_better" : undefined
  if (timeUnits.has(per.toLowerCase())) return "more_is_better"
  if (timeUnits.has(head.toLowerCase())) return "less_is_better"
  return undefined
}
