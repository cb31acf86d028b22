/**
 * How one worker shares its time among several servers (tablejohn's design note: "task
 * runtime-based fairness", which tablejohn itself left as a fixed batch per server): each server
 * has a virtual time, the run time spent on it divided by its weight, and the worker asks the
 * servers in order of least virtual time first. Over a long stretch in which every server has
 * work, each gets run time in proportion to its weight.
 *
 * A server that had nothing to do does not save up credit for later (it would then get the
 * worker to itself until it caught up): when it has work again, its virtual time is raised to
 * the least of the servers that kept the worker busy meanwhile (as the Linux CFS scheduler does
 * for a task that wakes up).
 */

interface Share {
  readonly weight: number
  /** Run time (ms) spent on the server, divided by its weight. */
  virtual: number
  /** It had no work when last asked. */
  idle: boolean
}

export class FairShare {
  private readonly shares = new Map<string, Share>()

  constructor(servers: ReadonlyArray<{ readonly name: string; readonly weight: number }>) {
    for (const server of servers) this.shares.set(server.name, { weight: server.weight, virtual: 0, idle: false })
  }

  /** The servers to ask for work, least virtual time first (by name among equals, so the order is stable). */
  order(): ReadonlyArray<string> {
    return [...this.shares.entries()]
      .sort(([a, x], [b, y]) => x.virtual - y.virtual || (a < b ? -1 : a > b ? 1 : 0))
      .map(([name]) => name)
  }

  /** The server had no work when asked. */
  noWork(name: string): void {
    const share = this.shares.get(name)
    if (share) share.idle = true
  }

  /** The server handed out a run: an idle one comes back at the others' least virtual time. */
  gotWork(name: string): void {
    const share = this.shares.get(name)
    if (!share) return
    if (share.idle) {
      const busy = [...this.shares.entries()].filter(([other, s]) => other !== name && !s.idle).map(([, s]) => s.virtual)
      if (busy.length > 0) share.virtual = Math.max(share.virtual, Math.min(...busy))
    }
    share.idle = false
  }

  /** `ms` of run time (download, benchmark and submit) went to the server. */
  charge(name: string, ms: number): void {
    const share = this.shares.get(name)
    if (share) share.virtual += Math.max(0, ms) / share.weight
  }

  /** Each server's virtual time (ms), for status and tests. */
  snapshot(): Readonly<Record<string, number>> {
    return Object.fromEntries([...this.shares.entries()].map(([name, share]) => [name, share.virtual]))
  }
}
