/**
 * Two kinds of settings. `SchedulerConfig` is the plugin's section of orch.yaml (where
 * descriptors are, who tests run as, ports). `settings` are Neubot's runtime settings,
 * kept in the config store as strings, read and written through `/api/config` and
 * `orch scheduler config`: integers are cast back when read, as the spec says.
 */
import { Schema } from "effect"

const Port = Schema.Int.pipe(Schema.between(0, 65535))

export const defaultMaxDatabaseSize = 10 * 1024 * 1024

export const SchedulerConfig = Schema.Struct({
  descriptors: Schema.optionalWith(Schema.String, { default: () => "./descriptors" }).annotations({
    description: "Folder of test descriptors (<test name>.json); read again whenever tests are listed or an automatic test starts"
  }),
  bundled: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "Also offer the bundled tests (speedtest); a descriptor file of the same name replaces one"
  }),
  runAs: Schema.optionalWith(Schema.String, { default: () => "nobody" }).annotations({
    description: "Unprivileged user tests run as when orch runs as root"
  }),
  allowRoot: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Run tests as root when the runAs user does not exist (a warning on every run)"
  }),
  maxDatabaseSize: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(32768)), {
    default: () => defaultMaxDatabaseSize
  }).annotations({
    description: "Initial cap in bytes of each store (config, data, log); max_database_size in the config store overrides it"
  }),
  apiPort: Schema.optional(Port).annotations({
    description: "Also serve the Neubot API at the root of this port on 127.0.0.1 and ::1 (Neubot used 9774)"
  }),
  apiHosts: Schema.optionalWith(Schema.Array(Schema.String), { default: () => ["127.0.0.1", "::1"] }).annotations({
    description: "Addresses of the own listener"
  }),
  stateTimeoutSeconds: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 60 }).annotations({
    description: "Longest wait of a /api/state long-poll with no change"
  }),
  speedtest: Schema.optionalWith(
    Schema.Struct({
      url: Schema.optional(Schema.String).annotations({
        description: "Speed test server (another orch's /scheduler/speedtest); default this orch's own on loopback"
      }),
      bytes: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1_000_000_000)), { default: () => 8_000_000 }).annotations({
        description: "Bytes downloaded and uploaded per measurement"
      }),
      firstDelaySeconds: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 60 }).annotations({
        description: "First run of the bundled speed test after start (other tests: Neubot's 5 minutes)"
      })
    }),
    { default: () => ({ bytes: 8_000_000, firstDelaySeconds: 60 }) }
  ),
  privacy: Schema.optionalWith(
    Schema.Struct({
      informed: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
        description: "Initial privacy.informed: whoever runs orch has read what the tests collect (Neubot's default: false)"
      }),
      canCollect: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
        description: "Initial privacy.can_collect: results (with this machine's addresses) may be stored (Neubot's default: false)"
      }),
      canPublish: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
        description: "Initial privacy.can_publish: results may be published (Neubot's default: false)"
      })
    }),
    { default: () => ({ informed: true, canCollect: true, canPublish: true }) }
  ).annotations({
    description: "Consent the settings privacy.* start from; no test runs unless all three are set (false everywhere: Neubot's fresh install, where the web UI asks first)"
  })
})
export type SchedulerConfig = typeof SchedulerConfig.Type

// -- Neubot's runtime settings --------------------------------------------------

export interface Setting {
  readonly name: string
  readonly label: string
  readonly type: "int" | "string"
  /** Why a value is refused, or undefined. */
  readonly check?: (value: number | string) => string | undefined
}

const zeroOrOne = (v: number | string) => (v === 0 || v === 1 ? undefined : "must be 0 or 1")

/** Neubot's privacy settings (privacy.py): each, when given, must be set; consent is not taken back through the API. */
export const privacySettings = ["privacy.informed", "privacy.can_collect", "privacy.can_publish"] as const

/** Neubot's lower bound of a user-chosen `agent.interval` (config_api.py). */
export const minAgentInterval = 1380

/** results.html's knobs, copied into `/api/results` (api_results.py). */
export const wwwFlags = ["www_no_description", "www_no_legend", "www_no_plot", "www_no_split_by_ip", "www_no_table", "www_no_title"] as const

export const settings: ReadonlyArray<Setting> = [
  {
    name: "agent.interval",
    label: `Seconds between automatic runs of each test on Neubot's schedule (must be >= ${minAgentInterval}, or 0 = a random period of 23-27 minutes)`,
    type: "int",
    check: (v) => (v === 0 || (typeof v === "number" && v >= minAgentInterval) ? undefined : `must be 0 or at least ${minAgentInterval}`)
  },
  { name: "enabled", label: "Run tests automatically (1) or only when asked (0)", type: "int", check: zeroOrOne },
  {
    name: "max_database_size",
    label: "Largest size in bytes of each store (config, data, log); past it the oldest half of its rows is removed",
    type: "int",
    check: (v) => (typeof v === "number" && v >= 32768 ? undefined : "must be at least 32768 bytes")
  },
  {
    name: "runner.refuse_when_busy",
    label: "Refuse a test asked for while another runs (1), as Neubot did, or queue it (0)",
    type: "int",
    check: zeroOrOne
  },
  // Neubot's message, for a consent given as 0 (privacy.js posts 0 for an unticked box)
  ...privacySettings.map((name): Setting => ({
    name,
    label: {
      "privacy.informed": "You assert that you have read and understood the privacy policy",
      "privacy.can_collect": "You give permission to collect your Internet address with each result",
      "privacy.can_publish": "You give permission to publish your Internet address with each result"
    }[name],
    type: "int",
    check: (v) => (v === 1 ? undefined : "Passed invalid privacy settings")
  })),
  { name: "uuid", label: "Random identifier of this install", type: "string" },
  { name: "verbose", label: "Also keep DEBUG lines in the log (1)", type: "int", check: zeroOrOne },
  { name: "www.lang", label: "Web UI language (`default' means: the browser's)", type: "string" },
  { name: "www_default_test_to_show", label: "Test shown by default in results.html", type: "string" },
  ...wwwFlags.map((name): Setting => ({
    name,
    label: {
      www_no_description: "Set to 1 to hide the test's description in results.html",
      www_no_legend: "Set to 1 to hide the plots' legend",
      www_no_plot: "Set to 1 to hide the plots",
      www_no_split_by_ip: "Set to 1 not to split plots by Internet address",
      www_no_table: "Set to 1 to hide the table",
      www_no_title: "Set to 1 to hide the test's title"
    }[name],
    type: "int",
    check: zeroOrOne
  }))
]

export type SettingValues = Readonly<Record<string, number | string>>

export const defaults = (config: SchedulerConfig, uuid: string): SettingValues => ({
  "agent.interval": 0,
  enabled: 1,
  max_database_size: config.maxDatabaseSize,
  "privacy.can_collect": config.privacy.canCollect ? 1 : 0,
  "privacy.can_publish": config.privacy.canPublish ? 1 : 0,
  "privacy.informed": config.privacy.informed ? 1 : 0,
  "runner.refuse_when_busy": 0,
  uuid,
  verbose: 0,
  "www.lang": "default",
  www_default_test_to_show: "speedtest",
  ...Object.fromEntries(wwwFlags.map((name) => [name, 0]))
})

/**
 * Neubot's `privacy.allowed_to_run`: tests run (and results are stored) only when the
 * user is informed and allows both collecting and publishing; runner_core.py checked
 * the three before every test.
 */
export const allowedToRun = (values: SettingValues): boolean => privacySettings.every((name) => values[name] === 1)

/** Casts a stored or posted string to the setting's type; a message when it cannot. */
export const cast = (name: string, raw: string): { value: number | string } | { error: string } => {
  const setting = settings.find((s) => s.name === name)
  if (setting === undefined) return { error: `No such property: ${name}` }
  let value: number | string = raw
  if (setting.type === "int") {
    if (!/^-?\d+$/.test(raw.trim())) return { error: `Cannot cast ${JSON.stringify(raw)} to an integer for ${name}` }
    value = Number(raw.trim())
  }
  const problem = setting.check?.(value)
  return problem === undefined ? { value } : { error: `Invalid ${name}=${raw}: ${problem}` }
}

/** Stored rows over the defaults; a row that no longer casts keeps the default. */
export const merge = (base: SettingValues, rows: ReadonlyArray<{ readonly name: string; readonly value: string }>): SettingValues => {
  const out: Record<string, number | string> = { ...base }
  for (const row of rows) {
    const cast_ = cast(row.name, row.value)
    if ("value" in cast_) out[row.name] = cast_.value
  }
  return out
}

/**
 * Checks every name=value pair before anything is written (all or nothing); the first
 * problem is the message.
 */
export const validateUpdates = (
  pairs: ReadonlyArray<readonly [string, string]>
): { updates: Record<string, number | string> } | { error: string } => {
  const updates: Record<string, number | string> = {}
  for (const [name, raw] of pairs) {
    const result = cast(name, raw)
    if ("error" in result) return result
    updates[name] = result.value
  }
  return { updates }
}

/** The plugin's section with every default, as `{}` in orch.yaml gives it. */
export const SchedulerConfigDefaults: SchedulerConfig = Schema.decodeUnknownSync(SchedulerConfig)({})
