/** The `watcher:` section of orch.yaml. Every key has a default, so `{}` is valid. */
import { Schema } from "effect"

const PositiveInt = Schema.Int.pipe(Schema.positive())

export const WatcherConfig = Schema.Struct({
  endpoints: Schema.optionalWith(Schema.String, { default: () => "./endpoints" }).annotations({
    description: "Directory of endpoint files (*.yml, *.yaml); a missing directory means no endpoints"
  }),
  pollSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 3 }).annotations({
    description: "How often the endpoint files are checked for changes"
  }),
  concurrency: Schema.optionalWith(PositiveInt, { default: () => 64 }).annotations({
    description: "Checks run at once by this process; more wait (their lag grows)"
  }),
  maxJitterSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 10 }).annotations({
    description: "Each endpoint's checks start a fixed offset after the scheduled time, up to this (and 0.9 of its period), so a minute's checks do not all start at :00"
  }),
  timeoutSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 10 }).annotations({
    description: "Timeout of a check whose endpoint names none"
  }),
  failureThreshold: Schema.optionalWith(PositiveInt, { default: () => 3 }).annotations({
    description: "Consecutive failures before an endpoint is down (an endpoint may set its own)"
  }),
  successThreshold: Schema.optionalWith(PositiveInt, { default: () => 2 }).annotations({
    description: "Consecutive successes before a down endpoint is up again (an endpoint may set its own)"
  }),
  keepResults: Schema.optionalWith(PositiveInt, { default: () => 500 }).annotations({
    description: "Results kept per endpoint (older ones are deleted; uptime comes from hourly counts kept 8 days)"
  }),
  sendConcurrency: Schema.optionalWith(PositiveInt, { default: () => 8 }).annotations({
    description: "Sink sends (Datadog, EventBridge, CloudWatch, webhooks) in flight at once"
  })
})
export type WatcherConfig = typeof WatcherConfig.Type
