/**
 * What a worker says about the machine it measures on, sent as JSON in every status's `info`
 * (tablejohn's free-form field): the environment fingerprint (CPU model, cores, kernel, CPU
 * frequency governor …) that decides whether two runs are comparable, and the result of a short
 * noise self-test run once at start (Bencher's `bencher noise` idea: a fixed CPU loop timed several
 * times; its coefficient of variation says how steady the machine is).
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"

export const Fingerprint = Schema.Struct({
  /** The CPU model name. */
  cpu: Schema.String,
  /** Logical CPUs the OS reports. */
  cores: Schema.Int,
  /** `uname -r`. */
  kernel: Schema.String,
  os: Schema.String,
  arch: Schema.String,
  /** cpu0's cpufreq scaling governor (`performance`, `powersave` …); null where the kernel has none. */
  governor: Schema.NullOr(Schema.String),
  memory_bytes: Schema.Number
})
export type Fingerprint = typeof Fingerprint.Type

export const NoiseTest = Schema.Struct({
  /** How many times the loop was timed (after one warm-up). */
  runs: Schema.Int,
  median_ms: Schema.Number,
  /** Standard deviation over mean of the timings: 0.01 is a quiet machine, 0.1 a noisy one. */
  cv: Schema.Number
})
export type NoiseTest = typeof NoiseTest.Type

/**
 * The JSON in `WorkerRequest.info` of an orch worker: the fingerprint's keys at the top level (the
 * server's `Protocol.fingerprintOf` recognises the object by them) and the noise test beside them.
 */
export const WorkerInfo = Schema.Struct({
  ...Fingerprint.fields,
  noise: Schema.NullOr(NoiseTest)
})
export type WorkerInfo = typeof WorkerInfo.Type

/** The first `model name` (x86) or `Model`/`Hardware` (ARM) line of /proc/cpuinfo. */
export const cpuModelOf = (cpuinfo: string): string | undefined => {
  for (const key of ["model name", "Model", "Hardware", "cpu model"]) {
    const match = new RegExp(`^${key}\\s*:\\s*(.+)$`, "m").exec(cpuinfo)
    if (match) return match[1]!.trim()
  }
  return undefined
}

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** This machine's fingerprint, from /proc and /sys where they exist and Node's `os` elsewhere. */
export const fingerprint: Effect.Effect<Fingerprint> = Effect.sync(() => {
  const cpus = os.cpus()
  const cpuinfo = readText("/proc/cpuinfo")
  return {
    cpu: (cpuinfo !== undefined ? cpuModelOf(cpuinfo) : undefined) ?? cpus[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism?.() ?? cpus.length,
    kernel: os.release(),
    os: os.platform(),
    arch: os.arch(),
    governor: readText("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")?.trim() || null,
    memory_bytes: os.totalmem()
  }
})

/** A fixed amount of integer work (xorshift steps); its result is returned so it is not optimised away. */
export const cpuLoop = (steps: number): number => {
  let x = 2463534242
  for (let i = 0; i < steps; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
  }
  return x >>> 0
}

/** Median and coefficient of variation of a list of timings. */
export const summarize = (timings: ReadonlyArray<number>): NoiseTest => {
  const sorted = [...timings].sort((a, b) => a - b)
  const n = sorted.length
  const mean = sorted.reduce((sum, t) => sum + t, 0) / n
  const variance = n > 1 ? sorted.reduce((sum, t) => sum + (t - mean) ** 2, 0) / (n - 1) : 0
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2
  return { runs: n, median_ms: median, cv: mean > 0 ? Math.sqrt(variance) / mean : 0 }
}

/**
 * Times `cpuLoop(steps)` `runs` times after one warm-up (about 5 ms each with the default steps
 * on a 2020s core, so the test takes a fraction of a second). Blocks the thread while it runs:
 * it is meant for the worker's start, before anything else runs.
 */
export const noiseTest = (options: { readonly runs?: number; readonly steps?: number } = {}): Effect.Effect<NoiseTest> =>
  Effect.sync(() => {
    const runs = options.runs ?? 30
    const steps = options.steps ?? 2_000_000
    let sink = cpuLoop(steps)
    const timings: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint()
      sink ^= cpuLoop(steps)
      timings.push(Number(process.hrtime.bigint() - start) / 1e6)
    }
    if (sink === -1) timings.push(0) // never true; keeps `sink` observable
    return summarize(timings)
  })

/** The fingerprint and (unless skipped) the noise test, as the `info` string of every status. */
export const workerInfo = (options: { readonly noiseTest: boolean }): Effect.Effect<string> =>
  Effect.gen(function*() {
    const info: WorkerInfo = {
      ...(yield* fingerprint),
      noise: options.noiseTest ? yield* noiseTest() : null
    }
    return JSON.stringify(info)
  })
