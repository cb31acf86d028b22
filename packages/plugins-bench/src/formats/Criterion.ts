/**
 * criterion.rs's `cargo bench` text output, which is what users have in CI logs (its machine-readable
 * files under `target/criterion/` are documented as private, and `--message-format=json` needs the
 * separate cargo-criterion):
 *
 *     sort_sizes/100          time:   [1.0412 µs 1.0533 µs 1.0660 µs]
 *                             thrpt:  [93.808 Melem/s 94.938 Melem/s 96.042 Melem/s]
 *                             change: [-2.1% +0.3% +2.9%] (p = 0.80 > 0.05)
 *
 * A name too long for its column stands on a line of its own above `time:`. Per benchmark:
 * `time` in ns (criterion scales to ps/ns/µs/ms/s as it likes, so values are brought to one unit),
 * value = the point estimate, bounds = criterion's confidence interval (95 % by default); less is better.
 * `throughput` (from `Throughput::Elements`/`Bytes`) in elem/s or B/s, bounds = the interval; more is better.
 * Criterion prints no samples. `change:` lines (relative to criterion's own last run) are skipped.
 *
 * Also read:
 * - the libtest-style lines `test <name> ... bench: 1,234 ns/iter (+/- 56)` that both `cargo bench` on
 *   nightly's `#[bench]` and criterion's `--output-format bencher` print; bounds = ± that.
 * - criterion's `raw.csv` (`target/criterion/<id>/new/raw.csv`, the one file its book calls stable;
 *   several may be concatenated): `group,function,value,throughput_num,throughput_type,
 *   sample_measured_value,unit,iteration_count`. The benchmark is `group/function/value` without the
 *   empty parts (criterion's id); `time` samples = each sample's measured value / its iteration count
 *   (in ns when the unit is a time), value = their mean, no bounds (the interval is not in the file).
 */
import type { Measurements } from "../Measurement.js"
import {
  directionOfUnit,
  mean,
  measurement,
  MeasurementsBuilder,
  nanosecondsPowerOf,
  notThisFormat,
  parseDecimal,
  plusMinus,
  wrongAt
} from "./Reader.js"

const timeLine = /^(.*?)\s*time:\s+\[([^\]]*)\]\s*$/
const throughputLine = /^\s*thrpt:\s+\[([^\]]*)\]\s*$/
const bencherLine = /^test (.+?) \.\.\. bench:\s+([\d,.]+) (\S+)\/iter(?: \(\+\/- ([\d,.]+)\))?\s*$/

/** Throughput units to one base unit per kind: criterion prints decimal prefixes for elements, binary for bytes (decimal with `BytesDecimal`). */
type Scale = { readonly unit: string; readonly tenTo: number; readonly factor: number }
const throughputUnits: Readonly<Record<string, Scale>> = {
  "elem/s": { unit: "elem/s", tenTo: 0, factor: 1 },
  "Kelem/s": { unit: "elem/s", tenTo: 3, factor: 1 },
  "Melem/s": { unit: "elem/s", tenTo: 6, factor: 1 },
  "Gelem/s": { unit: "elem/s", tenTo: 9, factor: 1 },
  "B/s": { unit: "B/s", tenTo: 0, factor: 1 },
  "KiB/s": { unit: "B/s", tenTo: 0, factor: 1024 },
  "MiB/s": { unit: "B/s", tenTo: 0, factor: 1024 ** 2 },
  "GiB/s": { unit: "B/s", tenTo: 0, factor: 1024 ** 3 },
  "TiB/s": { unit: "B/s", tenTo: 0, factor: 1024 ** 4 },
  "KB/s": { unit: "B/s", tenTo: 3, factor: 1 },
  "MB/s": { unit: "B/s", tenTo: 6, factor: 1 },
  "GB/s": { unit: "B/s", tenTo: 9, factor: 1 },
  "TB/s": { unit: "B/s", tenTo: 12, factor: 1 }
}

/** `[low unit mid unit high unit]` as three numbers scaled by `scale(unit)`. */
const readTriple = (
  inside: string,
  where: string,
  scale: (unit: string) => Scale | undefined
): { readonly unit: string; readonly low: number; readonly mid: number; readonly high: number } => {
  const tokens = inside.trim().split(/\s+/)
  if (tokens.length !== 6) throw wrongAt(where, `expected "[low unit estimate unit high unit]", got "[${inside}]"`)
  let unit: string | undefined
  const values: Array<number> = []
  for (let index = 0; index < 6; index += 2) {
    const scaled = scale(tokens[index + 1])
    if (scaled === undefined) throw wrongAt(where, `unknown unit "${tokens[index + 1]}"`)
    if (unit !== undefined && unit !== scaled.unit) throw wrongAt(where, `mixes units ${unit} and ${scaled.unit}`)
    unit = scaled.unit
    values.push(parseDecimal(tokens[index], where, scaled.tenTo) * scaled.factor)
  }
  return { unit: unit!, low: Math.min(values[0], values[2]), mid: values[1], high: Math.max(values[0], values[2]) }
}

const timeScale = (unit: string): Scale | undefined =>
  nanosecondsPowerOf[unit] === undefined ? undefined : { unit: "ns", tenTo: nanosecondsPowerOf[unit], factor: 1 }
const throughputScale = (unit: string): Scale | undefined => throughputUnits[unit]

const rawCsvHeader = "group,function,value,throughput_num,throughput_type,sample_measured_value,unit,iteration_count"

/** One CSV record as written by Rust's `csv` crate: fields quoted only when they hold `,` or `"`. */
const csvFields = (line: string): Array<string> | undefined => {
  const fields: Array<string> = []
  let index = 0
  while (index <= line.length) {
    if (line[index] === "\"") {
      let field = ""
      index += 1
      for (;;) {
        const quote = line.indexOf("\"", index)
        if (quote === -1) return undefined
        field += line.slice(index, quote)
        if (line[quote + 1] === "\"") {
          field += "\""
          index = quote + 2
        } else {
          index = quote + 1
          break
        }
      }
      fields.push(field)
      if (index < line.length && line[index] !== ",") return undefined
      index += 1
    } else {
      let comma = line.indexOf(",", index)
      if (comma === -1) comma = line.length
      fields.push(line.slice(index, comma))
      index = comma + 1
    }
  }
  return fields
}

const parseRawCsv = (text: string): Measurements => {
  const series = new Map<string, { readonly unit: string; readonly line: number; readonly samples: Array<number> }>()
  let lineNumber = 0
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf("\n", start)
    if (end === -1) end = text.length
    lineNumber += 1
    const line = text.slice(start, end).replace(/\r$/, "")
    start = end + 1
    if (line.trim() === "" || line === rawCsvHeader) continue
    const where = `line ${lineNumber}`
    const fields = csvFields(line)
    if (fields === undefined || fields.length !== 8) throw wrongAt(where, `expected the 8 fields of ${rawCsvHeader}`)
    const [group, fn, parameter, , , measured, unit, iterations] = fields
    const name = [group, fn, parameter].filter((part) => part !== "").join("/")
    if (name === "") throw wrongAt(where, "group, function and value are all empty")
    const count = parseDecimal(iterations, where)
    if (count <= 0) throw wrongAt(where, `iteration_count ${iterations} is not positive`)
    const power = nanosecondsPowerOf[unit]
    const perIteration = parseDecimal(measured, where, power ?? 0) / count
    const existing = series.get(name)
    const storedUnit = power === undefined ? unit : "ns"
    if (existing === undefined) series.set(name, { unit: storedUnit, line: lineNumber, samples: [perIteration] })
    else if (existing.unit !== storedUnit) throw wrongAt(where, `unit ${unit} differs from ${existing.unit} on line ${existing.line}`)
    else existing.samples.push(perIteration)
  }
  const builder = new MeasurementsBuilder()
  for (const [name, { line, samples, unit }] of series) {
    builder.add(name, "time", measurement({ value: mean(samples), unit, direction: directionOfUnit(unit), samples }), `line ${line}`)
  }
  return builder.result()
}

export const parseCriterion = (text: string): Measurements => {
  if (text.trimStart().startsWith(rawCsvHeader)) return parseRawCsv(text)
  const builder = new MeasurementsBuilder()
  /** The line before, when it is left-aligned: the name of a benchmark whose `time:` line has none. */
  let previousLine: string | undefined
  /** The benchmark the next `thrpt:` line belongs to. */
  let current: string | undefined
  let lineNumber = 0
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf("\n", start)
    if (end === -1) end = text.length
    lineNumber += 1
    const line = text.slice(start, end).replace(/\r$/, "")
    start = end + 1
    const where = `line ${lineNumber}`

    const bencher = line.startsWith("test ") ? bencherLine.exec(line) : null
    if (bencher !== null) {
      const power = nanosecondsPowerOf[bencher[3]]
      if (power === undefined) throw wrongAt(where, `unknown unit "${bencher[3]}/iter"`)
      const value = parseDecimal(bencher[2], where, power)
      const spread = bencher[4] === undefined ? undefined : parseDecimal(bencher[4], where, power)
      builder.add(
        bencher[1].trim(),
        "time",
        measurement({
          value,
          ...plusMinus(value, spread, true),
          unit: "ns",
          direction: "less_is_better"
        }),
        where
      )
      current = undefined
      previousLine = undefined
      continue
    }

    const time = line.includes("time:") ? timeLine.exec(line) : null
    // An indented `time: [-3.1% +0.2% +3.5%]` under `change:` is relative to criterion's last run: skipped.
    if (time !== null && !time[2].includes("%")) {
      const name = time[1].trim() !== "" ? time[1].trim() : previousLine
      if (name === undefined) throw wrongAt(where, "a `time:` line with no benchmark name on it or on the line before")
      const { high, low, mid, unit } = readTriple(time[2], where, timeScale)
      builder.add(name, "time", measurement({ value: mid, lower_value: low, upper_value: high, unit, direction: "less_is_better" }), where)
      current = name
      previousLine = undefined
      continue
    }

    const throughput = line.includes("thrpt:") ? throughputLine.exec(line) : null
    if (throughput !== null && !throughput[1].includes("%")) {
      if (current === undefined) throw wrongAt(where, "a `thrpt:` line that follows no `time:` line")
      const { high, low, mid, unit } = readTriple(throughput[1], where, throughputScale)
      builder.add(current, "throughput", measurement({ value: mid, lower_value: low, upper_value: high, unit, direction: "more_is_better" }), where)
      current = undefined
      continue
    }

    // A name too long for criterion's column stands alone, left-aligned, on the line right above `time:`.
    previousLine = line.trim() !== "" && !/^\s/.test(line) ? line.trim() : undefined
  }
  if (builder.size === 0) throw notThisFormat("no `<name>  time: [low estimate high]` line, no `test <name> ... bench:` line and no raw.csv header")
  return builder.result()
}
