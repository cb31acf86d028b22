/**
 * The alert tier over many series at once: Hunter-style change points in each series, then one
 * Benjamini–Hochberg cut-off over the change points of every series, then each series merged
 * again down to that cut-off (dropping a change point widens its neighbours' segments, so they
 * are tested again). A change point raises an alert only once the new level has held for
 * `minPointsAfter` more points; before that it is `pending`.
 */
import { changePoints, type ChangePoint, type ChangePointOptions, defaultChangePointOptions, mergeChangePoints } from "./ChangePoints.js"
import { benjaminiHochberg } from "./Fdr.js"
import type { DirectionSign } from "./Suspect.js"

export interface Series<K> {
  readonly key: K
  /** Oldest first, one value per measured commit. */
  readonly values: ReadonlyArray<number>
  readonly direction: DirectionSign
}

export interface DetectOptions extends ChangePointOptions {
  /** The false discovery rate over all series of one pass. */
  readonly fdrQ: number
  /** Points after the change point's own one that must share the new level. */
  readonly minPointsAfter: number
}

export const defaultDetectOptions: DetectOptions = { ...defaultChangePointOptions, fdrQ: 0.05, minPointsAfter: 3 }

export interface DetectedChange<K> {
  readonly key: K
  readonly changePoint: ChangePoint
  /** Moved the metric's worse way. */
  readonly regression: boolean
  /** Moved the metric's better way (neither when the direction is not known). */
  readonly improvement: boolean
}

export interface Detection<K> {
  /** Change points that raise alerts. */
  readonly changes: ReadonlyArray<DetectedChange<K>>
  /** Significant, but the new level has not held for `minPointsAfter` points yet. */
  readonly pending: ReadonlyArray<DetectedChange<K>>
  /** The p-value cut-off the false discovery control set (−1: nothing passed). */
  readonly cutoff: number
  /** How many hypotheses the cut-off was computed over. */
  readonly hypotheses: number
}

const classify = <K>(key: K, direction: DirectionSign, changePoint: ChangePoint): DetectedChange<K> => {
  const moved = Math.sign(changePoint.after.mean - changePoint.before.mean)
  return { key, changePoint, regression: direction !== 0 && moved === -direction, improvement: direction !== 0 && moved === direction }
}

export const detectChanges = <K>(series: ReadonlyArray<Series<K>>, options: Partial<DetectOptions> = {}): Detection<K> => {
  const o = { ...defaultDetectOptions, ...options }
  const found = series.map((s) => changePoints(s.values, o))
  // a series with no candidate still was one test
  const hypotheses = found.reduce((sum, points) => sum + Math.max(1, points.length), 0)
  const cutoff = benjaminiHochberg(found.flatMap((points) => points.map((point) => point.pValue)), o.fdrQ, hypotheses)
  const changes: Array<DetectedChange<K>> = []
  const pending: Array<DetectedChange<K>> = []
  series.forEach((s, i) => {
    if (found[i].length === 0 || cutoff < 0) return
    const kept = mergeChangePoints(s.values, found[i], Math.min(cutoff, o.maxPValue), o.minMagnitude)
    for (const point of kept) {
      const change = classify(s.key, s.direction, point)
      if (point.after.n - 1 >= o.minPointsAfter) changes.push(change)
      else pending.push(change)
    }
  })
  return { changes, pending, cutoff, hypotheses }
}

/** A commit range by positions on one chain of commits: the change lies in (good, bad]. */
export interface Range {
  readonly good: number
  readonly bad: number
}

/**
 * Groups changes that one commit range could explain, so that one commit moving many metrics is
 * one alert: changes join a group when their ranges overlap once each is widened by `reach`
 * (noise places a change point a measured commit or two off, differently in each metric). A
 * group's range is the union of its members' ranges; bisection narrows it, with every member
 * voting on each commit measured inside.
 */
export const groupByRange = <T extends Range>(
  items: ReadonlyArray<T>,
  reach: (item: T) => Range = (item) => item
): Array<Range & { readonly members: ReadonlyArray<T> }> => {
  const sorted = [...items].sort((x, y) => x.bad - y.bad || x.good - y.good)
  const groups: Array<{ good: number; bad: number; reachGood: number; reachBad: number; members: Array<T> }> = []
  for (const item of sorted) {
    const wide = reach(item)
    const group = groups.find((g) => Math.max(g.reachGood, wide.good) < Math.min(g.reachBad, wide.bad))
    if (group === undefined) {
      groups.push({ good: item.good, bad: item.bad, reachGood: wide.good, reachBad: wide.bad, members: [item] })
    } else {
      group.good = Math.min(group.good, item.good)
      group.bad = Math.max(group.bad, item.bad)
      group.reachGood = Math.min(group.reachGood, wide.good)
      group.reachBad = Math.max(group.reachBad, wide.bad)
      group.members.push(item)
    }
  }
  return groups.map(({ bad, good, members }) => ({ good, bad, members }))
}
