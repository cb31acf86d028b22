/**
 * A measurement as orch stores it: Bencher's metric (`value`, `lower_value`, `upper_value`)
 * plus what the other formats carry (`unit`, `direction`, raw `samples`). Every input format
 * (`formats/`) parses into `Measurements`, keyed by metric name (`<benchmark>/<measure>`).
 */
import { Schema } from "effect"

/** Which way is better. Stored once per metric and never reset by a later run. */
export const Direction = Schema.Literal("less_is_better", "more_is_better")
export type Direction = typeof Direction.Type

export const Measurement = Schema.Struct({
  value: Schema.Number,
  lower_value: Schema.optional(Schema.Number),
  upper_value: Schema.optional(Schema.Number),
  unit: Schema.optional(Schema.String),
  direction: Schema.optional(Direction),
  /** The individual samples behind `value`, when the tool reports them. */
  samples: Schema.optional(Schema.Array(Schema.Number))
})
export type Measurement = typeof Measurement.Type

/** Metric name (`<benchmark>/<measure>`, e.g. `sort_1k/latency`) to its measurement. */
export const Measurements = Schema.Record({ key: Schema.String, value: Measurement })
export type Measurements = typeof Measurements.Type

/** The name a benchmark and one of its measures are stored under. */
export const metricName = (benchmark: string, measure: string): string => `${benchmark}/${measure}`
