/** The environment fingerprint and the noise self-test a worker reports in its status `info`. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as os from "node:os"
import * as Protocol from "../src/Protocol.js"
import * as Fingerprint from "../src/worker/Fingerprint.js"

describe("Fingerprint", () => {
  it.effect("this machine's: CPU model, cores, kernel (uname -r), governor or null", () =>
    Effect.gen(function*() {
      const print = yield* Fingerprint.fingerprint
      expect(print.cpu).not.toBe("")
      expect(print.cores).toBeGreaterThanOrEqual(1)
      expect(print.kernel).toBe(os.release())
      expect(print.governor === null || /^[a-z]+$/.test(print.governor)).toBe(true)
      expect(Object.keys(print).sort()).toEqual(["arch", "cores", "cpu", "governor", "kernel", "memory_bytes", "os"])
    }))

  it("the CPU model from /proc/cpuinfo on x86 and on ARM", () => {
    expect(Fingerprint.cpuModelOf("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n")).toBe("Intel(R) Xeon(R) CPU @ 2.20GHz")
    expect(Fingerprint.cpuModelOf("processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")).toBe("Raspberry Pi 4 Model B Rev 1.4")
    expect(Fingerprint.cpuModelOf("nothing here")).toBeUndefined()
  })

  it("median and coefficient of variation", () => {
    expect(Fingerprint.summarize([1, 1, 1, 1])).toEqual({ runs: 4, median_ms: 1, cv: 0 })
    const s = Fingerprint.summarize([9, 11, 10])
    expect(s.median_ms).toBe(10)
    expect(s.cv).toBeCloseTo(0.1, 10)
  })

  it.effect("the info JSON: fingerprint and noise test, decodable by a server with WorkerInfo", () =>
    Effect.gen(function*() {
      const noise = yield* Fingerprint.noiseTest({ runs: 5, steps: 10_000 })
      expect(noise.runs).toBe(5)
      expect(noise.cv).toBeGreaterThanOrEqual(0)
      expect(noise.median_ms).toBeGreaterThan(0)
      const info = JSON.parse(yield* Fingerprint.workerInfo({ noiseTest: false }))
      expect(Schema.decodeUnknownSync(Fingerprint.WorkerInfo)(info).noise).toBeNull()
      expect(info.cores).toBeGreaterThanOrEqual(1)
      // the server recognises it as a fingerprint
      expect(Protocol.fingerprintOf(JSON.stringify(info))).toBe(JSON.stringify(info))
    }))

  it("the CPU loop is deterministic", () => {
    expect(Fingerprint.cpuLoop(1000)).toBe(Fingerprint.cpuLoop(1000))
  })
})
