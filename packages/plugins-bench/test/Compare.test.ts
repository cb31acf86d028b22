/**
 * The compare's numbers against a hand computation: Welch's interval and Cohen's d from
 * samples, the interval from lower/upper values, verdicts by direction, metrics in one run
 * only, and the environment check.
 */
import { describe, expect, it } from "vitest"
import { compare, compareFingerprints, compareMetric } from "../src/pages/Compare.js"
import { studentCritical } from "../src/detect/Statistics.js"
import type { MeasurementRow, RunRow } from "../src/sql/pages.js"

const m = (value: number, extra: Partial<MeasurementRow> = {}): MeasurementRow => ({
  metric: "m",
  value,
  lower_value: null,
  upper_value: null,
  samples: null,
  unit: "ms",
  direction: -1,
  ...extra
})

describe("Student's t quantile", () => {
  it("matches the tables", () => {
    expect(studentCritical(0.05, 1)).toBeCloseTo(12.7062, 3)
    expect(studentCritical(0.05, 4)).toBeCloseTo(2.776445, 5)
    expect(studentCritical(0.05, 30)).toBeCloseTo(2.042272, 5)
    expect(studentCritical(0.05, 1e6)).toBeCloseTo(1.959966, 4)
  })
})

describe("a metric compared", () => {
  it("from samples: Welch's 95% interval of the difference of means and Cohen's d", () => {
    // a: mean 12, variance 4; b: mean 15, variance 4. se = sqrt(4/3 + 4/3) = 1.632993,
    // df = (8/3)^2 / ((4/3)^2/2 + (4/3)^2/2) = 4, t(0.975, 4) = 2.776445, 2.776445 × 1.632993 = 4.533916: 3 ± 4.533916.
    // d = 3 / sqrt(4) = 1.5
    const c = compareMetric(m(12, { samples: "[10,12,14]" }), m(15, { samples: "[13,15,17]" }))
    expect(c.basis).toBe("samples")
    expect(c.change).toBeCloseTo(0.25, 12)
    expect(c.ci!.lower).toBeCloseTo(3 - 4.533916, 5)
    expect(c.ci!.upper).toBeCloseTo(3 + 4.533916, 5)
    expect(c.effectSize).toBeCloseTo(1.5, 12)
    expect(c.verdict).toBe("no significant change")
  })

  it("judges a significant change by the metric's direction", () => {
    // b's mean is 22: 10 ± 4.533916, d = 10 / 2 = 5
    const worse = compareMetric(m(12, { samples: "[10,12,14]" }), m(22, { samples: "[20,22,24]" }))
    expect(worse.ci!.lower).toBeCloseTo(10 - 4.533916, 5)
    expect(worse.effectSize).toBeCloseTo(5, 12)
    expect(worse.verdict).toBe("regression")
    const better = compareMetric(m(12, { samples: "[10,12,14]", direction: 1 }), m(22, { samples: "[20,22,24]", direction: 1 }))
    expect(better.verdict).toBe("improvement")
    const unknown = compareMetric(m(12, { samples: "[10,12,14]", direction: 0 }), m(22, { samples: "[20,22,24]", direction: 0 }))
    expect(unknown.verdict).toBe("changed")
    const faster = compareMetric(m(22, { samples: "[20,22,24]" }), m(12, { samples: "[10,12,14]" }))
    expect(faster.verdict).toBe("improvement")
    expect(faster.change).toBeCloseTo(-10 / 22, 12)
  })

  it("from lower and upper values read as 95% intervals: half-widths add in quadrature, no effect size", () => {
    // half-widths 2 and 3: the difference's is sqrt(4 + 9) = 3.605551
    const c = compareMetric(m(100, { lower_value: 98, upper_value: 102 }), m(110, { lower_value: 107, upper_value: 113 }))
    expect(c.basis).toBe("bounds")
    expect(c.ci!.lower).toBeCloseTo(10 - Math.sqrt(13), 4)
    expect(c.ci!.upper).toBeCloseTo(10 + Math.sqrt(13), 4)
    expect(c.effectSize).toBeNull()
    expect(c.verdict).toBe("regression")
  })

  it("says single values cannot be judged, and names metrics in one run only", () => {
    const single = compareMetric(m(100), m(110))
    expect(single).toMatchObject({ basis: "single", ci: null, effectSize: null, verdict: "not judged", change: 0.1 })
    expect(compareMetric(undefined, m(1)).verdict).toBe("added")
    expect(compareMetric(m(1), undefined).verdict).toBe("removed")
    expect(compareMetric(m(0), m(1)).change).toBeNull()
  })
})

describe("the environment", () => {
  it("lists the keys whose values differ, nested ones dotted, ignoring the noise self-test", () => {
    const a = JSON.stringify({ cpu: "x", cores: 4, kernel: "6.1", noise: { cv: 0.01 }, cache: { l2: 1 } })
    const b = JSON.stringify({ cpu: "x", cores: 8, kernel: "6.1", governor: "performance", noise: { cv: 0.02 }, cache: { l2: 2 } })
    expect(compareFingerprints(a, b)).toEqual({
      match: false,
      unknown: false,
      differing: [
        { key: "cache.l2", a: 1, b: 2 },
        { key: "cores", a: 4, b: 8 },
        { key: "governor", a: null, b: "performance" }
      ]
    })
    expect(compareFingerprints(a, a).match).toBe(true)
    expect(compareFingerprints(null, a)).toEqual({ match: false, differing: [], unknown: true })
  })
})

describe("two runs compared", () => {
  it("covers every metric in either run and counts the verdicts", () => {
    const run = (id: string): RunRow => ({
      id,
      hash: id.repeat(40).slice(0, 40),
      bench_method: "internal",
      worker_name: "w",
      worker_info: null,
      fingerprint: null,
      started_at: 0,
      ended_at: 1,
      exit_code: 0,
      source: "worker"
    })
    const result = compare(
      run("a"),
      run("b"),
      [m(1, { metric: "x" }), m(12, { metric: "y", samples: "[10,12,14]" })],
      [m(22, { metric: "y", samples: "[20,22,24]" }), m(3, { metric: "z" })]
    )
    expect(result.metrics.map((c) => [c.metric, c.verdict])).toEqual([["x", "removed"], ["y", "regression"], ["z", "added"]])
    expect(result.counts).toMatchObject({ removed: 1, regression: 1, added: 1, improvement: 0 })
  })
})
