/**
 * github-action-benchmark's custom JSON (tools `customSmallerIsBetter` / `customBiggerIsBetter`):
 * `[{ name, unit, value, range?, extra? }]` (its README, "Examples"; `src/extract.ts` `BenchmarkResult`).
 *
 * Each entry becomes the metric `<name>/value`. Which of the two tools the file was written for lives
 * in the workflow, not in the file, so the direction comes from the unit when it says (a time: less is
 * better; a `…/s` rate: more is better) and is left unset otherwise, for an admin to set once.
 * `range` is the action's free-text spread ("3", "± 3", "+- 3", "5%", or a number): taken as ± that
 * much around `value` (a percentage of `value` for "%"); any other text is display-only and ignored.
 * `extra` is a tooltip text and is ignored, as is any other key.
 */
import type { Measurements } from "../Measurement.js"
import {
  describe,
  directionOfUnit,
  isRecord,
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

const spreadOf = (range: unknown, value: number, where: string): number | undefined => {
  if (range === undefined || range === null) return undefined
  if (typeof range === "number") return readNumber(range, where)
  if (typeof range !== "string") throw wrongAt(where, `expected a string or a number, got ${describe(range)}`)
  const match = /^\s*(?:\+-|±|\+\/-)?\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(%?)\s*$/.exec(range)
  if (match === null) return undefined
  const amount = Number(match[1])
  if (!Number.isFinite(amount)) return undefined
  return match[2] === "%" ? Math.abs(value) * amount / 100 : amount
}

export const parseGithubActionBenchmark = (json: unknown): Measurements => {
  if (!Array.isArray(json)) throw notThisFormat(`the top level is ${describe(json)}, not an array of { name, unit, value }`)
  if (json.length === 0) throw notThisFormat("the top level is an empty array")
  if (!json.some((entry) => isRecord(entry) && "name" in entry && "value" in entry)) {
    throw notThisFormat("no entry has both `name` and `value`")
  }
  const builder = new MeasurementsBuilder()
  json.forEach((entry, index) => {
    const path = pathIndex("$", index)
    const fields = readRecord(entry, path)
    const name = readString(fields.name, pathKey(path, "name"))
    // The action coerces `value` with z.coerce.number(); numeric strings are accepted for that reason.
    const rawValue = typeof fields.value === "string" && fields.value.trim() !== "" ? Number(fields.value) : fields.value
    const value = readNumber(rawValue, pathKey(path, "value"))
    const unit = readString(fields.unit, pathKey(path, "unit"))
    const spread = spreadOf(fields.range, value, pathKey(path, "range"))
    builder.add(
      name,
      "value",
      measurement({ value, ...plusMinus(value, spread), unit, direction: directionOfUnit(unit) }),
      path
    )
  })
  return builder.result()
}
