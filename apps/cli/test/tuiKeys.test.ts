import { describe, expect, it } from "vitest"
import { keysOfChunk } from "../src/tui/Keys.js"

describe("a chunk of typed keys", () => {
  it("is split into keys, Enter, Tab, Backspace and Esc among them", () => {
    expect(keysOfChunk(":jobs\r")).toEqual([[":", {}], ["j", {}], ["o", {}], ["b", {}], ["s", {}], ["", { return: true }]])
    expect(keysOfChunk("jo\t\u007f\u001b\n")).toEqual([["j", {}], ["o", {}], ["", { tab: true }], ["", { backspace: true }], ["", { escape: true }], ["", { return: true }]])
  })
})
