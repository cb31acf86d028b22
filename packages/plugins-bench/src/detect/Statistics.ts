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

/** The t with P(|T| ≥ t) = `p` (so `studentQuantile(0.05, df)` is the 97.5 % quantile). */
export const studentCritical = (p: number, df: number): number => {
  let low = 0
  let high = 1
  while (studentTwoSided(high, df) > p && high < 1e12) high *= 2
  for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
    const middle = (low + high) / 2
    if (studentTwoSided(middle, df) > p) low = middle
    else high = middle
  }
  return (low + high) / 2
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
  const pooled = Math.sqrt(((sa.n - 1) * sa.sd ** 2 + (sb.n - 1) * sb.sd ** 2) / (sa.n + sb.n - 2))
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
    cohensD: pooled === 0 ? null : difference / pooled,
    t: Number.isFinite(test.t) ? test.t : null,
    df: test.df,
    pValue: test.pValue
  }
}
