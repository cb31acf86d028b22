/**
 * The worker's default reader of measurements: Bencher's metric format (`{bench: {measure:
 * {value, lower_value?, upper_value?, …}}}`, orch's superset included). The coordinator points
 * this at `formats/`'s `parse` (every format, detected) when both are merged.
 */
import { Either, Schema } from "effect"
import { Measurement, type Measurements, metricName } from "../Measurement.js"
import type { ParseMeasurements } from "./Bench.js"

const Bmf = Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Measurement }) })
const decodeBmf = Schema.decodeUnknownEither(Bmf)

export const parseBencherJson: ParseMeasurements = (text) => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return Either.left(`not JSON (${(error as Error).message})`)
  }
  return decodeBmf(json).pipe(
    Either.mapLeft((error) => error.message.split("\n").slice(0, 3).join(" ")),
    Either.map((bmf) => {
      const out: Record<string, Measurement> = {}
      for (const [bench, measures] of Object.entries(bmf)) {
        for (const [measure, value] of Object.entries(measures)) out[metricName(bench, measure)] = value
      }
      return out as Measurements
    })
  )
}
