/**
 * An endpoint's state from its checks: it goes down after `failureThreshold` failures in
 * a row and up after `successThreshold` successes in a row (3 and 2 by default), so an
 * endpoint that flaps does not page. A new endpoint is `unknown` until either happens.
 */
export type State = "unknown" | "up" | "down"

export interface Tally {
  readonly state: State
  readonly failures: number
  readonly successes: number
}

export const initial: Tally = { state: "unknown", failures: 0, successes: 0 }

export interface Step {
  readonly tally: Tally
  /** Set when this check changed the state. */
  readonly changed: { readonly from: State; readonly to: State } | undefined
}

export const step = (tally: Tally, success: boolean, thresholds: { readonly failureThreshold: number; readonly successThreshold: number }): Step => {
  const failures = success ? 0 : tally.failures + 1
  const successes = success ? tally.successes + 1 : 0
  const to: State = success && tally.state !== "up" && successes >= thresholds.successThreshold
    ? "up"
    : !success && tally.state !== "down" && failures >= thresholds.failureThreshold
    ? "down"
    : tally.state
  return { tally: { state: to, failures, successes }, changed: to === tally.state ? undefined : { from: tally.state, to } }
}

/** Whether a state change is worth telling a `state_change` sink: going down, and coming back up. */
export const isAlert = (change: { readonly from: State; readonly to: State }): boolean =>
  change.to === "down" || (change.from === "down" && change.to === "up")
