/**
 * Schedules: cron expressions and intervals with jitter whose next run is kept in the
 * database, so a restart neither loses nor doubles a run, with a policy for the runs
 * that fell due while no process was up.
 *
 * A run fires when a process claims it: a compare-and-set that moves the stored next
 * run on from the value it read. Of several processes sharing the database, one claims
 * each run. `run` offers two shapes for what happens on a fire:
 *
 * - `inTransaction` (the default): `onFire` runs inside the claim's transaction. Give it
 *   database work only, such as enqueueing a job (the work itself runs from the job): it
 *   holds the database's write lock. A crash before the commit undoes the claim and what
 *   `onFire` wrote together, and the run fires after the restart (as the missed policy
 *   says); after the commit both are done. Each run is acted on exactly once.
 * - `afterCommit`: the claim commits, then `onFire` runs. A crash between the two loses
 *   that run: at most once. For work that is not in the database and may be skipped.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Context, Cron, Data, DateTime, Duration, Effect, Either, Layer, Random, Schema } from "effect"
import * as Database from "./Database.js"
import * as Sql from "./sql/schedules.js"

// -----------------------------------------------------------------------------
// specs
// -----------------------------------------------------------------------------

/** Why a cron expression cannot be used, or undefined when it can. */
const cronProblem = (expression: string, timeZone: string): string | undefined => {
  const parsed = Cron.parse(expression, timeZone)
  if (Either.isLeft(parsed)) {
    const input = parsed.left.input
    return `cron expression ${JSON.stringify(expression)}${timeZone === "UTC" ? "" : ` in ${timeZone}`}: ${parsed.left.message}${
      input === undefined || input === expression ? "" : ` (${JSON.stringify(input)})`
    }`
  }
  try {
    Cron.next(parsed.right, 0)
    return undefined
  } catch {
    return `cron expression ${JSON.stringify(expression)} never matches a date`
  }
}

/**
 * A cron expression (5 fields, or 6 with seconds first) read in `timeZone`, by default
 * the zone configured for orch (UTC unless set).
 */
export const CronSpec = Schema.TaggedStruct("Cron", {
  expression: Schema.String,
  timeZone: Schema.optional(Schema.String)
}).pipe(
  Schema.filter((spec) => cronProblem(spec.expression, spec.timeZone ?? "UTC") ?? true),
  Schema.annotations({ identifier: "CronSpec", description: "A cron expression, read in a time zone (UTC by default)" })
)
export type CronSpec = typeof CronSpec.Type

/**
 * Every `everyMs` plus a jitter drawn anew for each run, uniformly from 0 to `jitterMs`.
 * The first run comes `firstDelayMs` (by default `everyMs`) plus a jitter after the
 * schedule is created.
 */
export const IntervalSpec = Schema.TaggedStruct("Interval", {
  everyMs: Schema.Int.pipe(Schema.positive()),
  jitterMs: Schema.optional(Schema.NonNegativeInt),
  firstDelayMs: Schema.optional(Schema.NonNegativeInt)
}).pipe(Schema.annotations({ identifier: "IntervalSpec", description: "An interval in ms with optional jitter and first delay" }))
export type IntervalSpec = typeof IntervalSpec.Type

/** When a schedule fires: put it in a plugin's config as it is. */
export const ScheduleSpec = Schema.Union(CronSpec, IntervalSpec).annotations({ identifier: "ScheduleSpec" })
export type ScheduleSpec = typeof ScheduleSpec.Type

export const cron = (expression: string, timeZone?: string): CronSpec =>
  timeZone === undefined ? { _tag: "Cron", expression } : { _tag: "Cron", expression, timeZone }

export const interval = (
  everyMs: number,
  options: { readonly jitterMs?: number; readonly firstDelayMs?: number } = {}
): IntervalSpec => ({ _tag: "Interval", everyMs, ...options })

/**
 * What to do with runs that fell due while no process was up:
 * - `skip`: drop them; fire only the latest, and only if it is less than `graceMs` late.
 * - `once`: fire the latest one now, however late, and drop the others.
 * - `all`: fire each, oldest first, at most the latest `maxCatchUp` of them.
 */
export const MissedPolicy = Schema.Literal("skip", "once", "all").annotations({ identifier: "MissedPolicy" })
export type MissedPolicy = typeof MissedPolicy.Type

export const ScheduleOptions = Schema.Struct({
  missed: MissedPolicy,
  /** For `all`; 10 by default. */
  maxCatchUp: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** How late a run may be claimed and still count as on time under `skip`; 60 s by default. */
  graceMs: Schema.optional(Schema.NonNegativeInt)
}).annotations({ identifier: "ScheduleOptions" })
export type ScheduleOptions = typeof ScheduleOptions.Type

export const defaultMaxCatchUp = 10
export const defaultGraceMs = 60_000

/**
 * `run` sleeps at most this long before reading the next run again: it sees a spec
 * changed by another process, survives jumps of the wall clock, and never asks for a
 * timer past what `setTimeout` can hold (about 24.8 days, beyond which Effect never wakes).
 */
const maxSleepMs = 60_000

export interface RunOptions extends ScheduleOptions {
  /** Where `onFire` runs: inside the claim's transaction (default) or after it commits. */
  readonly fire?: "inTransaction" | "afterCommit" | undefined
}

/** A schedule as stored. */
export interface ScheduleRecord {
  readonly plugin: string
  readonly name: string
  /** As stored: a cron's time zone, an interval's jitter and first delay filled in. */
  readonly spec: ScheduleSpec
  readonly missed: MissedPolicy
  readonly maxCatchUp: number
  readonly graceMs: number
  readonly nextRunAt: number
  /** The scheduled time of the last run fired; undefined before the first. */
  readonly lastRunAt: number | undefined
  /** When that run was fired. */
  readonly lastFiredAt: number | undefined
  readonly createdAt: number
  readonly updatedAt: number
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/** A spec or options that cannot be scheduled (a bad cron expression or time zone, a zero interval). */
export class InvalidSchedule extends Data.TaggedError("InvalidSchedule")<{
  readonly plugin: string
  readonly name: string
  readonly message: string
}> {}

export class ScheduleNotFound extends Data.TaggedError("ScheduleNotFound")<{
  readonly plugin: string
  readonly name: string
  readonly message: string
}> {}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

export interface SchedulesService {
  /** The zone of cron specs that name none. */
  readonly timeZone: string

  /**
   * Creates the schedule with its first next run; when it exists with the same cadence,
   * keeps its stored next run (so a restart neither loses nor doubles one) and updates the
   * policy; a changed cadence (expression, zone, interval or jitter) computes the next
   * run from now.
   */
  readonly ensure: (
    plugin: string,
    name: string,
    spec: ScheduleSpec,
    options: ScheduleOptions
  ) => Effect.Effect<ScheduleRecord, InvalidSchedule | SqlError>

  /**
   * Fires the runs due now, as the missed policy says, and moves the next run past now;
   * returns their scheduled times, oldest first (none when nothing is due or another
   * process claimed them first).
   */
  readonly claimDue: (
    plugin: string,
    name: string
  ) => Effect.Effect<ReadonlyArray<number>, ScheduleNotFound | InvalidSchedule | SqlError>

  /**
   * Ensures the schedule, then forever sleeps until its stored next run, claims it and
   * calls `onFire` with each scheduled time (see the module's comment for the two shapes).
   * A failure of `onFire` undoes the claim in the `inTransaction` shape and ends the loop
   * with that failure; the run is still due for whoever runs the loop next.
   */
  readonly run: <E, R>(
    plugin: string,
    name: string,
    spec: ScheduleSpec,
    options: RunOptions,
    onFire: (scheduledAt: number) => Effect.Effect<unknown, E, R>
  ) => Effect.Effect<never, E | InvalidSchedule | ScheduleNotFound | SqlError, Exclude<R, SqlClient.SqlClient>>

  /** Every schedule (of one plugin), with its next and last run. */
  readonly list: (plugin?: string) => Effect.Effect<ReadonlyArray<ScheduleRecord>, SqlError>

  readonly remove: (plugin: string, name: string) => Effect.Effect<void, ScheduleNotFound | SqlError>
}

export interface SchedulesOptions {
  /** The zone of cron specs that name none; UTC by default. */
  readonly timeZone?: string | undefined
}

export class Schedules extends Context.Tag("@orch/core/Schedules")<Schedules, SchedulesService>() {
  /** The service over the current `SqlClient`; its table comes from core's migration 0004_schedules. */
  static readonly layer = (options: SchedulesOptions = {}): Layer.Layer<Schedules, never, SqlClient.SqlClient> =>
    Layer.effect(Schedules, make(options))
}

// -----------------------------------------------------------------------------
// implementation
// -----------------------------------------------------------------------------

/** A spec with its defaults filled in, as stored. */
type StoredSpec =
  | { readonly _tag: "Cron"; readonly expression: string; readonly timeZone: string }
  | { readonly _tag: "Interval"; readonly everyMs: number; readonly jitterMs: number; readonly firstDelayMs: number }

const store = (spec: ScheduleSpec, timeZone: string): StoredSpec =>
  spec._tag === "Cron"
    ? { _tag: "Cron", expression: spec.expression.trim().split(/\s+/).join(" "), timeZone: spec.timeZone ?? timeZone }
    : { _tag: "Interval", everyMs: spec.everyMs, jitterMs: spec.jitterMs ?? 0, firstDelayMs: spec.firstDelayMs ?? spec.everyMs }

/** What decides when runs fall: the first delay only matters to a new schedule. */
const cadenceKey = (spec: StoredSpec): string =>
  spec._tag === "Cron"
    ? JSON.stringify([spec._tag, spec.expression, spec.timeZone])
    : JSON.stringify([spec._tag, spec.everyMs, spec.jitterMs])

/** The arithmetic of one spec; `latest` and `back` enumerate the runs due in [from, now]. */
interface Cadence {
  readonly first: (now: number) => Effect.Effect<number>
  /** The run after the one scheduled at `at`. */
  readonly after: (at: number) => Effect.Effect<number>
  /** The latest run in [from, now], given that `from` is a run and `from <= now`. */
  readonly latest: (from: number, now: number) => number
  /** Up to `count` runs in [from, latest], latest first. */
  readonly back: (latest: number, from: number, count: number) => ReadonlyArray<number>
}

const cadenceOf = (spec: StoredSpec): Either.Either<Cadence, string> => {
  if (spec._tag === "Interval") {
    const jitter = spec.jitterMs > 0 ? Random.nextIntBetween(0, spec.jitterMs + 1) : Effect.succeed(0)
    return Either.right({
      first: (now) => Effect.map(jitter, (j) => now + spec.firstDelayMs + j),
      // missed runs are spaced by `everyMs` alone: their jitter was never drawn
      after: (at) => Effect.map(jitter, (j) => at + spec.everyMs + j),
      latest: (from, now) => from + Math.floor((now - from) / spec.everyMs) * spec.everyMs,
      back: (latest, from, count) =>
        Array.from(
          { length: Math.min(count, Math.floor((latest - from) / spec.everyMs) + 1) },
          (_, i) => latest - i * spec.everyMs
        )
    })
  }
  const problem = cronProblem(spec.expression, spec.timeZone)
  if (problem !== undefined) return Either.left(problem)
  const parsed = Cron.unsafeParse(spec.expression, spec.timeZone)
  const next = (at: number) => Effect.sync(() => Cron.next(parsed, at).getTime())
  // Cron.prev(t) starts from the second before t's: from now + 1 s it can return now itself
  const prev = (at: number) => Cron.prev(parsed, at).getTime()
  return Either.right({
    first: next,
    after: next,
    latest: (from, now) => Math.max(from, prev(now + 1000)),
    back: (latest, from, count) => {
      const runs = [latest]
      while (runs.length < count) {
        const before = prev(runs[runs.length - 1])
        if (before < from) break
        runs.push(before)
      }
      return runs
    }
  })
}

const describe = (key: Sql.ScheduleKey) => `schedule ${key.plugin}/${key.name}`

const iso = (ms: number) => new Date(ms).toISOString()

const toRecord = (row: Sql.ScheduleRow): ScheduleRecord => ({
  plugin: row.plugin,
  name: row.name,
  spec: JSON.parse(row.spec),
  missed: row.missed as MissedPolicy,
  maxCatchUp: row.max_catch_up,
  graceMs: row.grace_ms,
  nextRunAt: row.next_run_at,
  lastRunAt: row.last_run_at ?? undefined,
  lastFiredAt: row.last_fired_at ?? undefined,
  createdAt: row.created_at,
  updatedAt: row.updated_at
})

export const make = (options: SchedulesOptions = {}): Effect.Effect<SchedulesService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const timeZone = options.timeZone ?? "UTC"
    if (DateTime.zoneFromString(timeZone)._tag === "None") {
      return yield* Effect.dieMessage(`unknown time zone ${JSON.stringify(timeZone)} for schedules`)
    }
    const transaction = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Database.transaction(effect).pipe(Effect.provideService(SqlClient.SqlClient, sql))

    const invalid = (key: Sql.ScheduleKey, problem: string) =>
      new InvalidSchedule({ ...key, message: `${describe(key)}: ${problem}` })

    const notFound = (key: Sql.ScheduleKey) => new ScheduleNotFound({ ...key, message: `no ${describe(key)}` })

    const validate = <A, I>(key: Sql.ScheduleKey, schema: Schema.Schema<A, I>, value: A) =>
      Effect.mapError(Schema.validate(schema)(value), (error) => invalid(key, error.message))

    const ensure = (plugin: string, name: string, spec: ScheduleSpec, scheduleOptions: ScheduleOptions) =>
      Effect.gen(function*() {
        const key = { plugin, name }
        const stored = store(yield* validate(key, ScheduleSpec, spec), timeZone)
        const policy = yield* validate(key, ScheduleOptions, scheduleOptions)
        const cadence = yield* Either.mapLeft(cadenceOf(stored), (problem) => invalid(key, problem))
        const columns: Sql.SchedulePolicyColumns = {
          spec: JSON.stringify(stored),
          missed: policy.missed,
          max_catch_up: policy.maxCatchUp ?? defaultMaxCatchUp,
          grace_ms: policy.graceMs ?? defaultGraceMs
        }
        return yield* transaction(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const row = yield* Sql.getSchedule(sql, key)
          if (row === undefined) {
            yield* Sql.insertSchedule(sql, { ...key, ...columns, next_run_at: yield* cadence.first(now), now })
          } else if (sameCadence(row.spec, stored)) {
            const changed = row.spec !== columns.spec || row.missed !== columns.missed ||
              row.max_catch_up !== columns.max_catch_up || row.grace_ms !== columns.grace_ms
            if (changed) yield* Sql.updatePolicy(sql, { ...key, ...columns, now })
          } else {
            yield* Sql.replaceSpec(sql, { ...key, ...columns, next_run_at: yield* cadence.first(now), now })
          }
          return toRecord((yield* Sql.getSchedule(sql, key))!)
        }))
      })

    /** The claim itself, run inside a transaction (with or without `onFire` beside it). */
    const claimIn = (key: Sql.ScheduleKey) =>
      Effect.gen(function*() {
        const row = yield* Sql.getSchedule(sql, key)
        if (row === undefined) return yield* notFound(key)
        const now = yield* Clock.currentTimeMillis
        const from = row.next_run_at
        if (from > now) return []
        const cadence = yield* Either.mapLeft(cadenceOf(JSON.parse(row.spec)), (problem) => invalid(key, problem))
        const latest = cadence.latest(from, now)
        const fired = row.missed === "all"
          ? cadence.back(latest, from, row.max_catch_up).toReversed()
          : row.missed === "once" || now - latest <= row.grace_ms
          ? [latest]
          : []
        const next = yield* cadence.after(latest)
        const advanced = yield* Sql.advanceSchedule(sql, key, { expected: from, next, lastRunAt: fired.at(-1), now })
        if (!advanced) return []
        if (fired.length === 0 || fired[0] > from) {
          yield* Effect.logInfo(
            `${describe(key)}: runs due from ${iso(from)} to ${iso(latest)} were missed; fired ${fired.length} of them (missed policy ${row.missed})`
          )
        }
        return fired
      })

    const claimDue = (plugin: string, name: string) => transaction(claimIn({ plugin, name }))

    const run = <E, R>(
      plugin: string,
      name: string,
      spec: ScheduleSpec,
      runOptions: RunOptions,
      onFire: (scheduledAt: number) => Effect.Effect<unknown, E, R>
    ) => {
      const key = { plugin, name }
      const fireEach = (times: ReadonlyArray<number>) => Effect.forEach(times, onFire, { discard: true })
      const claimAndFire = runOptions.fire === "afterCommit"
        ? Effect.flatMap(transaction(claimIn(key)), fireEach)
        : transaction(Effect.flatMap(claimIn(key), fireEach))
      const step = Effect.gen(function*() {
        const row = yield* Sql.getSchedule(sql, key)
        if (row === undefined) return yield* notFound(key)
        const wait = row.next_run_at - (yield* Clock.currentTimeMillis)
        if (wait > maxSleepMs) return yield* Effect.sleep(Duration.millis(maxSleepMs))
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        yield* claimAndFire
      })
      const { fire: _, ...scheduleOptions } = runOptions
      return ensure(plugin, name, spec, scheduleOptions).pipe(
        Effect.zipRight(Effect.forever(step)),
        Effect.provideService(SqlClient.SqlClient, sql)
      )
    }

    const list = (plugin?: string) => Effect.map(Sql.listSchedules(sql, plugin), (rows) => rows.map(toRecord))

    const remove = (plugin: string, name: string) =>
      Effect.flatMap(
        Sql.deleteSchedule(sql, { plugin, name }),
        (deleted) => deleted ? Effect.void : Effect.fail(notFound({ plugin, name }))
      )

    return { timeZone, ensure, claimDue, run, list, remove } satisfies SchedulesService
  })

const sameCadence = (storedJson: string, spec: StoredSpec): boolean => {
  try {
    return cadenceKey(JSON.parse(storedJson)) === cadenceKey(spec)
  } catch {
    return false
  }
}

export const layer = Schedules.layer
