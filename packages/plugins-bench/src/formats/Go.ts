/**
 * Go's `testing` benchmark output (`go test -bench . [-benchmem] [-count N]`), in the Go benchmark data
 * format (proposal 14313): result lines `BenchmarkName-8  <iterations>  <value> <unit>  <value> <unit> …`
 * among configuration lines (`goos: linux`, `pkg: …`, `cpu: …`) and anything else the run prints
 * (`PASS`, `ok  pkg 1.2s`, logs), which is skipped.
 *
 * The benchmark is `<pkg>.<name>` once a `pkg:` line has been seen (so that `./...` runs of several
 * packages cannot mix), with the trailing `-<GOMAXPROCS>` removed so a machine with other core counts
 * keeps the same metric. Measures: `ns/op` → `time` (ns), `B/op` → `memory` (B), `allocs/op` → `allocs`,
 * `MB/s` → `throughput` (MB/s), and a custom `b.ReportMetric` unit is its own measure and unit.
 * Time is less is better and rates more; the built-in per-op counts are less is better; a custom
 * unit gets the direction its unit implies, if any. Lines repeated by `-count N` are the samples;
 * the value is their mean. Go prints no spread, so there are no bounds.
 */
import type { Direction, Measurements } from "../Measurement.js"
import { directionOfUnit, mean, measurement, MeasurementsBuilder, notThisFormat, parseDecimal, wrongAt } from "./Reader.js"

const builtIn: Readonly<Record<string, { readonly measure: string; readonly unit: string; readonly direction: Direction }>> = {
  "ns/op": { measure: "time", unit: "ns", direction: "less_is_better" },
  "B/op": { measure: "memory", unit: "B", direction: "less_is_better" },
  "allocs/op": { measure: "allocs", unit: "allocs", direction: "less_is_better" },
  "MB/s": { measure: "throughput", unit: "MB/s", direction: "more_is_better" }
}

interface Series {
  readonly benchmark: string
  readonly goUnit: string
  readonly firstLine: number
  readonly values: Array<number>
}

const resultLine = /^(Benchmark\S*)\s+(\d+)\s+(\S.*)$/
const packageLine = /^pkg:\s*(\S+)\s*$/

export const parseGo = (text: string): Measurements => {
  const series = new Map<string, Series>()
  let pkg: string | undefined
  let lineNumber = 0
  let start = 0
  // Walk the lines by index rather than split(): one pass, no copy of a 10 MB input into an array.
  while (start <= text.length) {
    let end = text.indexOf("\n", start)
    if (end === -1) end = text.length
    lineNumber += 1
    const line = text.slice(start, end).trim()
    start = end + 1
    const pkgMatch = line.startsWith("pkg:") ? packageLine.exec(line) : null
    if (pkgMatch !== null) {
      pkg = pkgMatch[1]
      continue
    }
    const match = line.startsWith("Benchmark") ? resultLine.exec(line) : null
    if (match === null) continue
    const where = `line ${lineNumber}`
    const name = match[1].replace(/-\d+$/, "")
    const benchmark = pkg === undefined ? name : `${pkg}.${name}`
    const fields = match[3].trim().split(/\s+/)
    if (fields.length % 2 !== 0) throw wrongAt(where, `expected "<value> <unit>" pairs after the iteration count, got "${match[3].trim()}"`)
    for (let index = 0; index < fields.length; index += 2) {
      const value = parseDecimal(fields[index], where)
      const goUnit = fields[index + 1]
      const key = `${benchmark}\u0000${goUnit}`
      const existing = series.get(key)
      if (existing === undefined) series.set(key, { benchmark, goUnit, firstLine: lineNumber, values: [value] })
      else existing.values.push(value)
    }
  }
  if (series.size === 0) throw notThisFormat("no `BenchmarkName  <iterations>  <value> <unit>` line")
  const builder = new MeasurementsBuilder()
  for (const { benchmark, firstLine, goUnit, values } of series.values()) {
    const known = builtIn[goUnit]
    builder.add(
      benchmark,
      known?.measure ?? goUnit,
      measurement({
        value: mean(values),
        unit: known?.unit ?? goUnit,
        direction: known?.direction ?? directionOfUnit(goUnit),
        samples: values.length >= 2 ? values : undefined
      }),
      `line ${firstLine}`
    )
  }
  return builder.result()
}
