/**
 * Waits for the event loop's check phase (`setImmediate`), after the I/O callbacks of
 * the current turn. A group commit that starts when its first change arrives would
 * otherwise run in the microtasks right after that one request's callback, before Node
 * has parsed the requests that arrived with it, and every group would hold one change.
 */
import { Effect } from "effect"

export const nextTurn: Effect.Effect<void> = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})
