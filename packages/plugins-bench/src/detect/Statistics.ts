/**
 * The statistics change detection and the compare page stand on: summaries of a sample,
 * Student's t distribution (through the regularized incomplete beta function, accurate far
 * into the tail, where p-values of 1e-20 must still order correctly), the two-sample tests, and
 * the mean difference of two samples with its confidence interval (Welch).
 */

/** What a sample is summarised by. `sd` is the sample standard deviation (n − 1), 0 for n < 2. */
export interface Summary {
  readonly n: number
  readonly mean: number
  readonly sd: number
}

export const mean = (values: ReadonlyArray<number>): number => {
  let sum = 0
  for (const value of values) sum += value
  return values.length === 0 ? Number.NaN : sum / values.length
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const n = values.length
  const m = mean(values)
  let squares = 0
  for (const value of values) squares += (value - m) * (value - m)
  return { n, mean: m, sd: n < 2 ? 0 : Math.sqrt(squares / (n - 1)) }
}

/** The middle value (the mean of the two middle ones for an even count); NaN when empty. */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const half = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
}

// Lanczos approximation (g = 7, 9 terms): ln Γ(x) to about 15 digits for x > 0.
const lanczos = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
]
export const logGamma = (x: number): number => {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x)
  const z = x - 1
  let sum = lanczos[0]
  for (let i = 1; i < 9; i++) sum += lanczos[i] / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum)
}

// The continued fraction of I_x(a, b), evaluated by the modified Lentz method.
const betaFraction = (x: number, a: number, b: number): number => {
  const tiny = 1e-300
  let c = 1
  let d = 1 - (a + b) * x / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let result = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let step = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
    d = 1 + step * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + step / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    result *= d * c
    step = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
    d = 1 + step * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + step / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    result *= delta
    if (Math.abs(delta - 1) < 1e-15) break
  }
  return result
}

/** The regularized incomplete beta function I_x(a, b). */
export const incompleteBeta = (x: number, a: number, b: number): number => {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  // the fraction converges fast only on this side of the mean; use the symmetry on the other
  return x < (a + 1) / (a + b + 2) ? front * betaFraction(x, a, b) / a : 1 - front * betaFraction(1 - x, b, a) / b
}

/** P(|T| ≥ |t|) for Student's t with `df` degrees of freedom. */
export const studentTwoSided = (t: number, df: number): number => {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN
  if (!Number.isFinite(t)) return 0
  return Math.min(1, incompleteBeta(df / (df + t * t), df / 2, 0.5))
}

/** P(T ≥ t) for Student's t with `df` degrees of freedom. */
export const studentUpperTail = (t: number, df: number): number => {
  const half = studentTwoSided(t, df) / 2
  return t >= 0 ? half : 1 - half
}

/** P(Z ≤ z) for the standard normal (Abramowitz and Stegun 7.1.26 through erf; error < 1.5e-7). */
export const normalCdf = (z: number): number => {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * x)
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x)
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf)
}

const normalQuantiles = new Map<number, number>()

/** The standard normal quantile for p in (0.5, 1), by bisection on `normalCdf` (cached: callers ask for few levels). */
export const normalQuantile = (p: number): number => {
  const cached = normalQuantiles.get(p)
  if (cached !== undefined) return cached
  let low = 0
  let high = 10
  for (let i = 0; i < 80; i++) {
    const middle = (low + high) / 2
    if (normalCdf(middle) < p) low = middle
    else high = middle
  }
  const q = (low + high) / 2
  if (normalQuantiles.size < 100) normalQuantiles.set(p, q)
  return q
}

/** The density of Student's t with `df` degrees of freedom at `t`. */
const studentDensity = (t: number, df: number): number =>
  Math.exp(logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p(t * t / df))

/**
 * The t with P(|T| ≥ t) = `p` (so `studentCritical(0.05, df)` is the 97.5 % quantile); `df` may be
 * fractional (Welch's) or Infinity (the normal). Newton's method on the distribution from the
 * Cornish–Fisher expansion around the normal quantile: above 0 the CDF is concave, so the steps
 * approach from below without overshooting; a compare of 500 metrics asks for 500 of these.
 */
export const studentCritical = (p: number, df: number): number => {
  const z = normalQuantile(1 - p / 2)
  if (!Number.isFinite(df) || df > 1e7) return z
  const z3 = z ** 3
  const z5 = z ** 5
  let t = z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df)
  if (!(t > 0)) t = z
  for (let i = 0; i < 50; i++) {
    // P(|T| >= t) falls as t grows, with slope -2 x density
    const step = (studentTwoSided(t, df) - p) / (2 * studentDensity(t, df))
    t = Math.max(t + step, t / 2)
    if (Math.abs(step) <= 1e-12 * t) break
  }
  return t
}

/** A two-sample test of equal means: its statistic, degrees of freedom and two-sided p-value. */
export interface TTest {
  readonly t: number
  readonly df: number
  readonly pValue: number
}

const fromDifference = (difference: number, standardError: number, df: number): TTest => {
  if (!(df > 0)) return { t: Number.NaN, df, pValue: 1 }
  if (standardError === 0) {
    // no noise at all (a deterministic metric): any difference is certain, none is nothing
    return difference === 0 ? { t: 0, df, pValue: 1 } : { t: Math.sign(difference) * Infinity, df, pValue: 0 }
  }
  const t = difference / standardError
  return { t, df, pValue: studentTwoSided(t, df) }
}

/** Student's two-sample t-test with pooled variance (what Hunter runs on a split), `after − before`. */
export const studentTest = (before: Summary, after: Summary): TTest => {
  const df = before.n + after.n - 2
  if (before.n < 1 || after.n < 1 || df < 1) return { t: Number.NaN, df, pValue: 1 }
  const pooled = ((before.n - 1) * before.sd ** 2 + (after.n - 1) * after.sd ** 2) / df
  return fromDifference(after.mean - before.mean, Math.sqrt(pooled * (1 / before.n + 1 / after.n)), df)
}

/** Welch's t-test (unequal variances, Welch–Satterthwaite degrees of freedom), `after − before`. */
export const welchTest = (before: Summary, after: Summary): TTest => {
  if (before.n < 2 || after.n < 2) return { t: Number.NaN, df: Number.NaN, pValue: 1 }
  const va = before.sd ** 2 / before.n
  const vb = after.sd ** 2 / after.n
  const se = Math.sqrt(va + vb)
  const df = va + vb === 0 ? before.n + after.n - 2 : (va + vb) ** 2 / (va ** 2 / (before.n - 1) + vb ** 2 / (after.n - 1))
  return fromDifference(after.mean - before.mean, se, df)
}

/** Cohen's d: the difference of means over the pooled standard deviation; null when that is 0. */
export const cohensD = (a: Summary, b: Summary): number | null => {
  const pooled = Math.sqrt(((a.n - 1) * a.sd ** 2 + (b.n - 1) * b.sd ** 2) / (a.n + b.n - 2))
  return pooled === 0 ? null : (b.mean - a.mean) / pooled
}

/**
 * How far `b` is from `a`: the mean difference `b − a` with its Welch confidence interval, the
 * same relative to `a`'s mean, Cohen's d, and the test. What the compare page shows per metric.
 * Fields that cannot be computed (fewer than two values on a side) are null.
 */
export interface MeanDifference {
  readonly a: Summary
  readonly b: Summary
  readonly difference: number
  /** `difference / |mean(a)|`; null when `a`'s mean is 0. */
  readonly relative: number | null
  readonly confidence: number
  /** The interval of `difference` at `confidence`; null below two values a side. */
  readonly low: number | null
  readonly high: number | null
  readonly relativeLow: number | null
  readonly relativeHigh: number | null
  /** Difference over the pooled standard deviation; null when that is 0 or unknown. */
  readonly cohensD: number | null
  readonly t: number | null
  readonly df: number | null
  readonly pValue: number | null
}

export const meanDifference = (
  a: ReadonlyArray<number>,
  b: ReadonlyArray<number>,
  confidence = 0.95
): MeanDifference => {
  const sa = summarize(a)
  const sb = summarize(b)
  const difference = sb.mean - sa.mean
  const scale = sa.mean === 0 ? null : Math.abs(sa.mean)
  const relative = scale === null ? null : difference / scale
  if (sa.n < 2 || sb.n < 2) {
    return {
      a: sa, b: sb, difference, relative, confidence,
      low: null, high: null, relativeLow: null, relativeHigh: null, cohensD: null, t: null, df: null, pValue: null
    }
  }
  const test = welchTest(sa, sb)
  const se = Math.sqrt(sa.sd ** 2 / sa.n + sb.sd ** 2 / sb.n)
  const margin = se === 0 ? 0 : studentCritical(1 - confidence, test.df) * se
  return {
    a: sa,
    b: sb,
    difference,
    relative,
    confidence,
    low: difference - margin,
    high: difference + margin,
    relativeLow: scale === null ? null : (difference - margin) / scale,
    relativeHigh: scale === null ? null : (difference + margin) / scale,
    cohensD: cohensD(sa, sb),
    t: Number.isFinite(test.t) ? test.t : null,
    df: test.df,
    pValue: test.pValue
  }
}

/** An estimate of a mean: its value, standard error and degrees of freedom (Infinity when from a normal interval). */
export interface Estimate {
  readonly mean: number
  readonly se: number
  readonly df: number
}

export const estimateOfSamples = (samples: ReadonlyArray<number>): Estimate => {
  const summary = summarize(samples)
  return { mean: summary.mean, se: summary.sd / Math.sqrt(summary.n), df: summary.n - 1 }
}

/**
 * The `confidence` interval of `after.mean - before.mean` with Welch-Satterthwaite degrees of
 * freedom, from two estimates (samples, or a tool's interval read as normal): what the compare
 * page shows when a side has bounds and no samples.
 */
export const differenceInterval = (before: Estimate, after: Estimate, confidence = 0.95) => {
  const vb = before.se * before.se
  const va = after.se * after.se
  const se = Math.sqrt(vb + va)
  const df = se === 0
    ? Infinity
    : (vb + va) ** 2 / ((Number.isFinite(before.df) ? vb * vb / before.df : 0) + (Number.isFinite(after.df) ? va * va / after.df : 0))
  const difference = after.mean - before.mean
  const margin = se === 0 ? 0 : studentCritical(1 - confidence, df) * se
  return { difference, lower: difference - margin, upper: difference + margin, df }
}
