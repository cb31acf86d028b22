/**
 * How the worker reads a benchmark's output into measurements: `formats/`'s `parse`, which
 * detects the format (Bencher's JSON and orch's superset, github-action-benchmark, Go, Google
 * Benchmark, pytest-benchmark, hyperfine, criterion), its error said in one line.
 */
import { Either } from "effect"
import { parse } from "../formats/index.js"
import type { ParseMeasurements } from "./Bench.js"

export const parseMeasurements: ParseMeasurements = (text) =>
  parse(text).pipe(
    Either.map((parsed) => parsed.measurements),
    Either.mapLeft((error) => error.message.replace(/\s*\n\s*/g, "; "))
  )
