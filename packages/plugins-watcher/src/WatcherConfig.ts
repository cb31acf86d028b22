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
  }),
  jobsets: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 4096)), { default: () => 16 }).annotations({
    description: "Endpoints are grouped into this many jobsets (by a hash of their key), which the processes running the watcher on one database share; the same in every process"
  }),
  heartbeatSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 2 }).annotations({
    description: "How often a worker heartbeats, renews its jobsets and claims free or expired ones"
  }),
  leaseSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 10 }).annotations({
    description: "A jobset not renewed for this long (its worker died or stalled) is taken over by another; a worker silent this long no longer counts as live. Several heartbeats long"
  }),
  handBackLagSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 5 }).annotations({
    description: "A worker whose checks start later than this after their scheduled time, for handBackAfterSeconds, hands a jobset back"
  }),
  handBackAfterSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 60 }).annotations({
    description: "How long the lag must last before a jobset is handed back; also how long the worker then claims nothing new"
  })
})
export type WatcherConfig = typeof WatcherConfig.Type
