/**
 * A wake-up for one waiting fiber. `notify` is a plain function call and remembers a
 * wake-up that arrives while nobody waits, so the job worker can call it once per job
 * where a `Deferred` or a queue offer per job would cost an allocation and an Effect run.
 */
import { Effect } from "effect"

export class Signal {
  private pending = false
  private waiter: ((effect: Effect.Effect<void>) => void) | undefined = undefined

  /** Wakes the fiber waiting, or the next one to wait. */
  notify(): void {
    const waiter = this.waiter
    if (waiter === undefined) {
      this.pending = true
      return
    }
    this.waiter = undefined
    waiter(Effect.void)
  }

  /** Returns at once if notified since the last wait, else at the next `notify`. One waiter at a time. */
  readonly wait: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.pending) {
      this.pending = false
      resume(Effect.void)
      return
    }
    this.waiter = resume
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })
}
