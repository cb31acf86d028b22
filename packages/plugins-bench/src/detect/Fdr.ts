/**
 * False discovery control across every metric of one analysis pass (Benjamini–Hochberg): with
 * m hypotheses, the largest k with p₍ₖ₎ ≤ q·k/m sets the cut-off, so that, of the change points
 * reported, a fraction of at most q is expected to be false; and when nothing changed at all, the
 * chance of reporting anything is at most q.
 */

/**
 * The p-value cut-off at level `q` for `pValues` out of `hypotheses` tests in all (at least as
 * many as there are p-values: a metric with no candidate still was a test). −1 when nothing passes.
 */
export const benjaminiHochberg = (pValues: ReadonlyArray<number>, q: number, hypotheses = pValues.length): number => {
  const m = Math.max(hypotheses, pValues.length)
  const sorted = [...pValues].filter((p) => !Number.isNaN(p)).sort((a, b) => a - b)
  let cutoff = -1
  for (let k = 1; k <= sorted.length; k++) if (sorted[k - 1] <= q * k / m) cutoff = sorted[k - 1]
  return cutoff
}
