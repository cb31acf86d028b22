import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { DeadlineHeap } from "../src/DeadlineHeap.js"
import { type Entry, WaitingLine } from "../src/WaitingLine.js"

interface Waiter extends Entry {
  readonly name: string
}

const waiter = (name: string, criteria: Record<string, string>, deadline = Infinity): Waiter => ({ seq: 0, name, criteria, deadline })
const device = (name: string, labels: Record<string, string>) => ({ name, labels })
const names = (assigned: ReadonlyArray<readonly [Waiter, { readonly name: string }]>) => assigned.map(([w, d]) => `${w.name}→${d.name}`)

describe("WaitingLine", () => {
  it("gives each free device to the oldest waiter it fits, across lines", () => {
    const line = new WaitingLine<Waiter>("type")
    line.add(waiter("any-board", { type: "board" }))
    line.add(waiter("phone", { type: "phone" }))
    line.add(waiter("arm-board", { type: "board", arch: "arm" }))
    line.add(waiter("any-arm", { arch: "arm" }))
    line.add(waiter("x86-board", { type: "board", arch: "x86" }))
    // the x86 board fits only the first and the last; the arm board goes to the oldest it fits that is left
    expect(names(line.assign([device("b-arm", { type: "board", arch: "arm" }), device("b-x86", { type: "board", arch: "x86" })])))
      .toEqual(["any-board→b-arm", "x86-board→b-x86"])
    expect(names(line.assign([device("p", { type: "phone" }), device("t", { type: "tablet", arch: "arm" })])))
      .toEqual(["phone→p", "any-arm→t"])
    // nothing is taken out until the caller says so
    expect(line.size).toBe(5)
  })

  it("keeps first come, first served within a line as waiters leave", () => {
    const line = new WaitingLine<Waiter>("type")
    const all = Array.from({ length: 5 }, (_, i) => waiter(`w${i}`, { type: "board" }))
    for (const w of all) line.add(w)
    expect(line.remove(all[0]!)).toBe(true)
    expect(line.remove(all[0]!)).toBe(false)
    line.remove(all[2]!)
    expect(names(line.assign([device("a", { type: "board" }), device("b", { type: "board" }), device("c", { type: "board" }), device("d", { type: "board" })])))
      .toEqual(["w1→a", "w3→b", "w4→c"])
    for (const w of all) line.remove(w)
    expect(line.size).toBe(0)
    expect(line.assign([device("a", { type: "board" })])).toEqual([])
  })

  it("ends waits by deadline, earliest first, from one ordered tree", () => {
    const line = new WaitingLine<Waiter>("type")
    const late = waiter("late", { type: "board" }, 3_000)
    const early = waiter("early", { type: "phone" }, 1_000)
    const same = waiter("same", { type: "board" }, 1_000)
    const never = waiter("never", { type: "board" })
    for (const w of [late, early, same, never]) line.add(w)
    expect(line.nextDeadline()).toBe(1_000)
    expect(line.takeExpired(999)).toEqual([])
    expect(line.takeExpired(1_000).map((w) => w.name)).toEqual(["early", "same"])
    line.remove(late)
    expect(line.nextDeadline()).toBe(undefined)
    expect(line.size).toBe(1)
  })

  it("knows who competes for the devices a request could get", () => {
    const line = new WaitingLine<Waiter>("type")
    line.add(waiter("arm-board", { type: "board", arch: "arm" }))
    expect(line.competesWith({ type: "phone" })).toBe(false)
    expect(line.competesWith({ type: "board", arch: "x86" })).toBe(false)
    expect(line.competesWith({ type: "board" })).toBe(true)
    expect(line.competesWith({ arch: "arm" })).toBe(true)
    expect(line.competesWith({ arch: "x86" })).toBe(false)
  })

  it("serves and expires 100,000 waiters in order", () => {
    // not a timing assertion: a quadratic line would take minutes here
    const line = new WaitingLine<Waiter>("type")
    const all = Array.from({ length: 100_000 }, (_, i) => waiter(`w${i}`, { type: `t${i % 10}` }, 10_000 + i))
    for (const w of all) line.add(w)
    for (let i = 0; i < 1_000; i++) {
      const [[served]] = line.assign([device(`d${i}`, { type: `t${i % 10}` })]) as [[Waiter, unknown]]
      expect(served).toBe(all[i])
      line.remove(served)
    }
    expect(line.takeExpired(10_000 + 49_999)).toHaveLength(49_000)
    expect(line.size).toBe(50_000)
  })

  it("DeadlineHeap: whatever comes and goes, the first is always the earliest deadline, then the earliest arrival", () => {
    fc.assert(fc.property(
      fc.array(fc.oneof(fc.record({ add: fc.integer({ min: 0, max: 50 }) }), fc.record({ remove: fc.nat() }), fc.constant({ pop: true })), { maxLength: 300 }),
      (ops) => {
        const heap = new DeadlineHeap<{ deadline: number; seq: number }>()
        let model: Array<{ deadline: number; seq: number }> = []
        let seq = 0
        for (const op of ops) {
          if ("add" in op) {
            const item = { deadline: op.add, seq: seq++ }
            heap.add(item)
            model.push(item)
          } else if ("remove" in op && model.length > 0) {
            const item = model[op.remove % model.length]!
            expect(heap.remove(item)).toBe(true)
            expect(heap.remove(item)).toBe(false)
            model = model.filter((other) => other !== item)
          } else if ("pop" in op && model.length > 0) {
            const first = heap.first()!
            heap.remove(first)
            model = model.filter((other) => other !== first)
          }
          const earliest = [...model].sort((a, b) => a.deadline - b.deadline || a.seq - b.seq)[0]
          expect(heap.first()).toBe(earliest)
          expect(heap.size).toBe(model.length)
        }
      }
    ), { numRuns: 200 })
  })
})
