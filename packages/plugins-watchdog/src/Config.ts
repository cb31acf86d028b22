/**
 * The watchdog's section of orch.yaml. Key paths become `orch config init` flags:
 * `wpt.server` is `--watchdog-wpt-server`, `wpt.key` is `--watchdog-wpt-key`.
 * Intervals are in ms so tests can run the loops fast; WPT's own timings (`elapsed`,
 * `max_run_minutes`) are in minutes because WPT reports them so.
 */
import { Schema } from "effect"

const Ms = Schema.Int.pipe(Schema.positive({ message: () => "must be a positive number of milliseconds" }))
const Minutes = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of minutes" }))
const Count = Schema.Int.pipe(Schema.positive({ message: () => "must be a positive whole number" }))

const withDefault = <A, I>(schema: Schema.Schema<A, I>, value: () => NoInfer<A>, description: string) =>
  Schema.optionalWith(schema, { default: value }).annotations({ description })

export const WptSection = Schema.Struct({
  server: Schema.optional(
    Schema.String.pipe(Schema.pattern(/^https?:\/\/[^\s/]+/, { message: () => "must be an http:// or https:// URL" }))
  ).annotations({ description: "WebPageTest server base URL (http://host:port); the loops stay idle until it is set" }),
  key: Schema.optional(Schema.Redacted(Schema.String)).annotations({
    description: "WPT API key, sent as X-WPT-API-KEY and k= (write ${WPT_KEY} and export it)"
  }),
  locationKey: Schema.optional(Schema.Redacted(Schema.String)).annotations({
    description: "The agents' location key, passed to new instances in metadata as wpt_key"
  }),
  requestTimeoutMs: withDefault(Ms, () => 30_000, "Timeout of one request to the WPT server"),
  maxRunMinutes: withDefault(Minutes, () => 60, "WPT's max_run_minutes: how long one test may run on an agent"),
  sharding: withDefault(
    Schema.Boolean,
    () => true,
    "WPT splits a test of N runs into N job files, each queued and run on its own (false: its disable_sharding setting is on)"
  )
})

export const StarterSection = Schema.Struct({
  intervalMs: withDefault(Ms, () => 60_000, "Pause between job_starter rounds"),
  maxQueueLength: withDefault(Count, () => 100, "Submit to a location only while its WPT queue is shorter than this"),
  claimBatch: withDefault(Count, () => 500, "AWAITING jobs looked at per round"),
  retryDelayMs: withDefault(Ms, () => 5_000, "First delay before a job whose submission met a network failure is tried again (doubles)"),
  lostAnswerWaitMs: withDefault(
    Ms,
    () => 300_000,
    "A submission whose answer was lost is looked up in WPT's test log only this long after it was sent (WPT may still be working on it)"
  ),
  agentSilentSeconds: withDefault(
    Count,
    () => 120,
    "An idle agent that has not polled WPT for this long (getTesters elapsed, in whole minutes) counts as dead and is sent nothing"
  ),
  maxTestsPerAgent: withDefault(Count, () => 1, "Tests (runs, when WPT shards them) queued or running per live agent of a location")
})

export const FinisherSection = Schema.Struct({
  intervalMs: withDefault(Ms, () => 60_000, "How often job_finisher looks for SUBMITTED jobs that came due, when it is not busy"),
  concurrency: withDefault(Count, () => 8, "SUBMITTED jobs checked at once (each is one to three WPT requests)"),
  // a key of the finisher's rounds, accepted so that existing files still load
  batchSize: Schema.optional(Count).annotations({
    description: "No longer used: job_finisher checks every due job (see concurrency); kept so that existing files load"
  }),
  recheckMs: withDefault(Ms, () => 60_000, "How soon a job still running at WPT is checked again"),
  giveUpMinutes: withDefault(Minutes, () => 24 * 60, "A job SUBMITTED this long without a result is cancelled and ends in ERROR_TESTING")
})

export const ControllerSection = Schema.Struct({
  intervalMs: withDefault(Ms, () => 180_000, "Pause between instance_controller rounds"),
  idleStopMs: withDefault(Ms, () => 10 * 60_000, "Stop a RUNNING instance whose location had no work for this long"),
  deleteAfterMs: Schema.optional(Ms).annotations({
    description: "Delete an instance stopped (TERMINATED) this long with no work waiting; unset: never delete"
  }),
  bootGraceMs: withDefault(Ms, () => 10 * 60_000, "A RUNNING instance is not judged stuck before this long after it started or was reset"),
  agentSilentMinutes: withDefault(Minutes, () => 15, "Stuck: the agent has not polled WPT for this many minutes (getTesters elapsed)"),
  protected: withDefault(Schema.Array(Schema.String), () => ["wpt-server"], "Instances never touched (the WPT server itself)"),
  operationTimeoutMs: withDefault(Ms, () => 120_000, "How long to wait for one Compute Engine operation")
})

export const GceSection = Schema.Struct({
  project: Schema.optional(Schema.String).annotations({ description: "Google Cloud project id" }),
  zones: withDefault(Schema.Array(Schema.String), () => [], "Zones to manage; empty: the zones of the jobs' locations"),
  machineType: withDefault(Schema.String, () => "n1-standard-2", "Machine type of new instances"),
  image: Schema.optional(Schema.String).annotations({
    description: "Boot image of new instances: a name in the project, or a full projects/…/global/images/… path"
  }),
  diskSizeGb: withDefault(Count, () => 20, "Boot disk size of new instances"),
  preemptible: withDefault(Schema.Boolean, () => true, "Create preemptible instances"),
  network: withDefault(Schema.String, () => "global/networks/default", "Network of new instances (with an external NAT address)"),
  serviceAccount: Schema.optional(Schema.String).annotations({ description: "Service account e-mail of new instances" }),
  scopes: withDefault(
    Schema.Array(Schema.String),
    () => ["https://www.googleapis.com/auth/devstorage.read_write", "https://www.googleapis.com/auth/logging.write"],
    "OAuth scopes of the service account"
  ),
  metadata: withDefault(
    Schema.Record({ key: Schema.String, value: Schema.String }),
    () => ({}),
    "Extra metadata items of new instances (wpt_data is added)"
  ),
  apiEndpoint: Schema.optional(Schema.String).annotations({ description: "Compute API host (default compute.googleapis.com)" }),
  port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))).annotations({ description: "Compute API port" }),
  protocol: withDefault(Schema.Literal("https", "http"), () => "https" as const, "Compute API scheme"),
  credentials: withDefault(
    Schema.Literal("default", "none"),
    () => "default" as const,
    "default: Application Default Credentials; none: send no credentials (a local test endpoint)"
  )
})

export const WatchdogConfig = Schema.Struct({
  wpt: withDefault(WptSection, () => Schema.decodeSync(WptSection)({}), "The WebPageTest server"),
  provider: withDefault(
    Schema.Literal("static", "gce"),
    () => "static" as const,
    "static: agents are always on (no instances managed); gce: Compute Engine instances per location"
  ),
  browsers: withDefault(
    Schema.Record({ key: Schema.String, value: Schema.String }),
    () => ({ tor: "Tor Browser", firefox: "Firefox", chrome: "Chrome" }),
    "WPT browser name for each browser part of a location id"
  ),
  leaseMs: withDefault(Ms, () => 60_000, "Lease job_starter and job_finisher take on the jobs they work on"),
  starter: withDefault(StarterSection, () => Schema.decodeSync(StarterSection)({}), "job_starter"),
  finisher: withDefault(FinisherSection, () => Schema.decodeSync(FinisherSection)({}), "job_finisher"),
  controller: withDefault(ControllerSection, () => Schema.decodeSync(ControllerSection)({}), "instance_controller"),
  gce: withDefault(GceSection, () => Schema.decodeSync(GceSection)({}), "Compute Engine (provider: gce)")
})
export type WatchdogConfig = typeof WatchdogConfig.Type

/** The defaults, with `overrides` merged per section: for tests and tools. */
export const decode = (input: unknown = {}): WatchdogConfig => Schema.decodeUnknownSync(WatchdogConfig)(input)
