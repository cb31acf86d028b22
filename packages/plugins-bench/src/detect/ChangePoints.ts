/**
 * Change points in one series, the way Hunter and Apache Otava find them (Fleming et al.,
 * ICPE 2023): E-Divisive means (Matteson & James) picks where to split, Student's t-test on the
 * two sides says whether the split is real.
 *
 * - Split: windows of `windowLength` sliding by half a window; inside each, split recursively
 *   at the energy-distance maximum while the split is significant at a relaxed level (10× the
 *   final one). The union over windows is the set of weak change points.
 * - Merge: while some point is weaker than `maxPValue` (or moves less than `minMagnitude`),
 *   drop the weakest and test its neighbours again on their widened segments.
 *
 * One difference from Hunter: the split was chosen as the best of every position of its segment,
 * so the plain t-test p-value of that split is far too small on pure noise (about 4 % of noise
 * series of 100 points would pass p ≤ 0.001). Each p-value here is Bonferroni-corrected for the
 * positions the split could have taken, which makes it a true p-value and lets the false
 * discovery control across metrics (`Fdr.ts`) mean what it says.
 *
 * A change point's `index` is the first value of the new segment (Otava's convention).
 */
import { studentTest, summarize, type Summary } from "./Statistics.js"

export interface ChangePointOptions {
  readonly windowLength: number
  /** A change point stands when its corrected p-value is at most this. */
  readonly maxPValue: number
  /** ...and its relative change (the larger of both ways) is more than this. */
  readonly minMagnitude: number
}

export const defaultChangePointOptions: ChangePointOptions = { windowLength: 50, maxPValue: 0.001, minMagnitude: 0 }

export interface ChangePoint {
  /** The first index of the new segment. */
  readonly index: number
  /** The segment from the previous change point (or the start) to this one. */
  readonly before: Summary
  /** The segment from this change point to the next one (or the end). */
  readonly after: Summary
  readonly t: number
  /** The two-sided p-value, corrected for the choice of the split within its segment. */
  readonly pValue: number
  /** `(after.mean − before.mean) / |before.mean|` (±Infinity from 0). */
  readonly change: number
  /** Otava's magnitude: the larger of the forward and backward relative change. */
  readonly magnitude: number
}

const relativeChange = (from: number, to: number): number =>
  from === 0 ? (to === 0 ? 0 : Math.sign(to) * Infinity) : (to - from) / Math.abs(from)

/** Tests the split of `values[start:end)` at `index`. */
const testSplit = (values: ReadonlyArray<number>, start: number, index: number, end: number): ChangePoint => {
  const before = summarize(values.slice(start, index))
  const after = summarize(values.slice(index, end))
  const test = studentTest(before, after)
  // the split could have been at any of end − start − 1 positions
  const pValue = Math.min(1, test.pValue * Math.max(1, end - start - 1))
  const forward = relativeChange(before.mean, after.mean)
  const backward = relativeChange(after.mean, before.mean)
  return {
    index, before, after, t: test.t, pValue,
    change: forward,
    magnitude: Math.max(Math.abs(forward), Math.abs(backward))
  }
}

/**
 * The energy-distance split of `values[start:end)`: the τ (and window end κ) maximising
 * Q(τ, κ) = 2/(m+n)·Σ|X−Y| − 2m/((m+n)(n−1))·Σ|X−X'| − 2n/((m+n)(m−1))·Σ|Y−Y'|
 * with X = values[start:τ), Y = values[τ:κ). Sums of distances come from 2-D prefix sums, so
 * each (τ, κ) costs O(1).
 */
const energySplitter = (values: ReadonlyArray<number>) => {
  const n = values.length
  const width = n + 1
  const prefix = new Float64Array(width * width)
  for (let i = 0; i < n; i++) {
    let row = 0
    for (let j = 0; j < n; j++) {
      row += Math.abs(values[i] - values[j])
      prefix[(i + 1) * width + j + 1] = prefix[i * width + j + 1] + row
    }
  }
  const block = (a0: number, a1: number, b0: number, b1: number) =>
    prefix[a1 * width + b1] - prefix[a0 * width + b1] - prefix[a1 * width + b0] + prefix[a0 * width + b0]
  return (start: number, end: number): { index: number; q: number } | undefined => {
    let best: { index: number; q: number } | undefined
    for (let tau = start + 1; tau < end; tau++) {
      const nx = tau - start
      const within = block(start, tau, start, tau) / 2
      for (let kappa = tau + 1; kappa <= end; kappa++) {
        const ny = kappa - tau
        const total = nx + ny
        let q = 2 / total * block(start, tau, tau, kappa)
        if (nx > 1) q -= 2 * ny / (total * (nx - 1)) * within
        if (ny > 1) q -= 2 * nx / (total * (ny - 1)) * (block(tau, kappa, tau, kappa) / 2)
        if (best === undefined || q > best.q) best = { index: tau, q }
      }
    }
    return best
  }
}

/** Segment bounds around sorted `indexes` in [0, length). */
const segments = (indexes: ReadonlyArray<number>, length: number): Array<readonly [number, number]> => {
  const bounds = [0, ...indexes, length]
  const result: Array<readonly [number, number]> = []
  for (let i = 0; i + 1 < bounds.length; i++) if (bounds[i] < bounds[i + 1]) result.push([bounds[i], bounds[i + 1]])
  return result
}

/** E-Divisive inside one window: split at the best energy split while the split is significant. */
const divide = (window: ReadonlyArray<number>, maxPValue: number): Array<number> => {
  const split = energySplitter(window)
  const found: Array<number> = []
  // a segment's best split stays the same until the segment is split
  const candidates = new Map<string, { index: number; q: number } | undefined>()
  for (;;) {
    let best: { index: number; q: number; start: number; end: number } | undefined
    for (const [start, end] of segments(found, window.length)) {
      if (end - start < 2) continue
      const key = `${start}:${end}`
      if (!candidates.has(key)) candidates.set(key, split(start, end))
      const candidate = candidates.get(key)
      if (candidate !== undefined && (best === undefined || candidate.q > best.q)) best = { ...candidate, start, end }
    }
    if (best === undefined || testSplit(window, best.start, best.index, best.end).pValue > maxPValue) return found
    found.push(best.index)
    found.sort((a, b) => a - b)
  }
}

/** Tests every change point against its neighbours. */
const testAll = (values: ReadonlyArray<number>, indexes: ReadonlyArray<number>): Array<ChangePoint> =>
  indexes.map((index, i) => testSplit(values, i === 0 ? 0 : indexes[i - 1], index, i + 1 < indexes.length ? indexes[i + 1] : values.length))

/** Hunter's split step: the weak change points of `values` at `maxPValue`. */
export const weakChangePoints = (values: ReadonlyArray<number>, windowLength: number, maxPValue: number): Array<ChangePoint> => {
  if (windowLength < 2) throw new RangeError(`windowLength must be at least 2, not ${windowLength}`)
  const step = Math.floor(windowLength / 2)
  const found = new Set<number>()
  let start = 0
  while (start < values.length) {
    const end = Math.min(start + windowLength, values.length)
    const local = divide(values.slice(start, end), maxPValue).map((index) => index + start)
    for (const index of local) found.add(index)
    start = Math.max(local.length > 0 ? local[local.length - 1] : 0, start + step)
  }
  return testAll(values, [...found].sort((a, b) => a - b))
}

/**
 * Hunter's merge step: drops the weakest change point (highest p-value, else smallest magnitude)
 * until every one left has p ≤ `maxPValue` and magnitude > `minMagnitude` (or ≥ 0 when 0).
 */
export const mergeChangePoints = (
  values: ReadonlyArray<number>,
  changePoints: ReadonlyArray<ChangePoint>,
  maxPValue: number,
  minMagnitude: number
): Array<ChangePoint> => {
  const points = [...changePoints]
  while (points.length > 0) {
    let weakest = 0
    for (let i = 1; i < points.length; i++) if (points[i].pValue > points[weakest].pValue) weakest = i
    if (points[weakest].pValue <= maxPValue) {
      if (minMagnitude <= 0) return points
      for (let i = 0; i < points.length; i++) if (points[i].magnitude < points[weakest].magnitude) weakest = i
      if (points[weakest].magnitude > minMagnitude) return points
    }
    points.splice(weakest, 1)
    // the neighbours' segments widened: test them again
    const indexes = points.map((point) => point.index)
    for (const i of [weakest - 1, weakest]) {
      if (i < 0 || i >= points.length) continue
      points[i] = testSplit(values, i === 0 ? 0 : indexes[i - 1], indexes[i], i + 1 < indexes.length ? indexes[i + 1] : values.length)
    }
  }
  return points
}

/** Change points of one series (Hunter's split, then merge to `maxPValue`). */
export const changePoints = (values: ReadonlyArray<number>, options: Partial<ChangePointOptions> = {}): Array<ChangePoint> => {
  const o = { ...defaultChangePointOptions, ...options }
  // Otava's relaxed first pass
  const firstPass = o.maxPValue < 0.05 ? o.maxPValue * 10 : o.maxPValue < 0.5 ? o.maxPValue * 2 : o.maxPValue
  return mergeChangePoints(values, weakChangePoints(values, o.windowLength, firstPass), o.maxPValue, o.minMagnitude)
}
