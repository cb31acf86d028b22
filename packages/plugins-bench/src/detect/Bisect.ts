/**
 * Bisection of an alert's commit range, one commit at a time: the range runs from the last
 * commit measured on the old level (good) to the first measured on the new one (bad), along the
 * first-parent chain. Commits measured inside it narrow it; of the untried ones, the one nearest
 * the middle is queued next; a commit that was run but gave no usable value is skipped, like
 * `git bisect skip`.
 */

export type Side = "good" | "bad"

export interface RangeCommit {
  readonly hash: string
  /** Some run of it exists (or a run was tried and failed): do not queue it again. */
  readonly tried: boolean
  /** Which level its values sit on, when it was measured and that could be told. */
  readonly side?: Side | undefined
}

export type BisectStep =
  /** Queue `hash`; the range is narrowed to (good, bad) meanwhile. */
  | { readonly _tag: "Queue"; readonly hash: string; readonly good: string; readonly bad: string }
  /** Exactly one commit is left: `bad` is to blame. */
  | { readonly _tag: "Blamed"; readonly hash: string; readonly good: string; readonly bad: string }
  /** Several commits are left but none can be measured: the range itself is the answer. */
  | { readonly _tag: "Exhausted"; readonly good: string; readonly bad: string }

/**
 * The next step for `commits`, oldest first: the first is the alert's good commit, the last its
 * bad one (their sides are taken as given).
 */
export const bisectStep = (commits: ReadonlyArray<RangeCommit>): BisectStep => {
  if (commits.length < 2) throw new RangeError("a range needs its good and its bad commit")
  const last = commits.length - 1
  let firstBad = last
  for (let i = 1; i < last; i++) {
    if (commits[i].side === "bad") {
      firstBad = i
      break
    }
  }
  let lastGood = 0
  for (let i = firstBad - 1; i > 0; i--) {
    if (commits[i].side === "good") {
      lastGood = i
      break
    }
  }
  const good = commits[lastGood].hash
  const bad = commits[firstBad].hash
  if (firstBad - lastGood === 1) return { _tag: "Blamed", hash: bad, good, bad }
  const middle = (lastGood + firstBad) / 2
  let next = -1
  for (let i = lastGood + 1; i < firstBad; i++) {
    if (!commits[i].tried && (next < 0 || Math.abs(i - middle) < Math.abs(next - middle))) next = i
  }
  return next < 0 ? { _tag: "Exhausted", good, bad } : { _tag: "Queue", hash: commits[next].hash, good, bad }
}

/** Where a commit's values sit between the levels before and after a change. */
export interface SideVerdict {
  readonly side: Side | undefined
  /** 0 at the old level, 1 at the new one (the mean over the metrics that have a value). */
  readonly level: number | undefined
  /** Clear of the middle by `margin`: no more samples needed to tell. */
  readonly sure: boolean
}

/**
 * Which level a measured commit sits on: each of the alert's metrics places its value between
 * the mean before the change (0) and after it (1); the mean of those decides, and is `sure` when
 * it is at least `margin` away from the middle (a value near the middle is worth another sample).
 */
export const classifySide = (
  values: ReadonlyMap<string, number>,
  metrics: ReadonlyArray<{ readonly metric: string; readonly before: number; readonly after: number }>,
  margin = 0.25
): SideVerdict => {
  let sum = 0
  let count = 0
  for (const { after, before, metric } of metrics) {
    const value = values.get(metric)
    if (value === undefined || after === before) continue
    sum += (value - before) / (after - before)
    count++
  }
  if (count === 0) return { side: undefined, level: undefined, sure: false }
  const level = sum / count
  return { side: level > 0.5 ? "bad" : level < 0.5 ? "good" : undefined, level, sure: Math.abs(level - 0.5) >= margin }
}
