/**
 * The allocations waiting for a device, in memory: one first-come-first-served line per
 * set of criteria (type and labels, an insertion-ordered Map), the lines indexed by type,
 * and every deadline in one heap (`DeadlineHeap`). Adding, leaving, expiring and serving a
 * waiter cost O(log n) in the number of waiters at most (plus the number of distinct
 * criteria, which stays small); nothing here scans every waiter or touches the database.
 *
 * Order across lines is kept by one sequence number: when a device comes free, the oldest
 * waiter it fits gets it, whatever line that waiter is in.
 */
import { DeadlineHeap } from "./DeadlineHeap.js"

/** What the line needs of a waiter; the allocator's waiters carry more. */
export interface Entry {
  /** Set by `add`: the waiter's place in the one order of arrival. */
  seq: number
  /** Every label a device must have to fit (its type as the label `type`). */
  readonly criteria: Readonly<Record<string, string>>
  /** Epoch ms when the waiter gives up; `Infinity` for none. */
  readonly deadline: number
}

/** A device that can be leased, as far as the line cares. */
export interface FreeDevice {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

interface Line<W extends Entry> {
  readonly key: string
  readonly criteria: Readonly<Record<string, string>>
  /** By `seq`, in order of arrival (a Map iterates in insertion order). */
  readonly waiters: Map<number, W>
}

/** Criteria written the same way whatever the order of their labels. */
export const keyOf = (criteria: Readonly<Record<string, string>>): string => JSON.stringify(Object.entries(criteria).sort())

/** A device can fit both: no label asked for by both with different values. */
export const compatible = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) => {
  for (const name in a) if (name in b && a[name] !== b[name]) return false
  return true
}

/** A device with `labels` has every label `criteria` asks for. */
export const fits = (criteria: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>) => {
  for (const name in criteria) if (labels[name] !== criteria[name]) return false
  return true
}

export class WaitingLine<W extends Entry> {
  private nextSeq = 0
  private readonly lines = new Map<string, Line<W>>()
  /** Lines by the type they ask for; those that ask for no type fit devices of any. */
  private readonly byType = new Map<string, Set<Line<W>>>()
  private readonly untyped = new Set<Line<W>>()
  private readonly deadlines = new DeadlineHeap<W>()
  /** Each waiter's line, so that leaving does not work its criteria out again. */
  private readonly lineOf = new Map<W, Line<W>>()
  private count = 0

  constructor(private readonly typeLabel: string) {}

  get size(): number {
    return this.count
  }

  /** Every waiter, in the one order of arrival (for who looks: a view, not the hot path). */
  entries(): Array<W> {
    return [...this.lines.values()].flatMap((line) => [...line.waiters.values()]).sort((a, b) => a.seq - b.seq)
  }

  /** Puts `waiter` at the end of its line; true when it is the first of its criteria. */
  add(waiter: W): boolean {
    waiter.seq = this.nextSeq++
    const key = keyOf(waiter.criteria)
    let line = this.lines.get(key)
    const opened = line === undefined
    if (line === undefined) {
      line = { key, criteria: waiter.criteria, waiters: new Map() }
      this.lines.set(key, line)
      this.indexOf(line).add(line)
    }
    line.waiters.set(waiter.seq, waiter)
    this.lineOf.set(waiter, line)
    if (Number.isFinite(waiter.deadline)) this.deadlines.add(waiter)
    this.count++
    return opened
  }

  /** Takes `waiter` out of the line (served, gone or expired); false if it was not in it. */
  remove(waiter: W): boolean {
    const line = this.lineOf.get(waiter)
    if (line === undefined) return false
    this.lineOf.delete(waiter)
    line.waiters.delete(waiter.seq)
    if (line.waiters.size === 0) {
      this.lines.delete(line.key)
      const index = this.indexOf(line)
      index.delete(line)
      if (index.size === 0 && index !== this.untyped) this.byType.delete(line.criteria[this.typeLabel]!)
    }
    this.deadlines.remove(waiter)
    this.count--
    return true
  }

  /** The earliest deadline of any waiter. */
  nextDeadline(): number | undefined {
    return this.deadlines.first()?.deadline
  }

  /** Takes out and returns the waiters whose deadline is `now` or earlier, earliest first. */
  takeExpired(now: number): Array<W> {
    const expired: Array<W> = []
    for (;;) {
      const first = this.deadlines.first()
      if (first === undefined || first.deadline > now) return expired
      this.remove(first)
      expired.push(first)
    }
  }

  /** Whether a waiter could want a device that fits `criteria` too, and so comes first. */
  competesWith(criteria: Readonly<Record<string, string>>): boolean {
    const type = criteria[this.typeLabel]
    const lines = type === undefined ? this.lines.values() : [...(this.byType.get(type) ?? []), ...this.untyped]
    for (const line of lines) if (compatible(line.criteria, criteria)) return true
    return false
  }

  /** Every line, with its criteria, for checks that concern a whole line (criteria nothing fits). */
  criteria(): Array<Readonly<Record<string, string>>> {
    return [...this.lines.values()].map((line) => line.criteria)
  }

  /** The first `count` waiters of each line, oldest first within a line (all that `count` devices can serve). */
  heads(count: number): Array<W> {
    const heads: Array<W> = []
    for (const line of this.lines.values()) {
      let taken = 0
      for (const waiter of line.waiters.values()) {
        if (taken++ === count) break
        heads.push(waiter)
      }
    }
    return heads
  }

  /** The waiters of the line for `criteria`, oldest first. */
  waitersOf(criteria: Readonly<Record<string, string>>): Array<W> {
    const line = this.lines.get(keyOf(criteria))
    return line === undefined ? [] : [...line.waiters.values()]
  }

  /**
   * Who gets which of `devices`: repeatedly the oldest waiter that fits a device not yet
   * given gets the first such device. Leaves the waiters in the line: the caller takes
   * them out once their lease is granted.
   */
  assign(devices: ReadonlyArray<FreeDevice>): Array<readonly [W, FreeDevice]> {
    // each line that fits a device, with those devices in the order given
    const candidates = new Map<Line<W>, Array<FreeDevice>>()
    for (const device of devices) {
      const type = device.labels[this.typeLabel]
      for (const line of [...(type === undefined ? [] : this.byType.get(type) ?? []), ...this.untyped]) {
        if (!fits(line.criteria, device.labels)) continue
        const fitting = candidates.get(line)
        if (fitting === undefined) candidates.set(line, [device])
        else fitting.push(device)
      }
    }
    const heads = new Map<Line<W>, { readonly rest: Iterator<W>; current: W }>()
    for (const line of candidates.keys()) {
      const rest = line.waiters.values()
      heads.set(line, { rest, current: rest.next().value as W })
    }
    const given = new Set<string>()
    const assigned: Array<readonly [W, FreeDevice]> = []
    while (heads.size > 0) {
      let oldest: Line<W> | undefined
      for (const [line, head] of heads) if (oldest === undefined || head.current.seq < heads.get(oldest)!.current.seq) oldest = line
      const head = heads.get(oldest!)!
      const device = candidates.get(oldest!)!.find((d) => !given.has(d.name))
      if (device === undefined) {
        heads.delete(oldest!)
        continue
      }
      given.add(device.name)
      assigned.push([head.current, device])
      const next = head.rest.next()
      if (next.done === true) heads.delete(oldest!)
      else head.current = next.value
    }
    return assigned
  }

  private indexOf(line: Line<W>): Set<Line<W>> {
    const type = line.criteria[this.typeLabel]
    if (type === undefined) return this.untyped
    let lines = this.byType.get(type)
    if (lines === undefined) this.byType.set(type, lines = new Set())
    return lines
  }
}
