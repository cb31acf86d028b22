/**
 * Bencher Metric Format (BMF) and orch's superset of it:
 * `{ "<benchmark>": { "<measure>": { value, lower_value?, upper_value?, unit?, direction?, samples? } } }`.
 * Any BMF file from Bencher is valid here. Unknown keys inside a metric are ignored, as Bencher's
 * own parser ignores them, so a file carrying extra fields for another tool still loads.
 */
import type { Measurements } from "../Measurement.js"
import {
  describe,
  isRecord,
  measurement,
  MeasurementsBuilder,
  notThisFormat,
  pathKey,
  readNumber,
  readNumbers,
  readOptionalNumber,
  readRecord,
  readString,
  wrongAt
} from "./Reader.js"

export const parseBencher = (json: unknown): Measurements => {
  if (!isRecord(json)) throw notThisFormat(`the top level is ${describe(json)}, not an object of benchmarks`)
  const entries = Object.entries(json)
  if (entries.length === 0) throw notThisFormat("the top level is an empty object")
  // Tell "not BMF" (some other tool's object) from "broken BMF": BMF's second level holds objects with a `value`.
  const looksLikeBmf = entries.some(([, measures]) =>
    isRecord(measures) && Object.values(measures).some((metric) => isRecord(metric) && "value" in metric)
  )
  if (!looksLikeBmf) {
    throw notThisFormat("no `{ benchmark: { measure: { value } } }` found at the top level")
  }
  const builder = new MeasurementsBuilder()
  for (const [benchmark, measures] of entries) {
    const benchmarkPath = pathKey("$", benchmark)
    if (benchmark.trim() === "") throw wrongAt(benchmarkPath, "a benchmark name is empty")
    for (const [measure, metric] of Object.entries(readRecord(measures, benchmarkPath))) {
      const path = pathKey(benchmarkPath, measure)
      if (measure.trim() === "") throw wrongAt(path, "a measure name is empty")
      const fields = readRecord(metric, path)
      const value = readNumber(fields.value, pathKey(path, "value"))
      const lower = readOptionalNumber(fields.lower_value, pathKey(path, "lower_value"))
      const upper = readOptionalNumber(fields.upper_value, pathKey(path, "upper_value"))
      if (lower !== undefined && lower > value) throw wrongAt(pathKey(path, "lower_value"), `${lower} is above value ${value}`)
      if (upper !== undefined && upper < value) throw wrongAt(pathKey(path, "upper_value"), `${upper} is below value ${value}`)
      const unit = fields.unit === undefined ? undefined : readString(fields.unit, pathKey(path, "unit"))
      const direction = fields.direction
      if (direction !== undefined && direction !== "less_is_better" && direction !== "more_is_better") {
        throw wrongAt(pathKey(path, "direction"), `expected "less_is_better" or "more_is_better", got ${describe(direction)}`)
      }
      const samples = fields.samples === undefined ? undefined : readNumbers(fields.samples, pathKey(path, "samples"))
      builder.add(
        benchmark,
        measure,
        measurement({ value, lower_value: lower, upper_value: upper, unit, direction, samples }),
        path
      )
    }
  }
  return builder.result()
}
