/** A table that fits its box: a header, then the rows of a window around the selected one. */
import { Box, Text } from "ink"
import { columnWidths, tableLine, windowStart } from "./Layout.js"

export interface TableProps {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly width: number
  /** Lines for the header and the rows. */
  readonly height: number
  /** The highlighted row, when the table is one to move in. */
  readonly selected?: number | undefined
  readonly empty?: string | undefined
}

export const Table = ({ columns, rows, width, height, selected, empty = "(none)" }: TableProps) => {
  const widths = columnWidths(columns, rows, width)
  const room = Math.max(0, height - 1)
  const start = windowStart(selected ?? 0, rows.length, room)
  const shown = rows.slice(start, start + room)
  return (
    <Box flexDirection="column">
      <Text bold>{tableLine(columns, widths, width)}</Text>
      {rows.length === 0 && room > 0
        ? <Text dimColor>{empty}</Text>
        : shown.map((row, i) => (
          <Text key={start + i} inverse={start + i === selected}>{tableLine(row, widths, width)}</Text>
        ))}
    </Box>
  )
}
