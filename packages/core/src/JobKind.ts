/**
 * Job kinds: what a kind of job is (its owner, payload and result schemas, its state
 * machine) and its retry policy with the backoff between attempts.
 */
import { Duration, type Schema } from "effect"

export interface RetryPolicy {
  /** Attempts before the job goes to its dead state (a failure or an expired lease is one). */
  readonly maxAttempts: number
  /** Delay after the first failed attempt; it doubles per attempt up to `maxDelay`. */
  readonly initialDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  /** Fraction in [0, 1]: each delay is shortened by a random part of it up to this. */
  readonly jitter: number
}

export interface RetryPolicyInput {
  readonly maxAttempts?: number | undefined
  readonly initialDelay?: Duration.DurationInput | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
  readonly jitter?: number | undefined
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  initialDelay: Duration.seconds(1),
  maxDelay: Duration.minutes(5),
  jitter: 0.2
}

/** What a kind of job is: its owner, data and state machine. Build one with `JobKind.make`. */
export interface JobKind<P, R, S extends string> {
  readonly plugin: string
  readonly name: string
  readonly payload: Schema.Schema<P, any>
  readonly result: Schema.Schema<R, any>
  readonly states: ReadonlyArray<S>
  readonly initial: S
  /** Every state, with the states a lease holder may move it to. */
  readonly transitions: Readonly<Record<S, ReadonlyArray<S>>>
  /** The states workers claim jobs in. */
  readonly claimable: ReadonlyArray<S>
  /** Where `fail` puts a job out of attempts. */
  readonly dead: S
  readonly cancelled: S
  /** States `retry` brings back to `initial`. */
  readonly retryFrom: ReadonlyArray<S>
  /** States with no way out but `retry`: no transitions, no lease, not cancellable. */
  readonly final: ReadonlyArray<S>
  readonly retry: RetryPolicy
}

export declare namespace JobKind {
  export type Any = JobKind<any, any, any>
  export type Payload<K> = K extends JobKind<infer P, any, any> ? P : never
  export type Result<K> = K extends JobKind<any, infer R, any> ? R : never
  export type State<K> = K extends JobKind<any, any, infer S> ? S : never

  export interface Definition<P, PI, R, RI, S extends string> {
    readonly plugin: string
    readonly name: string
    readonly payload: Schema.Schema<P, PI>
    readonly result: Schema.Schema<R, RI>
    readonly states: ReadonlyArray<S>
    readonly initial: NoInfer<S>
    readonly transitions: { readonly [K in NoInfer<S>]?: ReadonlyArray<NoInfer<S>> }
    /** Default: `[initial]`. */
    readonly claimable?: ReadonlyArray<NoInfer<S>> | undefined
    /** Default: `"dead"`, which must then be one of `states`. */
    readonly dead?: NoInfer<S> | undefined
    /** Default: `"cancelled"`, which must then be one of `states`. */
    readonly cancelled?: NoInfer<S> | undefined
    /** Default: `[dead, cancelled]`. */
    readonly retryFrom?: ReadonlyArray<NoInfer<S>> | undefined
    readonly retry?: RetryPolicyInput | undefined
  }

  /** The states of `JobKind.simple`. */
  export type SimpleState = "queued" | "succeeded" | "dead" | "cancelled"
}

const invalidKind = (plugin: string, name: string, problem: string): Error =>
  new Error(`job kind ${plugin}/${name}: ${problem}`)

const makeKind = <const S extends string, P, PI, R, RI>(
  definition: JobKind.Definition<P, PI, R, RI, S>
): JobKind<P, R, S> => {
  const { name, plugin } = definition
  const fail = (problem: string) => {
    throw invalidKind(plugin, name, problem)
  }
  if (plugin.length === 0 || name.length === 0) fail("plugin and name must not be empty")
  const states = [...definition.states]
  if (states.length === 0) fail("declares no states")
  const known = new Set<string>(states)
  if (known.size !== states.length) fail(`a state is listed twice in [${states.join(", ")}]`)
  const check = (what: string, state: string) => {
    if (!known.has(state)) fail(`${what} "${state}" is not one of its states [${states.join(", ")}]`)
  }
  check("initial state", definition.initial)
  const transitions = {} as Record<S, ReadonlyArray<S>>
  for (const state of states) transitions[state] = []
  for (const [from, targets] of Object.entries(definition.transitions) as Array<[string, ReadonlyArray<S>]>) {
    check("transition from", from)
    for (const to of targets ?? []) check(`transition ${from} → `, to)
    transitions[from as S] = [...new Set(targets ?? [])]
  }
  const dead = definition.dead ?? ("dead" as S)
  const cancelled = definition.cancelled ?? ("cancelled" as S)
  check("dead state", dead)
  check("cancelled state", cancelled)
  for (const end of [dead, cancelled]) {
    if (transitions[end].length > 0) fail(`"${end}" must be final (retry is its way out) but has transitions`)
  }
  const final = states.filter((state) => transitions[state].length === 0)
  if (final.includes(definition.initial)) fail(`initial state "${definition.initial}" has no transitions`)
  const claimable = [...(definition.claimable ?? [definition.initial])]
  if (claimable.length === 0) fail("has no claimable state")
  for (const state of claimable) {
    check("claimable state", state)
    if (final.includes(state)) fail(`claimable state "${state}" is final`)
  }
  const retryFrom = [...(definition.retryFrom ?? [dead, cancelled])]
  for (const state of retryFrom) check("retryFrom state", state)
  const retry: RetryPolicy = {
    maxAttempts: definition.retry?.maxAttempts ?? defaultRetryPolicy.maxAttempts,
    initialDelay: Duration.decode(definition.retry?.initialDelay ?? defaultRetryPolicy.initialDelay),
    maxDelay: Duration.decode(definition.retry?.maxDelay ?? defaultRetryPolicy.maxDelay),
    jitter: definition.retry?.jitter ?? defaultRetryPolicy.jitter
  }
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) fail("retry.maxAttempts must be an integer ≥ 1")
  if (!Duration.isFinite(retry.maxDelay)) fail("retry.maxDelay must be finite")
  if (Duration.greaterThan(retry.initialDelay, retry.maxDelay)) fail("retry.initialDelay exceeds retry.maxDelay")
  if (!(retry.jitter >= 0 && retry.jitter <= 1)) fail("retry.jitter must be in [0, 1]")
  return {
    plugin,
    name,
    payload: definition.payload,
    result: definition.result,
    states,
    initial: definition.initial,
    transitions,
    claimable,
    dead,
    cancelled,
    retryFrom,
    final,
    retry
  }
}

const makeSimpleKind = <P, PI, R, RI>(definition: {
  readonly plugin: string
  readonly name: string
  readonly payload: Schema.Schema<P, PI>
  readonly result: Schema.Schema<R, RI>
  readonly retry?: RetryPolicyInput | undefined
}): JobKind<P, R, JobKind.SimpleState> =>
  makeKind({
    ...definition,
    states: ["queued", "succeeded", "dead", "cancelled"],
    initial: "queued",
    transitions: { queued: ["succeeded", "dead", "cancelled"] }
  })

/** Building and reading job kinds. Invalid definitions throw at once: they are programming errors. */
export const JobKind = {
  make: makeKind,
  /** A plain work queue: `queued` → `succeeded` | `dead` | `cancelled`. */
  simple: makeSimpleKind,
  /** Whether a lease holder may move a job of `kind` from `from` to `to`. */
  allows: (kind: JobKind.Any, from: string, to: string): boolean =>
    (kind.transitions[from] as ReadonlyArray<string> | undefined)?.includes(to) ?? false,
  /**
   * The delay before attempt `attempt + 1` after `attempt` failed attempts:
   * initialDelay·2^(attempt−1) capped at maxDelay, shortened by up to `jitter` of itself
   * (`random` in [0, 1)).
   */
  backoff: (policy: RetryPolicy, attempt: number, random: number): number => {
    const base = Math.min(
      Duration.toMillis(policy.maxDelay),
      Duration.toMillis(policy.initialDelay) * 2 ** Math.max(0, attempt - 1)
    )
    return Math.round(base * (1 - policy.jitter * random))
  }
}
