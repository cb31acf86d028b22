/**
 * Measurements from CI for a commit (`orch bench import FILE --commit REV`), stored as a run
 * of source `import`.
 *
 * TODO(coordinator): once `./formats/index.js` (helper bench-formats: `parse(text, format?)`)
 * is on main, `parseMeasurements` becomes that `parse`; until then it reads the Bencher JSON
 * shape only (`{ benchmark: { measure: { value, lower_value?, upper_value? } } }`, with orch's
 * optional unit, direction and samples).
 */
import { Either, ParseResult, Schema } from "effect"
import { Measurement, type Measurements, metricName } from "./Measurement.js"

const Bencher = Schema.Record({ key: Schema.String.pipe(Schema.minLength(1)), value: Schema.Record({ key: Schema.String.pipe(Schema.minLength(1)), value: Measurement }) })

export const parseMeasurements = (text: string, format?: string): Either.Either<{ format: string; measurements: Measurements }, { message: string }> => {
  if (format !== undefined && format !== "bencher") return Either.left({ message: `format ${JSON.stringify(format)} is not known (this build reads bencher)` })
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    return Either.left({ message: `not JSON: ${(cause as Error).message}` })
  }
  return Either.match(Schema.decodeUnknownEither(Bencher, { onExcessProperty: "error" })(value), {
    onLeft: (error) => Either.left({ message: `not Bencher JSON: ${ParseResult.TreeFormatter.formatErrorSync(error)}` }),
    onRight: (benchmarks) => {
      const measurements: Record<string, Measurement> = {}
      for (const [benchmark, measures] of Object.entries(benchmarks)) {
        for (const [measure, measurement] of Object.entries(measures)) measurements[metricName(benchmark, measure)] = measurement
      }
      return Either.right({ format: "bencher", measurements })
    }
  })
}
