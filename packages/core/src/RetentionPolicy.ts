/**
 * `core.retention`: how long finished history is kept, as a Schema (validated with the
 * rest of orch.yaml) and the lookup of the limits that apply to one plugin and kind.
 *
 * Three kinds of history grow without bound, each with its own limits, because a job
 * kind and a resource kind may share a name:
 *
 * - `jobs`: finished jobs (in a final state of their kind: completed, cancelled, dead …),
 *   with their history rows and the rows plugins keep for them;
 * - `leases`: ended resource leases, with the rows plugins keep for them;
 * - `events`: resources' state history (the newest event of each resource always stays).
 *
 * Each is limited by age and by count per plugin and kind, either limit pruning; an
 * override keyed `"<plugin>"` or `"<plugin>/<kind>"` replaces the fields it names
 * (`plugin/kind` over `plugin` over the defaults).
 */
import { Duration, Schema } from "effect"

/** `"14 days"`, `"12 hours"`, `"30 minutes"` (Effect's duration text), or `"forever"`. */
const durationText = /^(\d+(?:\.\d+)?)\s+(millis?|seconds?|minutes?|hours?|days?|weeks?)$/

export const MaxAge = Schema.String.pipe(
  Schema.filter((text) => text === "forever" || durationText.test(text.trim()), {
    message: (issue) =>
      `must be a duration such as "14 days", "12 hours" or "30 minutes" (a number, a space, a unit: millis, seconds, minutes, hours, days, weeks), or "forever"; got ${JSON.stringify(issue.actual)}`
  })
)

export const MaxCount = Schema.Union(
  Schema.Int.pipe(Schema.nonNegative({ message: () => "must be a whole number ≥ 0, or \"unlimited\"" })),
  Schema.Literal("unlimited")
).annotations({ message: () => "must be a whole number ≥ 0, or \"unlimited\"" })

/** Limits for one plugin or one plugin's kind; a field left out keeps the wider setting. */
export const Override = Schema.Struct({
  maxAge: Schema.optional(MaxAge),
  maxCount: Schema.optional(MaxCount)
})

const overrideKey = /^[a-z][a-z0-9-]*(\/[^/\s]+)?$/

/** Checked as a whole, so a bad key is reported as such rather than as an unknown one. */
const Overrides = Schema.Record({ key: Schema.String, value: Override }).pipe(
  Schema.filter((overrides) => {
    const bad = Object.keys(overrides).filter((key) => !overrideKey.test(key))
    return bad.length === 0 ||
      `override keys are "<plugin>" or "<plugin>/<kind>" (e.g. "allocator/clean"); got ${bad.map((key) => JSON.stringify(key)).join(", ")}`
  })
)

const limits = (about: string, defaults: { readonly maxAge: string; readonly maxCount: number | "unlimited" }) =>
  Schema.optionalWith(
    Schema.Struct({
      maxAge: Schema.optionalWith(MaxAge, { default: () => defaults.maxAge }).annotations({
        description: "Older than this (since it finished or ended) is removed; \"forever\" keeps all"
      }),
      maxCount: Schema.optionalWith(MaxCount, { default: () => defaults.maxCount }).annotations({
        description: "At most this many per plugin and kind, the oldest removed first; \"unlimited\" keeps all"
      }),
      overrides: Schema.optionalWith(Overrides, { default: () => ({}) })
        .annotations({ description: "By \"<plugin>\" or \"<plugin>/<kind>\", e.g. allocator/clean: { maxAge: 1 day }" })
    }),
    { default: () => ({ ...defaults, overrides: {} }) }
  ).annotations({ description: about })

export const defaults = { maxAge: "14 days", maxCount: 100_000 } as const

/** `core.retention`. Every field has a default: a lab keeps two weeks, and at most 100,000 per kind. */
export const RetentionSection = Schema.Struct({
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => true }).annotations({
    description: "Prune history in the daemon (orch db prune works either way)"
  }),
  every: Schema.optionalWith(MaxAge.pipe(Schema.filter((text) => text !== "forever", { message: () => "must be a duration such as \"10 minutes\"" })), {
    default: () => "10 minutes"
  }).annotations({ description: "Pause between pruning passes (plus up to a tenth of it at random)" }),
  batchSize: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, 10_000, { message: () => "must be a whole number from 1 to 10000" })),
    { default: () => 500 }
  ).annotations({ description: "Rows removed per transaction: short transactions keep writers waiting little" }),
  jobs: limits("Finished jobs (in a final state) with their history, per plugin and job kind", defaults),
  leases: limits("Ended resource leases, per plugin and resource kind", defaults),
  events: limits("Resources' state history, per plugin and resource kind (each resource's newest event stays)", defaults)
})
export type RetentionSection = typeof RetentionSection.Type

export type Category = "jobs" | "leases" | "events"
export const categories: ReadonlyArray<Category> = ["jobs", "leases", "events"]

/** The limits in force for one plugin and kind; undefined: no limit of that sort. */
export interface Limits {
  readonly maxAgeMs: number | undefined
  readonly maxCount: number | undefined
}

export const durationMs = (text: string): number => Duration.toMillis(Duration.decode(text.trim() as Duration.DurationInput))

/** The limits of `category` for `plugin`/`kind`: the kind's override, the plugin's, then the defaults. */
export const limitsFor = (section: RetentionSection, category: Category, plugin: string, kind: string): Limits => {
  const settings = section[category]
  const byKind = settings.overrides[`${plugin}/${kind}`]
  const byPlugin = settings.overrides[plugin]
  const maxAge = byKind?.maxAge ?? byPlugin?.maxAge ?? settings.maxAge
  const maxCount = byKind?.maxCount ?? byPlugin?.maxCount ?? settings.maxCount
  return {
    maxAgeMs: maxAge === "forever" ? undefined : durationMs(maxAge),
    maxCount: maxCount === "unlimited" ? undefined : maxCount
  }
}

/** Every override key of `section`, with the category it is under, for warning about names no plugin declares. */
export const overrideKeys = (section: RetentionSection): ReadonlyArray<readonly [Category, string]> =>
  categories.flatMap((category) => Object.keys(section[category].overrides).map((key) => [category, key] as const))
