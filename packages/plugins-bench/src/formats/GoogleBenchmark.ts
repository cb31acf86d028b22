/**
 * Google Benchmark's JSON reporter (`--benchmark_format=json` or `--benchmark_out=FILE`):
 * `{ context, benchmarks: [{ name, run_name, run_type: "iteration"|"aggregate", repetitions,
 * repetition_index, threads, iterations, real_time, cpu_time, time_unit, aggregate_name?,
 * aggregate_unit?, error_occurred?, <user counters> }] }` (its `src/json_reporter.cc`).
 *
 * Rows are grouped by `run_name` (`name` on old versions without it), which is the benchmark name.
 * Measures: `real_time` and `cpu_time` in `time_unit` (less is better); `items_per_second` (items/s)
 * and `bytes_per_second` (B/s), more is better; every other numeric field is a user counter, stored
 * with neither unit nor direction (the JSON does not say them).
 * Per measure: value = the `mean` aggregate, else the mean of the iteration rows, else the `median`
 * aggregate; bounds = value ± the `stddev` aggregate when there is one; samples = the iteration rows
 * when there are two or more (`--benchmark_repetitions`). Other aggregates (`cv`, user statistics,
 * complexity `BigO`/`RMS`) and rows with `error_occurred` are skipped.
 */
import type { Direction, Measurements } from "../Measurement.js"
import {
  isRecord,
  mean,
  measurement,
  MeasurementsBuilder,
  notThisFormat,
  pathIndex,
  pathKey,
  plusMinus,
  readNumber,
  readRecord,
  readString,
  wrongAt
} from "./Reader.js"

/** Fields that describe a row rather than measure it. */
const rowFields = new Set([
  "name",
  "family_index",
  "per_family_instance_index",
  "run_name",
  "run_type",
  "repetitions",
  "repetition_index",
  "threads",
  "iterations",
  "time_unit",
  "aggregate_name",
  "aggregate_unit",
  "error_occurred",
  "error_message",
  "label",
  "big_o",
  "rms",
  "complexity_n",
  "cpu_coefficient",
  "real_coefficient"
])

const knownMeasures: Readonly<Record<string, { readonly unit?: string; readonly direction: Direction }>> = {
  items_per_second: { unit: "items/s", direction: "more_is_better" },
  bytes_per_second: { unit: "B/s", direction: "more_is_better" }
}

interface Row {
  readonly path: string
  readonly fields: Record<string, unknown>
}

interface Group {
  readonly path: string
  timeUnit: string | undefined
  readonly iterations: Array<Row>
  readonly aggregates: Map<string, Row>
}

export const parseGoogleBenchmark = (json: unknown): Measurements => {
  if (!isRecord(json) || !Array.isArray(json.benchmarks)) throw notThisFormat("no top-level `benchmarks` array")
  const rows: ReadonlyArray<unknown> = json.benchmarks
  if (!rows.some((row) => isRecord(row) && ("real_time" in row || "cpu_time" in row || "run_type" in row))) {
    throw notThisFormat("no entry of `benchmarks` has `real_time`, `cpu_time` or `run_type`")
  }
  const groups = new Map<string, Group>()
  rows.forEach((row, index) => {
    const path = pathIndex("$.benchmarks", index)
    const fields = readRecord(row, path)
    if (fields.error_occurred === true) return
    const name = readString(fields.name, pathKey(path, "name"))
    const runName = fields.run_name === undefined ? name : readString(fields.run_name, pathKey(path, "run_name"))
    const runType = fields.run_type === undefined ? "iteration" : readString(fields.run_type, pathKey(path, "run_type"))
    const timeUnit = fields.time_unit === undefined ? "ns" : readString(fields.time_unit, pathKey(path, "time_unit"))
    for (const key of ["real_time", "cpu_time", "iterations"]) {
      if (fields[key] !== undefined) readNumber(fields[key], pathKey(path, key))
    }
    let group = groups.get(runName)
    if (group === undefined) {
      group = { path, timeUnit: undefined, iterations: [], aggregates: new Map() }
      groups.set(runName, group)
    }
    if (runType === "iteration") {
      group.iterations.push({ path, fields })
    } else if (runType === "aggregate") {
      const aggregate = readString(fields.aggregate_name, pathKey(path, "aggregate_name"))
      if (aggregate !== "mean" && aggregate !== "median" && aggregate !== "stddev") return
      group.aggregates.set(aggregate, { path, fields })
    } else {
      throw wrongAt(pathKey(path, "run_type"), `expected "iteration" or "aggregate", got "${runType}"`)
    }
    if (group.timeUnit !== undefined && group.timeUnit !== timeUnit) {
      throw wrongAt(pathKey(path, "time_unit"), `"${timeUnit}" differs from "${group.timeUnit}" in an earlier row of "${runName}"`)
    }
    group.timeUnit = timeUnit
  })

  const builder = new MeasurementsBuilder()
  for (const [benchmark, group] of groups) {
    const valueRows = group.aggregates.get("mean") ?? group.aggregates.get("median")
    const measures = new Set<string>()
    for (const row of [...group.iterations, ...(valueRows ? [valueRows] : [])]) {
      for (const [key, value] of Object.entries(row.fields)) {
        if (!rowFields.has(key) && typeof value === "number") measures.add(key)
      }
    }
    for (const measure of measures) {
      const read = (row: Row | undefined): number | undefined =>
        row === undefined || row.fields[measure] === undefined ? undefined : readNumber(row.fields[measure], pathKey(row.path, measure))
      const samples = group.iterations.map(read).filter((value): value is number => value !== undefined)
      const meanRow = group.aggregates.get("mean")
      const value = read(meanRow) ?? (samples.length > 0 ? mean(samples) : read(group.aggregates.get("median")))
      if (value === undefined) continue
      const spread = read(group.aggregates.get("stddev"))
      const isTime = measure === "real_time" || measure === "cpu_time"
      const known = knownMeasures[measure]
      builder.add(
        benchmark,
        measure,
        measurement({
          value,
          ...plusMinus(value, spread, isTime || known !== undefined),
          unit: isTime ? group.timeUnit : known?.unit,
          direction: isTime ? "less_is_better" : known?.direction,
          samples: samples.length >= 2 ? samples : undefined
        }),
        group.path
      )
    }
  }
  return builder.result()
}
