/**
 * Resource kinds: what a plugin declares about one kind of resource (its states, the one
 * a new resource starts in, and those in which it may be leased).
 */

/** What a plugin declares about one kind of resource. */
export interface ResourceKind<State extends string = string> {
  readonly plugin: string
  readonly name: string
  readonly states: ReadonlyArray<State>
  /** The state of a resource registered without one. */
  readonly initial: State
  /** A resource is leased only in one of these states (and only when no lease is open on it). */
  readonly leasable: ReadonlyArray<State>
}

export declare namespace ResourceKind {
  export type Any = ResourceKind<any>
  export type State<K> = K extends ResourceKind<infer S> ? S : never

  export interface Definition<State extends string> {
    readonly plugin: string
    readonly name: string
    readonly states: ReadonlyArray<State>
    readonly initial: NoInfer<State>
    readonly leasable: ReadonlyArray<NoInfer<State>>
  }
}

const identifier = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/

const makeKind = <const State extends string>(kind: ResourceKind.Definition<State>): ResourceKind<State> => {
  const where = `resource kind ${JSON.stringify(kind.plugin)}/${JSON.stringify(kind.name)}`
  const fail = (problem: string): never => {
    throw new Error(`${where}: ${problem}`)
  }
  if (typeof kind.plugin !== "string" || !identifier.test(kind.plugin)) fail("plugin must be a non-empty name without spaces")
  if (typeof kind.name !== "string" || !identifier.test(kind.name)) fail("name must be a non-empty name without spaces")
  if (!Array.isArray(kind.states) || kind.states.length === 0) fail("declares no states")
  for (const state of kind.states) {
    if (typeof state !== "string" || state.length === 0) fail(`has a state that is not a non-empty string: ${JSON.stringify(state)}`)
  }
  const repeated = kind.states.filter((state, i) => kind.states.indexOf(state) !== i)
  if (repeated.length > 0) fail(`declares ${JSON.stringify(repeated[0])} twice`)
  if (!kind.states.includes(kind.initial)) {
    fail(`initial state ${JSON.stringify(kind.initial)} is not one of its states ${JSON.stringify(kind.states)}`)
  }
  if (!Array.isArray(kind.leasable)) fail("leasable must be a list of states")
  for (const state of kind.leasable) {
    if (!kind.states.includes(state)) {
      fail(`leasable state ${JSON.stringify(state)} is not one of its states ${JSON.stringify(kind.states)}`)
    }
  }
  return Object.freeze({
    plugin: kind.plugin,
    name: kind.name,
    states: Object.freeze([...kind.states]),
    initial: kind.initial,
    leasable: Object.freeze([...new Set(kind.leasable)])
  })
}

/** Building resource kinds. An invalid definition throws at once: it is a programming error. */
export const ResourceKind = {
  /**
   * Declares a kind; throws on empty or repeated states, or an `initial` or `leasable`
   * state it does not declare.
   *
   * ```ts
   * const Device = ResourceKind.make({
   *   plugin: "lab", name: "device",
   *   states: ["ready", "cleaning", "broken"], initial: "cleaning", leasable: ["ready"]
   * })
   * ```
   */
  make: makeKind
}
