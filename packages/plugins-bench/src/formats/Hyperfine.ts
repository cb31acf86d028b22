/**
 * hyperfine's `--export-json`: `{ results: [{ command, mean, stddev, median, user, system, min, max,
 * times[], exit_codes[], parameters? }] }`, all times in seconds (hyperfine's `src/export/json.rs`).
 *
 * Per command (the benchmark name is `command`, which `--command-name` replaces):
 * - `time`: `mean` seconds, bounds mean ± `stddev` (hyperfine writes `stddev: null` for a single
 *   run: then no bounds), samples = `times`; less is better.
 * - `user`, `system`: mean CPU seconds in user and kernel mode; less is better.
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

export const parseHyperfine = (json: unknown): Measurements => {
  if (!isRecord(json) || !Array.isArray(json.results)) throw notThisFormat("no top-level `results` array")
  const results = json.results
  if (results.length > 0 && !results.some((result) => isRecord(result) && "command" in result)) {
    throw notThisFormat("no entry of `results` has a `command`")
  }
  const builder = new MeasurementsBuilder()
  results.forEach((result, index) => {
    const path = pathIndex("$.results", index)
    const fields = readRecord(result, path)
    const command = readString(fields.command, pathKey(path, "command"))
    const mean = readNumber(fields.mean, pathKey(path, "mean"))
    const stddev = fields.stddev === null ? undefined : readOptionalNumber(fields.stddev, pathKey(path, "stddev"))
    const times = fields.times === undefined ? undefined : readNumbers(fields.times, pathKey(path, "times"))
    builder.add(
      command,
      "time",
      measurement({ value: mean, ...plusMinus(mean, stddev, true), unit: "s", direction: "less_is_better", samples: times }),
      path
    )
    for (const mode of ["user", "system"] as const) {
      const seconds = readOptionalNumber(fields[mode], pathKey(path, mode))
      if (seconds !== undefined) {
        builder.add(command, mode, measurement({ value: seconds, unit: "s", direction: "less_is_better" }), path)
      }
    }
  })
  return builder.result()
}
