/**
 * Sparklines: a series of numbers as one line of Unicode block characters (▁▂▃▄▅▆▇█),
 * one character a value, for the TUI's tables (job rates, an endpoint's latencies).
 * Pure, so plugins' views may use it too.
 */

const blocks = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] as const

export interface SparklineOptions {
  /** The value drawn as the full block; the series' largest when not given. */
  readonly max?: number | undefined
  /** The value drawn as the lowest block; 0 when not given (so a flat series of zeros is all ▁). */
  readonly min?: number | undefined
  /** What a missing value (undefined, NaN) is drawn as: a space unless told. */
  readonly missing?: string | undefined
}

/**
 * `values` as blocks, scaled between `min` and `max`: the lowest block is `min` (and below),
 * the full block `max` (and above); any value above `min` shows at least ▂, so a little
 * is never drawn as nothing.
 */
export const sparkline = (values: ReadonlyArray<number | undefined>, options: SparklineOptions = {}): string => {
  const present = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
  const min = options.min ?? 0
  const max = options.max ?? (present.length === 0 ? min : Math.max(...present))
  const missing = options.missing ?? " "
  const span = max - min
  return values.map((value) => {
    if (value === undefined || !Number.isFinite(value)) return missing
    if (value <= min || span <= 0) return value > min ? blocks[blocks.length - 1] : blocks[0]
    const level = Math.round(((value - min) / span) * (blocks.length - 1))
    return blocks[Math.min(blocks.length - 1, Math.max(1, level))]
  }).join("")
}

/** The last `width` values of `values` (the newest on the right), for a column `width` wide. */
export const lastValues = <A>(values: ReadonlyArray<A>, width: number): ReadonlyArray<A> =>
  width <= 0 ? [] : values.slice(Math.max(0, values.length - width))
