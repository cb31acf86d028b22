/**
 * Supervised loops. Every long-running piece of orch (a plugin's polling loop, a
 * reclaimer, a plugin's services) runs under the supervisor: a failure is logged,
 * counted and restarted with exponential backoff, and never reaches another loop.
 * On shutdown the supervisor drains: loops finish the iteration in hand (within the
 * grace period) and start no new one.
 */
import { Cause, Context, Deferred, Duration, Effect, Fiber, Layer, Metric, Ref, Scope } from "effect"
import * as Metrics from "./Metrics.js"
import type { SingletonStatus } from "./Singletons.js"

export interface Backoff {
  /** Delay after the first failure. */
  readonly initial: Duration.DurationInput
  /** The delay doubles per consecutive failure up to this. */
  readonly max: Duration.DurationInput
}

export const defaultBackoff: Backoff = { initial: "200 millis", max: "30 seconds" }

/** How long a daemon or resource must stay up after a restart before its failures are forgiven. */
export const stableAfter: Duration.Duration = Duration.minutes(1)

/** True when `status` is not serving, or keeps failing (twice or more since it last succeeded). */
export const isFailing = (status: LoopStatus): boolean =>
  !status.running || status.starting || status.consecutiveFailures > 0 || status.recentFailures >= 2

export interface LoopOptions {
  /** Pause between successful iterations; none means run again at once. */
  readonly every?: Duration.DurationInput | undefined
  readonly backoff?: Backoff | undefined
}

export interface LoopStatus {
  readonly name: string
  readonly running: boolean
  /** A resource being built (first time or after a failure); not yet serving. */
  readonly starting: boolean
  readonly restarts: number
  /** Failures since the last success; drives the backoff, and a resource's successful build resets it. */
  readonly consecutiveFailures: number
  /**
   * Failures since the last real success, counted across restarts: a loop's successful
   * iteration resets it, a daemon's or resource's restart does not — only staying up for
   * `stableAfter`. What /readyz reads to tell a flapping piece from one that failed once.
   */
  readonly recentFailures: number
  /** When a daemon or resource last came up (epoch ms); undefined while down. */
  readonly upSince: number | undefined
  readonly lastError: string | undefined
  readonly lastFailureAt: number | undefined
  /** When a failed loop, daemon or resource runs again (epoch ms). */
  readonly nextAttemptAt: number | undefined
  /** For a loop that runs once per cluster: whether this node leads it, and who holds its lease. */
  readonly singleton?: SingletonStatus | undefined
}

export interface SupervisorService {
  /**
   * Forks `iteration` to run again and again (pausing `every` between successes) in
   * the current scope, until drained or the scope closes.
   */
  readonly loop: <E, R>(
    name: string,
    iteration: Effect.Effect<void, E, R>,
    options?: LoopOptions
  ) => Effect.Effect<void, never, R | Scope.Scope>
  /**
   * Forks a long-running `effect` (one that normally never ends, e.g. `Layer.launch`),
   * restarting it with backoff when it fails or ends. Drain interrupts it.
   */
  readonly daemon: <E, R>(
    name: string,
    effect: Effect.Effect<unknown, E, R>,
    options?: { readonly backoff?: Backoff | undefined }
  ) => Effect.Effect<void, never, R | Scope.Scope>
  /**
   * Keeps a scoped resource up (a plugin's services, say): runs `acquire` in a scope of
   * its own, reported as starting until it succeeds, then `use` with what it acquired
   * (normally never ending). When either fails, or `use` ends, the scope is closed and
   * both run again after backoff; a successful `acquire` resets the backoff. Drain
   * interrupts it after the loops.
   */
  readonly resource: <A, E, R, E2, R2>(
    name: string,
    acquire: Effect.Effect<A, E, R>,
    use: (resource: A) => Effect.Effect<unknown, E2, R2>,
    options?: { readonly backoff?: Backoff | undefined }
  ) => Effect.Effect<void, never, Exclude<R | R2, Scope.Scope> | Scope.Scope>
  /** True once shutdown has begun: take no new work. */
  readonly isDraining: Effect.Effect<boolean>
  /** Completes when shutdown begins. */
  readonly drained: Effect.Effect<void>
  /** Begin shutdown; wait up to `grace` for loops to finish the iteration in hand. */
  readonly drain: (grace: Duration.DurationInput) => Effect.Effect<void>
  readonly status: Effect.Effect<ReadonlyArray<LoopStatus>>
  /** Records what this node knows of the singleton lease of loop `name`, for `status`. */
  readonly setSingleton: (name: string, singleton: SingletonStatus) => Effect.Effect<void>
}

export class Supervisor extends Context.Tag("@orch/core/Supervisor")<Supervisor, SupervisorService>() {}

/** A failure in one line: the message of what failed. */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.squash(cause)
  const message = failure instanceof Error
    ? failure.message || failure.name
    : typeof failure === "object" && failure !== null && "message" in failure
    ? String(failure.message)
    : String(failure)
  // a wrapper's message ("Failed to execute statement") says little without what it wraps ("database is locked")
  const inner = typeof failure === "object" && failure !== null && "cause" in failure ? (failure as { cause?: unknown }).cause : undefined
  return inner instanceof Error && inner.message !== "" && !message.includes(inner.message) ? `${message}: ${inner.message}` : message
}

export const make: Effect.Effect<SupervisorService> = Effect.gen(function*() {
  const draining = yield* Deferred.make<void>()
  const statuses = yield* Ref.make(new Map<string, LoopStatus>())
  const loopFibers = yield* Ref.make(new Set<Fiber.RuntimeFiber<unknown, unknown>>())
  const daemonFibers = yield* Ref.make(new Set<Fiber.RuntimeFiber<unknown, unknown>>())

  const setStatus = (name: string, f: (status: LoopStatus) => LoopStatus) =>
    Ref.update(statuses, (map) => {
      const next = new Map(map)
      next.set(
        name,
        f(
          map.get(name) ?? {
            name,
            running: false,
            starting: false,
            restarts: 0,
            consecutiveFailures: 0,
            recentFailures: 0,
            upSince: undefined,
            lastError: undefined,
            lastFailureAt: undefined,
            nextAttemptAt: undefined
          }
        )
      )
      return next
    })

  const isDraining = Deferred.isDone(draining)

  /** Sleeps `duration` unless shutdown begins first; true when it did. */
  const pause = (duration: Duration.DurationInput) =>
    Effect.raceFirst(Effect.as(Effect.sleep(duration), false), Effect.as(Deferred.await(draining), true))

  const backoffDelay = (backoff: Backoff, failures: number) =>
    Duration.min(
      Duration.times(Duration.decode(backoff.initial), 2 ** Math.min(failures - 1, 30)),
      Duration.decode(backoff.max)
    )

  const onFailure = (name: string, cause: Cause.Cause<unknown>, backoff: Backoff) =>
    Effect.gen(function*() {
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const message = describeCause(cause)
      const failures = ((yield* Ref.get(statuses)).get(name)?.consecutiveFailures ?? 0) + 1
      const delay = backoffDelay(backoff, failures)
      yield* setStatus(name, (s) => ({
        ...s,
        starting: false,
        restarts: s.restarts + 1,
        consecutiveFailures: failures,
        // up for `stableAfter` before this failure: the earlier ones no longer count
        recentFailures: s.upSince !== undefined && now - s.upSince >= Duration.toMillis(stableAfter) ? 1 : s.recentFailures + 1,
        upSince: undefined,
        lastError: message,
        lastFailureAt: now,
        nextAttemptAt: now + Duration.toMillis(delay)
      }))
      yield* Metric.increment(Metric.tagged(Metrics.loopFailures, "loop", name))
      yield* Metric.increment(Metric.tagged(Metrics.loopRestarts, "loop", name))
      yield* Effect.logWarning(`${name} failed: ${message}; restarting in ${Duration.format(delay)}`).pipe(
        Effect.annotateLogs({ loop: name }),
        Effect.annotateLogs(Cause.isDie(cause) ? { cause: Cause.pretty(cause) } : {})
      )
      return delay
    })

  const track = <A, E>(
    fibers: Ref.Ref<Set<Fiber.RuntimeFiber<unknown, unknown>>>,
    name: string,
    fiber: Fiber.RuntimeFiber<A, E>
  ) =>
    Effect.zipRight(
      Ref.update(fibers, (set) => new Set(set).add(fiber as Fiber.RuntimeFiber<unknown, unknown>)),
      setStatus(name, (s) => ({ ...s, running: true }))
    ).pipe(
      // forgotten when it ends: a plugin restarted many times must not pile up dead fibers
      Effect.zipRight(Effect.forkDaemon(Effect.zipRight(
        Fiber.await(fiber),
        Ref.update(fibers, (set) => {
          const next = new Set(set)
          next.delete(fiber as Fiber.RuntimeFiber<unknown, unknown>)
          return next
        })
      ))),
      Effect.asVoid
    )

  const loop: SupervisorService["loop"] = (name, iteration, options) => {
    const backoff = options?.backoff ?? defaultBackoff
    const body: Effect.Effect<void, never, any> = Effect.gen(function*() {
      while (!(yield* isDraining)) {
        const exit = yield* Effect.exit(iteration)
        if (exit._tag === "Failure") {
          if (Cause.isInterruptedOnly(exit.cause)) return
          const delay = yield* onFailure(name, exit.cause, backoff)
          if (yield* pause(delay)) return
        } else {
          yield* setStatus(name, (s) =>
            s.consecutiveFailures === 0 && s.recentFailures === 0
              ? s
              : { ...s, consecutiveFailures: 0, recentFailures: 0, nextAttemptAt: undefined }
          )
          if (options?.every !== undefined && (yield* pause(options.every))) return
        }
      }
    }).pipe(Effect.ensuring(setStatus(name, (s) => ({ ...s, running: false }))))
    return Effect.flatMap(Effect.forkScoped(body), (fiber) => track(loopFibers, name, fiber))
  }

  const daemon: SupervisorService["daemon"] = (name, effect, options) => {
    const backoff = options?.backoff ?? defaultBackoff
    const body: Effect.Effect<void, never, any> = Effect.gen(function*() {
      while (true) {
        // not raced against draining: a daemon (a plugin's layer, say) owns loops that
        // must finish their iteration first; drain interrupts daemons after the loops
        const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        yield* setStatus(name, (s) => ({ ...s, upSince: started }))
        const exit = yield* Effect.exit(Effect.scoped(effect))
        if (yield* isDraining) return
        if (exit._tag === "Failure" && Cause.isInterruptedOnly(exit.cause)) return
        const cause = exit._tag === "Failure" ? exit.cause : Cause.fail(new Error(`${name} ended unexpectedly`))
        const delay = yield* onFailure(name, cause, backoff)
        if (yield* pause(delay)) return
      }
    }).pipe(Effect.ensuring(setStatus(name, (s) => ({ ...s, running: false, starting: false }))))
    return Effect.flatMap(Effect.forkScoped(body), (fiber) => track(daemonFibers, name, fiber))
  }

  const resource: SupervisorService["resource"] = (name, acquire, use, options) => {
    const backoff = options?.backoff ?? defaultBackoff
    const attempt = Effect.scoped(Effect.gen(function*() {
      yield* setStatus(name, (s) => ({ ...s, starting: true }))
      const acquired = yield* acquire
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* setStatus(name, (s) => ({ ...s, starting: false, consecutiveFailures: 0, nextAttemptAt: undefined, upSince: now }))
      return yield* use(acquired)
    }))
    return daemon(name, attempt, { backoff }) as any
  }

  const drain = (grace: Duration.DurationInput) =>
    Effect.gen(function*() {
      yield* Deferred.succeed(draining, undefined)
      const fibers = [...(yield* Ref.get(loopFibers))]
      const finished = yield* Effect.timeout(Fiber.awaitAll(fibers), grace).pipe(Effect.option)
      if (finished._tag === "None") {
        yield* Effect.logWarning(`shutdown grace of ${Duration.format(Duration.decode(grace))} ran out; interrupting loops still busy`)
        yield* Fiber.interruptAll(fibers)
      }
      yield* Fiber.interruptAll(yield* Ref.get(daemonFibers))
    })

  return {
    loop,
    daemon,
    setSingleton: (name, singleton) => setStatus(name, (s) => ({ ...s, singleton })),
    resource,
    isDraining,
    drained: Deferred.await(draining),
    drain,
    // a daemon or resource up for `stableAfter` has its failures forgiven
    status: Effect.zipWith(Ref.get(statuses), Effect.clockWith((clock) => clock.currentTimeMillis), (map, now) =>
      [...map.values()].map((s) =>
        s.recentFailures > 0 && s.upSince !== undefined && now - s.upSince >= Duration.toMillis(stableAfter)
          ? { ...s, recentFailures: 0 }
          : s
      ))
  }
})

export const layer: Layer.Layer<Supervisor> = Layer.effect(Supervisor, make)

/** Forks a supervised loop; see `SupervisorService.loop`. */
export const loop = <E, R>(name: string, iteration: Effect.Effect<void, E, R>, options?: LoopOptions) =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.loop(name, iteration, options))

/** Forks a supervised long-running effect; see `SupervisorService.daemon`. */
export const daemon = <E, R>(name: string, effect: Effect.Effect<unknown, E, R>, options?: { readonly backoff?: Backoff }) =>
  Effect.flatMap(Supervisor, (supervisor) => supervisor.daemon(name, effect, options))
