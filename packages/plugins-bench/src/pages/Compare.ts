/**
 * A compare of two runs: every metric present in either, with before (run a) and after
 * (run b), the relative change, an effect size and a 95% confidence interval of the
 * difference, and a verdict by the metric's direction; and whether the runs' environment
 * fingerprints match. Pure: `ReadApi` reads the rows and renders this as JSON, the page as HTML.
 *
 * Where the interval comes from, per metric (`basis`):
 * - `samples`: both runs stored samples (≥ 2 each): Welch's interval of the difference of
 *   means, and Cohen's d (pooled standard deviation) as the effect size;
 * - `bounds`: a side without samples has `lower_value`/`upper_value`, read as a 95% interval
 *   around its value (a normal one); the other side from its samples or bounds likewise; no
 *   effect size (there is no spread of single results to scale by);
 * - `single`: a side has only a value: no interval, no effect size, and the verdict says so.
 */
import type { MeasurementRow, RunRow } from "../sql/pages.js"
import * as Stats from "../detect/Statistics.js"

export type Verdict =
  /** the interval excludes 0 and the change goes the metric's worse way */
  | "regression"
  | "improvement"
  /** the interval excludes 0; the metric's direction is not known */
  | "changed"
  /** the interval includes 0 */
  | "no significant change"
  /** single values: the difference cannot be judged */
  | "not judged"
  | "added"
  | "removed"

export interface MetricComparison {
  readonly metric: string
  readonly unit: string | null
  /** -1 less is better, 1 more is better, 0 not known */
  readonly direction: number
  readonly before: number | null
  readonly after: number | null
  /** (after − before) / before; null when either is missing or before is 0 */
  readonly change: number | null
  readonly basis: "samples" | "bounds" | "single" | null
  /** Cohen's d, from samples only */
  readonly effectSize: number | null
  /** 95% interval of after − before, in the metric's unit */
  readonly ci: { readonly lower: number; readonly upper: number } | null
  readonly verdict: Verdict
}

export interface RunSummary {
  readonly id: string
  readonly hash: string
  readonly worker: string | null
  readonly endedAt: number
  readonly exitCode: number
}

export interface Comparison {
  readonly a: RunSummary
  readonly b: RunSummary
  readonly environment: {
    readonly match: boolean
    /** Keys (dotted for nested objects) whose values differ or that only one fingerprint has. */
    readonly differing: ReadonlyArray<{ readonly key: string; readonly a: unknown; readonly b: unknown }>
    /** True when a run has no fingerprint at all (an import): then nothing can be said. */
    readonly unknown: boolean
  }
  readonly metrics: ReadonlyArray<MetricComparison>
  readonly counts: Readonly<Record<Verdict, number>>
}

const z95 = Stats.normalQuantile(0.975)

const parseSamples = (text: string | null): ReadonlyArray<number> | undefined => {
  if (text === null) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return Array.isArray(parsed) && parsed.length >= 2 && parsed.every((x) => typeof x === "number" && Number.isFinite(x))
      ? parsed as ReadonlyArray<number>
      : undefined
  } catch {
    return undefined
  }
}

const estimateOf = (m: MeasurementRow, samples: ReadonlyArray<number> | undefined): Stats.Estimate | undefined => {
  if (samples !== undefined) return Stats.estimateOfSamples(samples)
  if (m.lower_value !== null && m.upper_value !== null && m.upper_value >= m.lower_value) {
    return { mean: m.value, se: (m.upper_value - m.lower_value) / (2 * z95), df: Infinity }
  }
  return undefined
}

export const compareMetric = (a: MeasurementRow | undefined, b: MeasurementRow | undefined): MetricComparison => {
  const known = (b ?? a)!
  const base = { metric: known.metric, unit: b?.unit ?? a?.unit ?? null, direction: known.direction }
  if (a === undefined || b === undefined) {
    return {
      ...base,
      before: a?.value ?? null,
      after: b?.value ?? null,
      change: null,
      basis: null,
      effectSize: null,
      ci: null,
      verdict: a === undefined ? "added" : "removed"
    }
  }
  const change = a.value === 0 ? null : (b.value - a.value) / Math.abs(a.value)
  const samplesA = parseSamples(a.samples)
  const samplesB = parseSamples(b.samples)
  const estimateA = estimateOf(a, samplesA)
  const estimateB = estimateOf(b, samplesB)
  if (estimateA === undefined || estimateB === undefined) {
    return { ...base, before: a.value, after: b.value, change, basis: "single", effectSize: null, ci: null, verdict: "not judged" }
  }
  const interval = Stats.differenceInterval(estimateA, estimateB)
  const bothSamples = samplesA !== undefined && samplesB !== undefined
  const effectSize = bothSamples ? Stats.cohensD(Stats.summarize(samplesA), Stats.summarize(samplesB)) : null
  const significant = interval.lower > 0 || interval.upper < 0
  const worse = base.direction === 0 ? undefined : Math.sign(interval.difference) === -base.direction
  const verdict: Verdict = !significant ? "no significant change" : worse === undefined ? "changed" : worse ? "regression" : "improvement"
  return {
    ...base,
    before: a.value,
    after: b.value,
    change,
    basis: bothSamples ? "samples" : "bounds",
    effectSize,
    ci: { lower: interval.lower, upper: interval.upper },
    verdict
  }
}

/** Nested objects flattened to dotted keys, so a difference names the exact field. */
const flatten = (value: unknown, prefix = "", into: Map<string, unknown> = new Map()): Map<string, unknown> => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix === "" ? key : `${prefix}.${key}`, into)
  } else {
    into.set(prefix, value)
  }
  return into
}

const parseFingerprint = (text: string | null): Map<string, unknown> | undefined => {
  if (text === null) return undefined
  try {
    return flatten(JSON.parse(text))
  } catch {
    return new Map([["(unreadable fingerprint)", text]])
  }
}

/**
 * Keys of the environment itself, as opposed to what was measured about it: a worker's noise
 * self-test is a measurement and differs from run to run, so it does not make environments differ.
 */
const isMeasuredKey = (key: string) => /(^|\.)noise/i.test(key)

export const compareFingerprints = (a: string | null, b: string | null): Comparison["environment"] => {
  const fa = parseFingerprint(a)
  const fb = parseFingerprint(b)
  if (fa === undefined || fb === undefined) return { match: false, differing: [], unknown: true }
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].filter((key) => !isMeasuredKey(key)).sort()
  const differing = keys
    .filter((key) => JSON.stringify(fa.get(key)) !== JSON.stringify(fb.get(key)))
    .map((key) => ({ key, a: fa.get(key) ?? null, b: fb.get(key) ?? null }))
  return { match: differing.length === 0, differing, unknown: false }
}

const summary = (run: RunRow): RunSummary => ({
  id: run.id,
  hash: run.hash,
  worker: run.worker_name,
  endedAt: run.ended_at,
  exitCode: run.exit_code
})

export const compare = (
  runA: RunRow,
  runB: RunRow,
  measurementsA: ReadonlyArray<MeasurementRow>,
  measurementsB: ReadonlyArray<MeasurementRow>
): Comparison => {
  const byA = new Map(measurementsA.map((m) => [m.metric, m]))
  const byB = new Map(measurementsB.map((m) => [m.metric, m]))
  const names = [...new Set([...byA.keys(), ...byB.keys()])].sort()
  const metrics = names.map((name) => compareMetric(byA.get(name), byB.get(name)))
  const counts: Record<Verdict, number> = {
    regression: 0,
    improvement: 0,
    changed: 0,
    "no significant change": 0,
    "not judged": 0,
    added: 0,
    removed: 0
  }
  for (const m of metrics) counts[m.verdict]++
  return {
    a: summary(runA),
    b: summary(runB),
    environment: compareFingerprints(runA.fingerprint, runB.fingerprint),
    metrics,
    counts
  }
}
