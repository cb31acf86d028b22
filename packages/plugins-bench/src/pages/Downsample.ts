/**
 * Server-side downsampling for the graph: per-bucket min and max. The x range is cut into
 * `points / 2` equal buckets and each bucket keeps its lowest and its highest point, in x
 * order. Unlike averaging (or LTTB, which keeps one point per bucket), a single slow commit
 * stays visible however far the graph is zoomed out, and a series of `n ≤ points` is returned
 * whole. The result never has more than `points` points.
 */
export interface Series {
  readonly x: ReadonlyArray<number>
  readonly y: ReadonlyArray<number>
  readonly hash: ReadonlyArray<string>
}

export const minMaxBuckets = (series: Series, points: number): Series => {
  const n = series.x.length
  if (n <= points) return series
  const buckets = Math.max(1, Math.floor(points / 2))
  const first = series.x[0]!
  const span = series.x[n - 1]! - first
  const x: Array<number> = []
  const y: Array<number> = []
  const hash: Array<string> = []
  const keep = (i: number) => {
    x.push(series.x[i]!)
    y.push(series.y[i]!)
    hash.push(series.hash[i]!)
  }
  let i = 0
  for (let bucket = 0; bucket < buckets && i < n; bucket++) {
    // the last bucket takes the rest (and every point when all share one x)
    const end = bucket === buckets - 1 || span === 0 ? Infinity : first + (span * (bucket + 1)) / buckets
    let lo = -1
    let hi = -1
    for (; i < n && series.x[i]! < end; i++) {
      if (lo === -1 || series.y[i]! < series.y[lo]!) lo = i
      if (hi === -1 || series.y[i]! > series.y[hi]!) hi = i
    }
    if (lo === -1) continue
    if (lo === hi) keep(lo)
    else if (lo < hi) (keep(lo), keep(hi))
    else (keep(hi), keep(lo))
  }
  return { x, y, hash }
}
