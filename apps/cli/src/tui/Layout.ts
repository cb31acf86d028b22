/**
 * Fitting text to the terminal: every line the TUI draws is cut to the width with an
 * ellipsis, never wrapped; a table's columns shrink (the widest first) until its lines fit.
 */

/** `text` on one line, cut to `width` characters with "…" when longer. */
export const fit = (text: string, width: number): string => {
  const line = text.replace(/[\r\n\t]+/g, " ")
  if (width <= 0) return ""
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`
}

/** `text` cut to `width`, and padded to it. */
export const cell = (text: string, width: number): string => fit(text, width).padEnd(width)

const gap = 2

/** Column widths that fit `width`: each its widest cell, then the widest shrunk in turn (to 3 at least). */
export const columnWidths = (
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  width: number
): Array<number> => {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? "").length), 1))
  const total = () => widths.reduce((sum, w) => sum + w, 0) + gap * Math.max(0, widths.length - 1)
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths))
    if (widths[widest]! <= 3) break
    widths[widest] = Math.max(3, widths[widest]! - Math.max(1, total() - width))
  }
  return widths
}

/** One table line: the cells at `widths`, the whole cut to `width` (when even 3-wide columns do not fit). */
export const tableLine = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>, width: number): string =>
  fit(widths.map((w, i) => cell(cells[i] ?? "", w)).join(" ".repeat(gap)).trimEnd(), width)

/** The first row to show so that `selected` is within a window of `height` rows. */
export const windowStart = (selected: number, count: number, height: number): number => {
  if (count <= height) return 0
  const start = Math.max(0, selected - Math.floor(height / 2))
  return Math.min(start, count - height)
}

/** A time in the table's short form: `HH:MM:SS` today, else the date. */
export const shortTime = (ms: number | undefined, now: number): string => {
  if (ms === undefined) return "-"
  const iso = new Date(ms).toISOString()
  return iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? iso.slice(11, 19) : iso.slice(0, 10)
}

/** How long until `ms` (or since, with "ago"), in its two largest units. */
export const relative = (ms: number, now: number): string => {
  const delta = Math.round((ms - now) / 1000)
  const s = Math.abs(delta)
  const text = s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor(s / 60) % 60}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`
  return delta >= 0 ? `in ${text}` : `${text} ago`
}
