/**
 * The seed's `self:` block: where and how often the watcher reports its own health, and
 * when it counts as fallen behind (which raises "scaling limit hit"). One per endpoints
 * directory; its sinks are an endpoint's (`post_endpoint`, `post_service`, `webhooks`).
 *
 * ```yaml
 * self:
 *   interval: 1m          # a health report each minute, covering that minute's checks
 *   max_lag_p99: 1s       # behind when the checks' lag p99 is over this
 *   max_missed: 0         # or more runs than this were missed
 *   post_service: { service: aws-cloudwatch, namespace: Orch/Watcher }
 *   post_endpoint: { url: https://api.datadoghq.com/api/v1/events, api_key: "${DD_API_KEY}", on: state_change }
 * ```
 */
import { Either, Schema } from "effect"
import * as Endpoint from "./Endpoint.js"

/** The key of the block in an endpoint file, and the `endpoint` of its send jobs. */
export const key = "self"

export const SelfInput = Schema.Struct({
  interval: Schema.optional(Endpoint.Duration).annotations({ description: "How often a health report is made (default 1m)" }),
  max_lag_p99: Schema.optional(Endpoint.Duration).annotations({ description: "Behind when the lag p99 of the interval's checks is over this (default 1s)" }),
  max_missed: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }).annotations({
    description: "Behind when more scheduled runs than this were missed in the interval"
  }),
  ...Endpoint.sinkKeys
})

export interface SelfBlock {
  readonly key: typeof key
  readonly file: string
  readonly everyMs: number
  readonly maxLagP99Ms: number
  readonly maxMissed: number
  readonly sinks: ReadonlyArray<Endpoint.Sink>
}

export const decode = Schema.decodeUnknownEither(SelfInput, { onExcessProperty: "error", errors: "all" })

export const fromInput = (file: string, input: typeof SelfInput.Type) =>
  Either.map(Endpoint.sinksOf(input), (sinks): SelfBlock => ({
    key,
    file,
    everyMs: input.interval === undefined ? 60_000 : Endpoint.durationOf(input.interval),
    maxLagP99Ms: input.max_lag_p99 === undefined ? 1_000 : Endpoint.durationOf(input.max_lag_p99),
    maxMissed: input.max_missed,
    sinks
  }))
