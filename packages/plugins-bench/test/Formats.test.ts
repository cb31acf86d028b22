/**
 * Every input format read from a real output of its tool (test/fixtures/formats/README.md says how
 * each was made), detected automatically and named explicitly, with exact metrics.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type FormatName, formatNames, parse } from "../src/formats/index.js"
import type { Measurements } from "../src/Measurement.js"

const fixture = (file: string): string => fs.readFileSync(path.join(import.meta.dirname, "fixtures", "formats", file), "utf8")

/** Parses a fixture detected and named, checks both agree, and returns the measurements. */
const parsedFixture = (file: string, format: FormatName): Measurements => {
  const text = fixture(file)
  const detected = parse(text)
  if (Either.isLeft(detected)) throw new Error(`${file}: ${detected.left.message}`)
  expect(detected.right.format).toBe(format)
  const named = parse(text, format)
  if (Either.isLeft(named)) throw new Error(`${file} as ${format}: ${named.left.message}`)
  expect(named.right).toEqual(detected.right)
  return detected.right.measurements
}

describe("Formats", () => {
  it("lists every format once", () => {
    expect([...formatNames].sort()).toEqual(
      ["bencher", "criterion", "github-action-benchmark", "go", "google-benchmark", "hyperfine", "pytest-benchmark"]
    )
  })

  it("hyperfine: time with samples and mean ± stddev, user and system, per command", () => {
    const measurements = parsedFixture("hyperfine.json", "hyperfine")
    expect(Object.keys(measurements)).toEqual(["sleep 0.01/time", "sleep 0.01/user", "sleep 0.01/system", "true/time", "true/user", "true/system"])
    expect(measurements["sleep 0.01/time"]).toEqual({
      value: 0.014080930040000003,
      lower_value: 0.014080930040000003 - 0.0015960269958333099,
      upper_value: 0.014080930040000003 + 0.0015960269958333099,
      unit: "s",
      direction: "less_is_better",
      samples: [0.015042776840000001, 0.012332544840000001, 0.012550120840000002, 0.01600732184, 0.01447188584]
    })
    expect(measurements["sleep 0.01/user"]).toEqual({ value: 0.002993512, unit: "s", direction: "less_is_better" })
    // stddev larger than the mean: the lower bound stops at 0 s.
    expect(measurements["true/time"]?.lower_value).toBe(0)
    expect(measurements["true/time"]?.samples).toEqual([0, 0.00250255584, 0, 0, 0])

    const parameters = parsedFixture("hyperfine-parameters.json", "hyperfine")
    expect(Object.keys(parameters).filter((name) => name.endsWith("/time"))).toEqual(["sleep 0.001/time", "sleep 0.002/time"])
    expect(parameters["sleep 0.002/system"]).toEqual({ value: 0, unit: "s", direction: "less_is_better" })
  })

  it("go: -count repeats become samples, -GOMAXPROCS is dropped, the package qualifies the name", () => {
    const measurements = parsedFixture("go.txt", "go")
    expect(Object.keys(measurements)).toHaveLength(3 + 4 + 4 * 2)
    expect(measurements["example.com/sorting.BenchmarkSortInts/time"]).toEqual({
      value: 36907,
      unit: "ns",
      direction: "less_is_better",
      samples: [39187, 34435, 37099]
    })
    expect(measurements["example.com/sorting.BenchmarkSortInts/memory"]).toEqual({
      value: 8216,
      unit: "B",
      direction: "less_is_better",
      samples: [8216, 8216, 8216]
    })
    expect(measurements["example.com/sorting.BenchmarkSortInts/allocs"]?.unit).toBe("allocs")
    expect(measurements["example.com/sorting.BenchmarkCopy/throughput"]).toEqual({
      value: (61703.82 + 34594.54 + 76155.86) / 3,
      unit: "MB/s",
      direction: "more_is_better",
      samples: [61703.82, 34594.54, 76155.86]
    })
    expect(measurements["example.com/sorting.BenchmarkCopy/time"]?.samples).toEqual([1062, 1894, 860.6])
    // A b.ReportMetric unit is its own measure; "elements/op" implies no direction.
    expect(measurements["example.com/sorting.BenchmarkSortSizes/n=100/elements/op"]).toEqual({
      value: 100,
      unit: "elements/op",
      samples: [100, 100, 100]
    })
    expect(measurements["example.com/sorting.BenchmarkSortSizes/n=10/time"]?.samples).toEqual([278, 202.8, 412.4])
  })

  it("google-benchmark: mean aggregate ± stddev aggregate, repetitions as samples, rates and user counters", () => {
    const measurements = parsedFixture("google-benchmark.json", "google-benchmark")
    expect(Object.keys(measurements)).toEqual([
      "BM_Sort/64/real_time",
      "BM_Sort/64/cpu_time",
      "BM_Sort/64/items_per_second",
      "BM_Sort/64/swaps",
      "BM_Sort/1024/real_time",
      "BM_Sort/1024/cpu_time",
      "BM_Sort/1024/items_per_second",
      "BM_Sort/1024/swaps",
      "BM_Copy/real_time",
      "BM_Copy/cpu_time",
      "BM_Copy/bytes_per_second"
    ])
    expect(measurements["BM_Copy/real_time"]).toEqual({
      value: 51.23633873759749,
      lower_value: 51.23633873759749 - 2.9796353750983733,
      upper_value: 51.23633873759749 + 2.9796353750983733,
      unit: "ns",
      direction: "less_is_better",
      samples: [48.21958519256585, 54.177414189160196, 51.312016831066444]
    })
    expect(measurements["BM_Copy/cpu_time"]?.value).toBe(39.52630464873142)
    expect(measurements["BM_Copy/bytes_per_second"]).toMatchObject({
      value: 103754390794.65108,
      unit: "B/s",
      direction: "more_is_better",
      samples: [104586872604.29303, 98974985429.33813, 107701314350.32207]
    })
    expect(measurements["BM_Sort/64/items_per_second"]).toMatchObject({ unit: "items/s", direction: "more_is_better" })
    // A user counter: the JSON says neither unit nor direction.
    expect(measurements["BM_Sort/64/swaps"]).toEqual({ value: 42, lower_value: 42, upper_value: 42, samples: [42, 42, 42] })
  })

  it("google-benchmark: a single run without repetitions has no samples or bounds", () => {
    const text = JSON.stringify({
      context: { num_cpus: 2 },
      benchmarks: [{
        name: "BM_Copy",
        run_name: "BM_Copy",
        run_type: "iteration",
        repetitions: 1,
        repetition_index: 0,
        threads: 1,
        iterations: 245939,
        real_time: 53.784828758372051,
        cpu_time: 53.373039656174903,
        time_unit: "us"
      }]
    })
    const result = Either.getOrThrow(parse(text))
    expect(result.format).toBe("google-benchmark")
    expect(result.measurements).toEqual({
      "BM_Copy/real_time": { value: 53.784828758372051, unit: "us", direction: "less_is_better" },
      "BM_Copy/cpu_time": { value: 53.373039656174903, unit: "us", direction: "less_is_better" }
    })
  })

  it("pytest-benchmark: mean ± stddev in seconds, --benchmark-save-data rounds as samples, named by fullname", () => {
    const measurements = parsedFixture("pytest-benchmark.json", "pytest-benchmark")
    expect(Object.keys(measurements)).toEqual([
      "test_sorting.py::test_sort_1k/time",
      "test_sorting.py::test_sort_sizes[10]/time",
      "test_sorting.py::test_sort_sizes[100]/time"
    ])
    expect(measurements["test_sorting.py::test_sort_1k/time"]).toEqual({
      value: 0.000054989399995974966,
      lower_value: 0.000054989399995974966 - 0.00000417197111200267,
      upper_value: 0.000054989399995974966 + 0.00000417197111200267,
      unit: "s",
      direction: "less_is_better",
      samples: [0.00006208900003912277, 0.00005435499997474835, 0.00005463499996949395, 0.0000518389999797364, 0.00005202900001677335]
    })
    expect(measurements["test_sorting.py::test_sort_sizes[10]/time"]?.samples).toHaveLength(99)
    // stddev above the mean: the lower bound stops at 0 s.
    expect(measurements["test_sorting.py::test_sort_sizes[100]/time"]?.lower_value).toBe(0)
  })

  it("pytest-benchmark: without --benchmark-save-data there are no samples", () => {
    const text = JSON.parse(fixture("pytest-benchmark.json"))
    for (const benchmark of text.benchmarks) delete benchmark.stats.data
    const result = Either.getOrThrow(parse(JSON.stringify(text)))
    expect(result.format).toBe("pytest-benchmark")
    expect(result.measurements["test_sorting.py::test_sort_1k/time"]?.samples).toBeUndefined()
  })

  it("criterion: time in ns with criterion's interval, throughput, a long name on its own line, change blocks skipped", () => {
    const measurements = parsedFixture("criterion.txt", "criterion")
    expect(measurements).toEqual({
      "sort 1k/time": { value: 31716, lower_value: 19114, upper_value: 46171, unit: "ns", direction: "less_is_better" },
      "sort 1k with a name too long for the column/time": {
        value: 11233,
        lower_value: 10406,
        upper_value: 12119,
        unit: "ns",
        direction: "less_is_better"
      },
      "sort_sizes/10/time": { value: 99.878, lower_value: 73.64, upper_value: 147.19, unit: "ns", direction: "less_is_better" },
      "sort_sizes/10/throughput": {
        value: 100.12e6,
        lower_value: 67.94e6,
        upper_value: 135.8e6,
        unit: "elem/s",
        direction: "more_is_better"
      },
      "sort_sizes/100/time": { value: 1990.9, lower_value: 1610.5, upper_value: 2509.7, unit: "ns", direction: "less_is_better" },
      "sort_sizes/100/throughput": {
        value: 50.227e6,
        lower_value: 39.846e6,
        upper_value: 62.094e6,
        unit: "elem/s",
        direction: "more_is_better"
      }
    })
  })

  it("criterion: --output-format bencher lines, value ± the printed spread", () => {
    const measurements = parsedFixture("criterion-bencher.txt", "criterion")
    expect(measurements).toEqual({
      "sort 1k/time": { value: 31312, lower_value: 31312 - 22874, upper_value: 31312 + 22874, unit: "ns", direction: "less_is_better" },
      "sort 1k with a name too long for the column/time": {
        value: 29157,
        lower_value: 0,
        upper_value: 29157 + 32948,
        unit: "ns",
        direction: "less_is_better"
      },
      "sort_sizes/10/time": { value: 137, lower_value: 0, upper_value: 137 + 234, unit: "ns", direction: "less_is_better" },
      "sort_sizes/100/time": { value: 2312, lower_value: 2312 - 629, upper_value: 2312 + 629, unit: "ns", direction: "less_is_better" }
    })
  })

  it("criterion: raw.csv files (concatenated) give per-iteration samples in ns", () => {
    const measurements = parsedFixture("criterion-raw.csv", "criterion")
    expect(Object.keys(measurements)).toEqual(["sort 1k/time", "sort_sizes/10/time"])
    const sort = measurements["sort 1k/time"]!
    expect(sort).toMatchObject({ unit: "ns", direction: "less_is_better" })
    expect(sort.samples).toHaveLength(10)
    expect(sort.samples?.[0]).toBe(2807750 / 215)
    expect(sort.value).toBeCloseTo(sort.samples!.reduce((a, b) => a + b, 0) / 10, 6)
    expect(measurements["sort_sizes/10/time"]?.samples?.[0]).toBe(4987529 / 22034)
  })

  it("criterion: ps to s and byte throughputs are brought to ns and B/s", () => {
    const text = [
      "tiny                    time:   [512.10 ps 515.00 ps 519.90 ps]",
      "slow                    time:   [1.2000 s 1.2500 s 1.3000 s]",
      "copy/4096               time:   [99.000 ns 100.00 ns 101.00 ns]",
      "                        thrpt:  [37.768 GiB/s 38.147 GiB/s 38.532 GiB/s]",
      "mixed                   time:   [999.00 ns 1.0000 us 1.0010 µs]"
    ].join("\n")
    const measurements = Either.getOrThrow(parse(text, "criterion")).measurements
    expect(measurements["tiny/time"]).toMatchObject({ value: 0.515, lower_value: 0.5121, upper_value: 0.5199, unit: "ns" })
    expect(measurements["slow/time"]).toMatchObject({ value: 1.25e9, unit: "ns" })
    expect(measurements["copy/4096/throughput"]).toMatchObject({ value: 38.147 * 1024 ** 3, unit: "B/s", direction: "more_is_better" })
    expect(measurements["mixed/time"]).toMatchObject({ value: 1000, lower_value: 999, upper_value: 1001 })
  })

  it("github-action-benchmark: <name>/value, direction from the unit, range as ± or %", () => {
    const measurements = parsedFixture("github-action-benchmark.json", "github-action-benchmark")
    expect(measurements).toEqual({
      "parse config/value": { value: 12.5, lower_value: 11.75, upper_value: 13.25, unit: "ms", direction: "less_is_better" },
      "HTTP requests/value": {
        value: 4210,
        lower_value: 4210 - 4210 * 3 / 100,
        upper_value: 4210 + 4210 * 3 / 100,
        unit: "req/s",
        direction: "more_is_better"
      },
      // "Megabytes" says nothing about which way is better: left for an admin to set.
      "Resident memory/value": { value: 182, unit: "Megabytes" },
      "render frame/value": {
        value: 90.9439,
        lower_value: 90.9439 - 0.519165,
        upper_value: 90.9439 + 0.519165,
        unit: "ns",
        direction: "less_is_better"
      }
    })
  })

  it("bencher: BMF with orch's unit, direction and samples; plain BMF keeps only value and bounds", () => {
    const measurements = parsedFixture("bencher.json", "bencher")
    expect(measurements).toEqual({
      "sort_1k/latency": { value: 51237, lower_value: 43402, upper_value: 60744 },
      "sort_1k/throughput": { value: 19.5, lower_value: 16.4, upper_value: 23, unit: "Melem/s", direction: "more_is_better" },
      "startup/latency": { value: 0.0141, unit: "s", direction: "less_is_better", samples: [0.015, 0.0123, 0.0126, 0.016, 0.0145] },
      "startup/binary_size": { value: 4718592, unit: "B" }
    })
    // Keys another tool adds to a metric are ignored, as Bencher ignores them.
    const extra = Either.getOrThrow(parse(JSON.stringify({ a: { b: { value: 1, note: "from CI", iterations: 3 } } })))
    expect(extra).toEqual({ format: "bencher", measurements: { "a/b": { value: 1 } } })
  })

  it("a format named explicitly does not fall back to another", () => {
    const result = parse(fixture("hyperfine.json"), "pytest-benchmark")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("FormatError")
      expect(result.left.format).toBe("pytest-benchmark")
      expect(result.left.message).toBe("not pytest-benchmark JSON: no top-level `benchmarks` array")
    }
  })
})
