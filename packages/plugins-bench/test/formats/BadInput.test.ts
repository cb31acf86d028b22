/**
 * Bad inputs give a FormatError that names the format, the place (JSON path or line) and the fault;
 * output mixed into a log still parses; 10 MB inputs parse.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { type FormatError, type FormatName, parse } from "../../src/formats/index.js"

const failure = (text: string, format?: FormatName): FormatError => {
  const result = parse(text, format)
  if (Either.isRight(result)) throw new Error(`expected a FormatError, got ${JSON.stringify(result.right)}`)
  expect(result.left._tag).toBe("FormatError")
  return result.left
}

const hyperfine = (mean: unknown) =>
  `{"results": [{"command": "a", "mean": 1, "times": [1]}, {"command": "b", "mean": ${mean}, "times": [1]}]}`

describe("formats: bad input", () => {
  it("empty input, and input no format reads, list what each candidate rejected", () => {
    expect(failure("  \n").message).toBe("the input is empty")

    const text = failure("hello\nworld\n")
    expect(text.message).toBe([
      "no known format reads this input (tried go, criterion)",
      "  go: no `BenchmarkName  <iterations>  <value> <unit>` line",
      "  criterion: no `<name>  time: [low estimate high]` line, no `test <name> ... bench:` line and no raw.csv header"
    ].join("\n"))
    expect(text.rejections?.map((rejection) => rejection.format)).toEqual(["go", "criterion"])

    const json = failure(`{"name": "x", "size": 3}`)
    expect(json.format).toBeUndefined()
    expect(json.message).toContain("no known format reads this input (tried hyperfine, pytest-benchmark, google-benchmark, github-action-benchmark, bencher)")
    expect(json.message).toContain("  hyperfine: no top-level `results` array")
    expect(json.message).toContain("  bencher: no `{ benchmark: { measure: { value } } }` found at the top level")
    expect(json.message).toContain("  github-action-benchmark: the top level is an object, not an array of { name, unit, value }")
  })

  it("a wrong type is reported with the format and its JSON path, detected or named", () => {
    const detected = failure(hyperfine(`"fast"`))
    expect(detected.message).toBe(`looks like hyperfine JSON, but at $.results[1].mean: expected a number, got the string "fast"`)
    expect(detected.format).toBe("hyperfine")
    expect(detected.where).toBe("$.results[1].mean")
    const named = failure(hyperfine(`"fast"`), "hyperfine")
    expect(named.message).toBe(`hyperfine JSON: at $.results[1].mean: expected a number, got the string "fast"`)

    expect(failure(`{"results": [{"command": "a", "mean": 1, "times": [1, "x"]}]}`).where).toBe("$.results[0].times[1]")
    expect(failure(`{"benchmarks": [{"fullname": "t::a", "stats": {"mean": null}}]}`).message).toBe(
      "looks like pytest-benchmark JSON, but at $.benchmarks[0].stats.mean: expected a number, got null"
    )
    expect(failure(`{"benchmarks": [{"name": "BM_A", "run_type": "iteration", "real_time": "1", "time_unit": "ns"}]}`).where)
      .toBe("$.benchmarks[0].real_time")
    expect(failure(`[{"name": "a", "value": 1, "unit": "ms"}, {"name": "b", "value": 2}]`).message).toBe(
      "looks like github-action-benchmark custom JSON, but at $[1].unit: expected a string, got undefined undefined"
    )
    expect(failure(`{"sort": {"latency": {"value": 1, "direction": "lower"}}}`).message).toBe(
      `looks like Bencher Metric Format JSON, but at $.sort.latency.direction: expected "less_is_better" or "more_is_better", got the string "lower"`
    )
    expect(failure(`{"sort": {"latency": {"value": 1, "samples": [1, 2, "3"]}}}`).where).toBe("$.sort.latency.samples[2]")
    expect(failure(`{"sort": {"latency": {"value": 1, "lower_value": 2}}}`).message).toContain("at $.sort.latency.lower_value: 2 is above value 1")
    expect(failure(`{"a b": {"x": {"value": "1"}}}`).where).toBe(`$["a b"].x.value`)
  })

  it("NaN and Infinity are rejected, as JSON literals (Python writes them) and as overflowing numbers", () => {
    const nan = failure(`{\n  "benchmarks": [\n    {"fullname": "t::a", "stats": {"mean": NaN}}\n  ]\n}`)
    expect(nan.message).toBe("not valid JSON at line 3 column 44: NaN is not a JSON number (NaN and Infinity are not measurements)")
    expect(failure(`{"sort": {"latency": {"value": -Infinity}}}`).message).toContain("-Infinity is not a JSON number")
    expect(failure(hyperfine("1e999")).message).toBe("looks like hyperfine JSON, but at $.results[1].mean: Infinity is not a finite number")
    expect(failure(`[{"name": "a", "value": "NaN", "unit": "ms"}]`).message).toContain("at $[0].value: NaN is not a finite number")
    expect(failure("BenchmarkA-8  100  NaN ns/op\n").message).toBe(`looks like Go testing benchmark output, but at line 1: "NaN" is not a number`)
    expect(failure("a   time:   [1.0 ns inf ns 3.0 ns]\n").message).toContain(`at line 1: "inf" is not a number`)
  })

  it("broken JSON says where", () => {
    expect(failure(`{"results": [\n  {"command": "a",}\n]}`).message).toMatch(/^not valid JSON at line 2 column 19: /)
    expect(failure(`{"results": [`, "hyperfine").message).toMatch(/^hyperfine JSON: not valid JSON/)
  })

  it("an input with no measurement is an error", () => {
    expect(failure(`{"results": []}`).message).toBe("looks like hyperfine JSON, but it holds no measurements")
    expect(failure(`{"benchmarks": [{"name": "BM_A", "run_type": "iteration", "error_occurred": true, "error_message": "boom"}]}`).message)
      .toBe("looks like Google Benchmark JSON, but it holds no measurements")
    expect(failure("PASS\nok  \texample.com/x\t0.01s\n", "go").message).toBe(
      "not Go testing benchmark output: no `BenchmarkName  <iterations>  <value> <unit>` line"
    )
  })

  it("a metric given twice names both places", () => {
    expect(failure(`[{"name": "a", "value": 1, "unit": "ms"}, {"name": "a", "value": 2, "unit": "ms"}]`).message).toBe(
      `looks like github-action-benchmark custom JSON, but at $[1]: metric "a/value" is given twice (first at $[0])`
    )
    expect(failure("a   time:   [1.0 ns 2.0 ns 3.0 ns]\nx\na   time:   [1.0 ns 2.0 ns 3.0 ns]\n").message).toBe(
      `looks like criterion cargo bench output, but at line 3: metric "a/time" is given twice (first at line 1)`
    )
  })

  it("text formats: malformed result lines say their line; other output around them is skipped", () => {
    expect(failure("goos: linux\nBenchmarkA-8  100  12 ns/op  5\n").message).toBe(
      `looks like Go testing benchmark output, but at line 2: expected "<value> <unit>" pairs after the iteration count, got "12 ns/op  5"`
    )
    expect(failure("  thrpt:  [1 elem/s 2 elem/s 3 elem/s]\n").message).toContain("at line 1: a `thrpt:` line that follows no `time:` line")
    expect(failure("a   time:   [1.0 xs 2.0 xs 3.0 xs]\n").message).toContain(`at line 1: unknown unit "xs"`)
    expect(failure("a   time:   [1.0 ns 2.0 ns]\n").message).toContain(`at line 1: expected "[low unit estimate unit high unit]"`)

    const log = [
      "=== RUN   TestNothing",
      "--- PASS: TestNothing (0.00s)",
      "goos: linux",
      "goarch: amd64",
      "pkg: example.com/a",
      "cpu: Some CPU @ 2.10GHz",
      "BenchmarkParse is slow on this machine, see issue 12",
      "BenchmarkParse-4   \t  500000\t      2301 ns/op\r",
      "--- BENCH: BenchmarkParse-4",
      "    parse_test.go:12: warmed up",
      "BenchmarkParse-4   \t  500000\t      2299 ns/op",
      "PASS",
      "ok  \texample.com/a\t3.2s",
      "pkg: example.com/b",
      "BenchmarkParse-4   \t  1000\t      99 ns/op\t  12.5 widgets/s",
      "PASS",
      "ok  \texample.com/b\t1.0s"
    ].join("\n")
    expect(Either.getOrThrow(parse(log))).toEqual({
      format: "go",
      measurements: {
        "example.com/a.BenchmarkParse/time": { value: 2300, unit: "ns", direction: "less_is_better", samples: [2301, 2299] },
        "example.com/b.BenchmarkParse/time": { value: 99, unit: "ns", direction: "less_is_better" },
        "example.com/b.BenchmarkParse/widgets/s": { value: 12.5, unit: "widgets/s", direction: "more_is_better" }
      }
    })
  })

  it("criterion raw.csv: a short row and a bad count say their line", () => {
    const header = "group,function,value,throughput_num,throughput_type,sample_measured_value,unit,iteration_count"
    expect(failure(`${header}\na,,,,,100.0,ns\n`).message).toBe(
      `looks like criterion cargo bench output, but at line 2: expected the 8 fields of ${header}`
    )
    expect(failure(`${header}\na,,,,,100.0,ns,0\n`).message).toContain("at line 2: iteration_count 0 is not positive")
    expect(Either.getOrThrow(parse(`${header}\n"a,b",f,,,,100.0,ns,4\n"a,b",f,,,,300.0,ns,4\n`)).measurements).toEqual({
      "a,b/f/time": { value: 50, unit: "ns", direction: "less_is_better", samples: [25, 75] }
    })
  })

  it("Google Benchmark: a changing time unit and an unknown run type are refused", () => {
    const row = (extra: object) => ({ name: "BM_A", run_name: "BM_A", run_type: "iteration", real_time: 1, cpu_time: 1, time_unit: "ns", ...extra })
    expect(failure(JSON.stringify({ benchmarks: [row({}), row({ time_unit: "us" })] })).message).toBe(
      `looks like Google Benchmark JSON, but at $.benchmarks[1].time_unit: "us" differs from "ns" in an earlier row of "BM_A"`
    )
    expect(failure(JSON.stringify({ benchmarks: [row({ run_type: "warmup" })] })).where).toBe("$.benchmarks[0].run_type")
  })

  it("an unknown format name is refused", () => {
    expect(failure("{}", "yaml" as FormatName).message).toBe(
      `unknown format "yaml" (known: hyperfine, pytest-benchmark, google-benchmark, github-action-benchmark, bencher, go, criterion)`
    )
  })

  it("10 MB inputs parse: Go text, criterion text, hyperfine JSON with many times, a BMF of many metrics", () => {
    const goLines: Array<string> = ["goos: linux", "pkg: example.com/big"]
    let size = 0
    for (let index = 0; size < 10_000_000; index++) {
      const line = `BenchmarkCase${index % 5_000}-8   \t 1000\t ${1000 + (index % 7)} ns/op\t  64 B/op\t  1 allocs/op`
      goLines.push(line, index % 10 === 0 ? "some log line printed by the benchmark" : "")
      size += line.length + 40
    }
    const go = Either.getOrThrow(parse(goLines.join("\n")))
    expect(go.format).toBe("go")
    expect(Object.keys(go.measurements)).toHaveLength(5_000 * 3)
    expect(go.measurements["example.com/big.BenchmarkCase0/time"]?.samples?.length).toBeGreaterThan(1)

    const criterionLines: Array<string> = []
    for (let index = 0; criterionLines.length * 60 < 10_000_000; index++) {
      criterionLines.push(`group/case_${index}          time:   [1.0000 µs 1.0500 µs 1.1000 µs]`)
    }
    const criterion = Either.getOrThrow(parse(criterionLines.join("\n")))
    expect(criterion.format).toBe("criterion")
    expect(Object.keys(criterion.measurements)).toHaveLength(criterionLines.length)

    const times = Array.from({ length: 650_000 }, (_, index) => 0.0123456789 + index * 1e-12)
    const hyperfineText = JSON.stringify({ results: [{ command: "big", mean: 0.0123, stddev: 0.001, times }] })
    expect(hyperfineText.length).toBeGreaterThan(9_000_000)
    const big = Either.getOrThrow(parse(hyperfineText))
    expect(big.measurements["big/time"]?.samples).toHaveLength(650_000)

    const bmf: Record<string, Record<string, { value: number; lower_value: number; upper_value: number }>> = {}
    for (let index = 0; index < 100_000; index++) {
      bmf[`bench_${index}`] = { latency: { value: index + 0.5, lower_value: index, upper_value: index + 1 } }
    }
    const bmfText = JSON.stringify(bmf)
    expect(bmfText.length).toBeGreaterThan(7_000_000)
    expect(Object.keys(Either.getOrThrow(parse(bmfText)).measurements)).toHaveLength(100_000)
  }, 180_000)
})
