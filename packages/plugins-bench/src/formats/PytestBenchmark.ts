/**
 * pytest-benchmark's `--benchmark-json=FILE`: `{ machine_info, commit_info, benchmarks: [{ group, name,
 * fullname, params, extra_info, options, stats: { min, max, mean, stddev, rounds, median, iqr, q1, q3,
 * ops, total, iterations, data? } }], datetime, version }` (pytest-benchmark's `session.py`/`stats.py`).
 *
 * Per benchmark (named by `fullname`, e.g. `tests/test_sort.py::test_sort[100]`, unique in a session;
 * `name` when `fullname` is absent): `time` = `stats.mean` seconds per call, bounds mean ± `stats.stddev`,
 * samples = `stats.data` (per-call seconds, written with `--benchmark-save-data`); less is better.
 * `stats.ops` is 1/mean and is not stored again.
 */
import type { Measurements } from "../Measurement.js"
import {
  isRecord,
  measurement,
  MeasurementsBuilder,
  notThisFormat,
  pathIndex,
  pathKey,
  plusMinus,
  readNumber,
  readNumbers,
  readOptionalNumber,
  readRecord,
  readString
} from "./Reader.js"

export const parsePytestBenchmark = (json: unknown): Measurements => {
  if (!isRecord(json) || !Array.isArray(json.benchmarks)) throw notThisFormat("no top-level `benchmarks` array")
  const benchmarks: ReadonlyArray<unknown> = json.benchmarks
  if (!benchmarks.some((benchmark) => isRecord(benchmark) && "stats" in benchmark)) {
    throw notThisFormat("no entry of `benchmarks` has `stats`")
  }
  const builder = new MeasurementsBuilder()
  benchmarks.forEach((benchmark, index) => {
    const path = pathIndex("$.benchmarks", index)
    const fields = readRecord(benchmark, path)
    const name = fields.fullname !== undefined
      ? readString(fields.fullname, pathKey(path, "fullname"))
      : readString(fields.name, pathKey(path, "name"))
    const statsPath = pathKey(path, "stats")
    const stats = readRecord(fields.stats, statsPath)
    const mean = readNumber(stats.mean, pathKey(statsPath, "mean"))
    const stddev = readOptionalNumber(stats.stddev, pathKey(statsPath, "stddev"))
    const data = stats.data === undefined ? undefined : readNumbers(stats.data, pathKey(statsPath, "data"))
    builder.add(
      name,
      "time",
      measurement({ value: mean, ...plusMinus(mean, stddev, true), unit: "s", direction: "less_is_better", samples: data }),
      path
    )
  })
  return builder.result()
}
