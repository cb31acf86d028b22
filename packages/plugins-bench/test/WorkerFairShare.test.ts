/** Weighted fair sharing of one worker among several servers. */
import { describe, expect, it } from "@effect/vitest"
import { FairShare } from "../src/worker/FairShare.js"

/** Simulates `runs` runs of `ms` each, asking in the share's order; `hasWork` says who has work at step i. */
const simulate = (share: FairShare, runs: number, ms: (server: string) => number, hasWork: (server: string, i: number) => boolean = () => true) => {
  const counts: Record<string, number> = {}
  const time: Record<string, number> = {}
  for (let i = 0; i < runs; i++) {
    for (const server of share.order()) {
      if (!hasWork(server, i)) {
        share.noWork(server)
        continue
      }
      share.gotWork(server)
      share.charge(server, ms(server))
      counts[server] = (counts[server] ?? 0) + 1
      time[server] = (time[server] ?? 0) + ms(server)
      break
    }
  }
  return { counts, time }
}

describe("FairShare", () => {
  it("run time in proportion to the weights when every server has work (2:1)", () => {
    const { time } = simulate(new FairShare([{ name: "a", weight: 2 }, { name: "b", weight: 1 }]), 300, () => 1000)
    expect(time).toEqual({ a: 200_000, b: 100_000 })
  })

  it("by run time, not by number of runs: a server whose runs are 3× longer gets a third as many", () => {
    const { counts, time } = simulate(new FairShare([{ name: "long", weight: 1 }, { name: "short", weight: 1 }]), 400, (s) => (s === "long" ? 3000 : 1000))
    expect(counts).toEqual({ long: 100, short: 300 })
    expect(time.long).toBe(time.short)
  })

  it("a server idle for a while comes back at the others' level: no burst to catch up", () => {
    const share = new FairShare([{ name: "a", weight: 1 }, { name: "b", weight: 1 }])
    // b has no work for the first 100 runs
    const first = simulate(share, 100, () => 1000, (server) => server === "a")
    expect(first.counts).toEqual({ a: 100 })
    const then = simulate(share, 20, () => 1000)
    // without the catch-up rule b would take all 20
    expect(then.counts).toEqual({ a: 10, b: 10 })
  })

  it("asks the server with the least virtual time first, by name among equals", () => {
    const share = new FairShare([{ name: "b", weight: 1 }, { name: "a", weight: 1 }, { name: "c", weight: 4 }])
    expect(share.order()).toEqual(["a", "b", "c"])
    share.charge("a", 1000)
    share.charge("c", 1000)
    expect(share.order()).toEqual(["b", "c", "a"])
    expect(share.snapshot()).toEqual({ a: 1000, b: 0, c: 250 })
  })
})
