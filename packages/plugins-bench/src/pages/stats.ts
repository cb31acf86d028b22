/**
 * The statistics a compare needs: means and variances, Student's t quantile, the Welch
 * confidence interval of a difference of means, and Cohen's d. (Change detection has its
 * own in `detect/`; the coordinator may make one of the two.)
 */

export const mean = (xs: ReadonlyArray<number>): number => {
  let sum = 0
  for (const x of xs) sum += x
  return sum / xs.length
}

/** The sample variance (n − 1). */
export const variance = (xs: ReadonlyArray<number>): number => {
  const m = mean(xs)
  let sum = 0
  for (const x of xs) sum += (x - m) * (x - m)
  return sum / (xs.length - 1)
}

const logGamma = (x: number): number => {
  // Lanczos approximation (g = 7, 9 terms), accurate to ~15 digits for x > 0
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999185,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]!
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** The continued fraction of the regularized incomplete beta function (modified Lentz). */
const betaFraction = (a: number, b: number, x: number): number => {
  const tiny = 1e-300
  let c = 1
  let d = 1 - (a + b) * x / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const step = d * c
    h *= step
    if (Math.abs(step - 1) < 1e-14) break
  }
  return h
}

/** I_x(a, b), the regularized incomplete beta function. */
export const incompleteBeta = (a: number, b: number, x: number): number => {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? front * betaFraction(a, b, x) / a : 1 - front * betaFraction(b, a, 1 - x) / b
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's is). */
export const studentCdf = (t: number, df: number): number => {
  if (!Number.isFinite(df)) return normalCdf(t)
  const tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t))
  return t >= 0 ? 1 - tail : tail
}

/** P(Z ≤ z) for the standard normal (Abramowitz and Stegun 7.1.26 through erf; error < 1.5e-7). */
export const normalCdf = (z: number): number => {
  const x = Math.abs(z) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * x)
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x)
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf)
}

/** The density of Student's t with `df` degrees of freedom at `t`. */
export const studentPdf = (t: number, df: number): number =>
  Math.exp(logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI) - ((df + 1) / 2) * Math.log1p(t * t / df))

/**
 * The `p` quantile of Student's t with `df` degrees of freedom (df may be fractional), for p in
 * (0.5, 1): Newton's method on the CDF from the Cornish–Fisher expansion around the normal
 * quantile. Above 0 the CDF is concave, so the steps approach from below without overshooting.
 */
export const studentQuantile = (p: number, df: number): number => {
  if (!Number.isFinite(df)) return normalQuantile(p)
  const z = normalQuantile(p)
  const z3 = z ** 3
  const z5 = z ** 5
  let t = z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df)
  if (!(t > 0)) t = z
  for (let i = 0; i < 50; i++) {
    const step = (studentCdf(t, df) - p) / studentPdf(t, df)
    t = Math.max(t - step, t / 2)
    if (Math.abs(step) <= 1e-12 * t) break
  }
  return t
}

/** An estimate of a mean: its value, standard error and degrees of freedom (Infinity when from a normal interval). */
export interface Estimate {
  readonly mean: number
  readonly se: number
  readonly df: number
}

export const estimateOfSamples = (samples: ReadonlyArray<number>): Estimate => ({
  mean: mean(samples),
  se: Math.sqrt(variance(samples) / samples.length),
  df: samples.length - 1
})

/** The `level` confidence interval of `after.mean − before.mean`, Welch–Satterthwaite degrees of freedom. */
export const differenceInterval = (before: Estimate, after: Estimate, level = 0.95) => {
  const vb = before.se * before.se
  const va = after.se * after.se
  const se = Math.sqrt(vb + va)
  const df = se === 0
    ? Infinity
    : (vb + va) ** 2 / ((Number.isFinite(before.df) ? vb * vb / before.df : 0) + (Number.isFinite(after.df) ? va * va / after.df : 0))
  const difference = after.mean - before.mean
  const q = Number.isFinite(df) ? studentQuantile(0.5 + level / 2, df) : normalQuantile(0.5 + level / 2)
  return { difference, lower: difference - q * se, upper: difference + q * se, df }
}

const normalQuantiles = new Map<number, number>()

/** The standard normal quantile for p in (0.5, 1), by bisection on `normalCdf` (once per p: a compare asks for one). */
export const normalQuantile = (p: number): number => {
  const cached = normalQuantiles.get(p)
  if (cached !== undefined) return cached
  let lo = 0
  let hi = 10
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2
    if (normalCdf(mid) < p) lo = mid
    else hi = mid
  }
  const q = (lo + hi) / 2
  if (normalQuantiles.size < 100) normalQuantiles.set(p, q)
  return q
}

/** Cohen's d: the difference of means over the pooled standard deviation (undefined when that is 0). */
export const cohensD = (before: ReadonlyArray<number>, after: ReadonlyArray<number>): number | undefined => {
  const nb = before.length
  const na = after.length
  const pooled = Math.sqrt(((nb - 1) * variance(before) + (na - 1) * variance(after)) / (nb + na - 2))
  return pooled > 0 ? (mean(after) - mean(before)) / pooled : undefined
}
