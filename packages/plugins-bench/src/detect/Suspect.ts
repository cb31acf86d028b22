/**
 * The cheap tier: is one new value out of family with the metric's recent history? A one-sided
 * Student-t prediction interval (Bencher's `t_test`) in the metric's bad direction (both ways
 * when the direction is not known), gated by a minimum effect size so that a metric with tiny
 * noise does not flag every wobble. A suspect value costs a re-run of its commit, never an alert.
 */
import { mean, studentTwoSided, studentUpperTail, summarize } from "./Statistics.js"

/** -1: less is better; 1: more is better; 0: not known (both ways are suspect). */
export type DirectionSign = -1 | 0 | 1

export interface SuspectOptions {
  /** The newest this many values before the new one are its history. */
  readonly historyLength: number
  /** No verdict below this many values of history. */
  readonly minHistory: number
  /** One-sided level of the prediction interval: suspect when p ≤ alpha. */
  readonly alpha: number
  /** Minimum relative change from the history's mean. */
  readonly minEffect: number
  /** ...and at least this many times the history's coefficient of variation. */
  readonly cvFactor: number
}

export const defaultSuspectOptions: SuspectOptions = {
  historyLength: 64,
  minHistory: 5,
  alpha: 0.01,
  minEffect: 0.02,
  cvFactor: 2
}

export interface SuspectVerdict {
  readonly suspect: boolean
  /** Why not, or what was found, for logs and pages. */
  readonly reason: "short-history" | "within-noise" | "small-effect" | "better" | "out-of-family"
  readonly historyMean: number
  /** `(value − historyMean) / |historyMean|`; ±Infinity when the mean is 0 and the value is not. */
  readonly relativeChange: number
  readonly pValue: number
}

/** Tests `value` against `history` (oldest first; only its newest `historyLength` count). */
export const testSuspect = (
  history: ReadonlyArray<number>,
  value: number,
  direction: DirectionSign,
  options: Partial<SuspectOptions> = {}
): SuspectVerdict => {
  const o = { ...defaultSuspectOptions, ...options }
  const recent = history.slice(Math.max(0, history.length - o.historyLength))
  const s = summarize(recent)
  const historyMean = recent.length === 0 ? Number.NaN : mean(recent)
  const difference = value - historyMean
  const relativeChange = historyMean === 0 ? (difference === 0 ? 0 : Math.sign(difference) * Infinity) : difference / Math.abs(historyMean)
  if (recent.length < o.minHistory) return { suspect: false, reason: "short-history", historyMean, relativeChange, pValue: 1 }
  // which way is worse: up when less is better, down when more is better
  const worse = -direction
  if (worse !== 0 && Math.sign(difference) !== worse) return { suspect: false, reason: "better", historyMean, relativeChange, pValue: 1 }
  let pValue: number
  if (s.sd === 0) pValue = difference === 0 ? 1 : 0
  else {
    const t = difference / (s.sd * Math.sqrt(1 + 1 / s.n))
    pValue = worse === 0 ? studentTwoSided(t, s.n - 1) : studentUpperTail(worse * t, s.n - 1)
  }
  if (pValue > o.alpha) return { suspect: false, reason: "within-noise", historyMean, relativeChange, pValue }
  const cv = historyMean === 0 ? 0 : s.sd / Math.abs(historyMean)
  if (Math.abs(relativeChange) < Math.max(o.minEffect, o.cvFactor * cv)) {
    return { suspect: false, reason: "small-effect", historyMean, relativeChange, pValue }
  }
  return { suspect: true, reason: "out-of-family", historyMean, relativeChange, pValue }
}
