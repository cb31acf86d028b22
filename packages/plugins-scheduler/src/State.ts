/**
 * Neubot's `/api/state`: what the scheduler is doing (`current`) and a bag of events
 * (pid, since, the running test, the last test's figures, the next scheduled run),
 * stamped with `t`, an increasing microsecond time. A client passes the `t` it last saw
 * and is answered at the next change, or after a timeout with nothing new.
 */
import { Clock, Duration, Effect, Option, Stream, SubscriptionRef } from "effect"

export type Current = "" | "idle" | "test"

export interface StateSnapshot {
  readonly current: Current
  readonly events: Readonly<Record<string, unknown>>
  readonly t: number
}

export interface StateService {
  readonly get: Effect.Effect<StateSnapshot>
  /** Sets `current` (when given) and merges `events`, with a new `t`. */
  readonly publish: (change: { readonly current?: Current; readonly events?: Readonly<Record<string, unknown>> }) => Effect.Effect<void>
  /**
   * The state at once when it changed after `t` (or `t` is 0), otherwise at the next
   * change or after `timeout`, whichever comes first.
   */
  readonly waitNewer: (t: number, timeout: Duration.DurationInput) => Effect.Effect<StateSnapshot>
}

export const make = (initial: Readonly<Record<string, unknown>>): Effect.Effect<StateService> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const ref = yield* SubscriptionRef.make<StateSnapshot>({ current: "idle", events: { idle: {}, ...initial }, t: start * 1000 })
    const publish: StateService["publish"] = (change) =>
      Effect.flatMap(Clock.currentTimeMillis, (ms) =>
        SubscriptionRef.update(ref, (state) => ({
          current: change.current ?? state.current,
          events: { ...state.events, ...change.events },
          // strictly increasing even within one millisecond, so every change is seen
          t: Math.max(ms * 1000, state.t + 1)
        })))
    const waitNewer = (t: number, timeout: Duration.DurationInput) =>
      Effect.gen(function*() {
        const newer = yield* ref.changes.pipe(
          Stream.filter((state) => t === 0 || state.t > t),
          Stream.runHead,
          Effect.timeout(timeout),
          Effect.option
        )
        return Option.isSome(newer) && Option.isSome(newer.value) ? newer.value.value : yield* SubscriptionRef.get(ref)
      })
    return { get: SubscriptionRef.get(ref), publish, waitNewer }
  })
