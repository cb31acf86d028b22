import { describe, expect, it } from "vitest"
import { lastValues, sparkline } from "../src/Sparkline.js"

describe("sparkline", () => {
  it("draws 0 as the lowest block and the largest value as the full one, one character a value", () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe("▁▂▃▄▅▆▇█")
    expect(sparkline([0, 0, 0])).toBe("▁▁▁")
    expect(sparkline([])).toBe("")
  })

  it("never draws a little as nothing: anything above min is at least ▂", () => {
    expect(sparkline([1, 1000])).toBe("▂█")
  })

  it("scales to a given max and min, clamping outside them", () => {
    expect(sparkline([5, 10, 20], { max: 10 })).toBe("▅██")
    expect(sparkline([100, 150, 200, 50], { min: 100, max: 200 })).toBe("▁▅█▁")
  })

  it("draws missing values as a space, or as told", () => {
    expect(sparkline([undefined, 4, Number.NaN, 8])).toBe(" ▅ █")
    expect(sparkline([undefined, 8], { missing: "·" })).toBe("·█")
  })

  it("keeps the newest values for a column of a width", () => {
    expect(lastValues([1, 2, 3, 4], 2)).toEqual([3, 4])
    expect(lastValues([1, 2], 5)).toEqual([1, 2])
    expect(lastValues([1, 2], 0)).toEqual([])
  })
})
