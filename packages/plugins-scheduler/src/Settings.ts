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
  )
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

export const settings: ReadonlyArray<Setting> = [
  { name: "enabled", label: "Run tests automatically (1) or only when asked (0)", type: "int", check: (v) => (v === 0 || v === 1 ? undefined : "must be 0 or 1") },
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
    check: (v) => (v === 0 || v === 1 ? undefined : "must be 0 or 1")
  },
  { name: "uuid", label: "Random identifier of this install", type: "string" },
  { name: "verbose", label: "Also keep DEBUG lines in the log (1)", type: "int", check: (v) => (v === 0 || v === 1 ? undefined : "must be 0 or 1") }
]

export type SettingValues = Readonly<Record<string, number | string>>

export const defaults = (config: SchedulerConfig, uuid: string): SettingValues => ({
  enabled: 1,
  max_database_size: config.maxDatabaseSize,
  "runner.refuse_when_busy": 0,
  uuid,
  verbose: 0
})

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
