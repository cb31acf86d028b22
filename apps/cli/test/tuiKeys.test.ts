import { describe, expect, it } from "vitest"
import type { ViewAction } from "../src/tui/Api.js"
import { requestOf } from "../src/tui/Actions.js"
import * as Keys from "../src/tui/Keys.js"
import { keysOfChunk } from "../src/tui/Keys.js"

describe("a chunk of typed keys", () => {
  it("is split into keys, Enter, Tab, Backspace and Esc among them", () => {
    expect(keysOfChunk(":jobs\r")).toEqual([[":", {}], ["j", {}], ["o", {}], ["b", {}], ["s", {}], ["", { return: true }]])
    expect(keysOfChunk("jo\t\u007f\u001b\n")).toEqual([["j", {}], ["o", {}], ["", { tab: true }], ["", { backspace: true }], ["", { escape: true }], ["", { return: true }]])
  })
})

describe("a view's action on a row", () => {
  const release: ViewAction = { key: "l", label: "release the lease", method: "DELETE", path: "/allocator/leases/{lease}", role: "operate", confirm: true }
  const requeue: ViewAction = { key: "e", label: "queue again", method: "POST", path: "/bench/api/queue", body: { hash: "{hash}", priority: 1 }, role: "operate", confirm: false }
  const ctx = { names: [], rows: 2, page: 10 }

  it("fills the path (URL-encoded) and the body's strings from the row; a row without the value does not offer it", () => {
    expect(requestOf(release, { name: "a", lease: "x/y" })).toEqual({ method: "DELETE", path: "/allocator/leases/x%2Fy", body: undefined })
    expect(requestOf(requeue, { hash: "abc" })).toEqual({ method: "POST", path: "/bench/api/queue", body: { hash: "abc", priority: 1 } })
    expect(requestOf(release, { name: "free-device" })).toBeUndefined()
    const step = Keys.step(Keys.initial("allocator/devices"), "l", {}, { ...ctx, actions: [release], selectedRow: { name: "free-device" } })
    expect(step.state.message).toBe("release the lease: not for this row")
    expect(step.effect).toBeUndefined()
  })

  it("asks first unless the action says it need not; any key but y is a no", () => {
    const asked = Keys.step(Keys.initial("x/y"), "l", {}, { ...ctx, actions: [release], selectedRow: { lease: "7" } })
    expect(asked.state.mode).toEqual({ _tag: "confirm", action: release, row: { lease: "7" } })
    expect(Keys.step(asked.state, "y", {}, ctx).effect).toEqual({ _tag: "act", action: release, row: { lease: "7" } })
    expect(Keys.step(asked.state, "n", {}, ctx).state.message).toBe("release the lease 7: not done")
    expect(Keys.step(Keys.initial("x/y"), "e", {}, { ...ctx, actions: [requeue], selectedRow: { hash: "h" } }).effect)
      .toEqual({ _tag: "act", action: requeue, row: { hash: "h" } })
  })
})
