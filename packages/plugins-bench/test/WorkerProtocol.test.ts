/** The worker's JSON is tablejohn's serde JSON, key for key (`src/shared.rs`). */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Protocol from "../src/worker/Protocol.js"

const decodeWorkerRequest = Schema.decodeUnknownEither(Protocol.WorkerRequest)

const start = "2026-12-01T10:00:00.000Z"
const hashA = "a".repeat(40)

describe("worker protocol", () => {
  it("an idle status asking for nothing: info null kept, request_run and submit_run left out", () => {
    expect(Protocol.encodeRequest({ info: null, secret: "s", status: { type: "idle" } })).toStrictEqual({
      info: null,
      secret: "s",
      status: { type: "idle" }
    })
    expect(Protocol.encodeRequest({ info: "{}", secret: "s", status: { type: "busy" }, request_run: false })).toStrictEqual({
      info: "{}",
      secret: "s",
      status: { type: "busy" }
    })
  })

  it("working: the UnfinishedRun's fields beside the type tag, output lines as [source, text] with Source numbers", () => {
    const json = Protocol.encodeRequest({
      info: null,
      secret: "s",
      request_run: true,
      status: {
        type: "working",
        id: "r1",
        hash: "a".repeat(40),
        bench_method: "internal",
        start,
        last_output: [[Protocol.Source.internal, "run r1"], [Protocol.Source.stdout, "out"], [Protocol.Source.stderr, "err"]]
      }
    })
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual({
      info: null,
      secret: "s",
      status: { type: "working", id: "r1", hash: "a".repeat(40), bench_method: "internal", start, last_output: [[0, "run r1"], [1, "out"], [2, "err"]] },
      request_run: true
    })
  })

  it("a submit: FinishedRun with end null (a worker never overrides it), exit code, output and measurements", () => {
    const json = Protocol.encodeRequest({
      info: null,
      secret: "s",
      status: { type: "idle" },
      submit_run: {
        id: "r1",
        hash: "b".repeat(40),
        bench_method: "bench repo, hash " + "c".repeat(40),
        start,
        exit_code: 0,
        output: [[1, "x"]],
        measurements: { "sort/latency": { value: 1.5, unit: "ms" } }
      }
    })
    expect(JSON.parse(JSON.stringify(json))).toStrictEqual({
      info: null,
      secret: "s",
      status: { type: "idle" },
      submit_run: {
        id: "r1",
        hash: "b".repeat(40),
        bench_method: "bench repo, hash " + "c".repeat(40),
        start,
        end: null,
        exit_code: 0,
        output: [[1, "x"]],
        measurements: { "sort/latency": { value: 1.5, unit: "ms" } }
      }
    })
    // and a server reading it with the schema gets it back
    expect(Either.isRight(decodeWorkerRequest(json))).toBe(true)
  })

  it("server responses: {} is no run and no abort; a run with either bench method; null run as serde reads it", () => {
    expect(Protocol.decodeServerResponse({})).toStrictEqual(Either.right({ abort_run: false }))
    expect(Protocol.decodeServerResponse({ run: null, abort_run: true })).toStrictEqual(Either.right({ abort_run: true }))
    const run = { id: "r", hash: "d".repeat(40), bench_method: { type: "repo", hash: "e".repeat(40) }, start }
    expect(Protocol.decodeServerResponse({ run })).toStrictEqual(Either.right({ run, abort_run: false }))
    expect(Protocol.benchMethodText(run.bench_method as Protocol.BenchMethod)).toBe(`bench repo, hash ${"e".repeat(40)}`)
    expect(Protocol.benchMethodText({ type: "internal" })).toBe("internal")
  })

  it("refuses what is not the protocol: an unknown bench method, a start that is not RFC 3339, a bad source number", () => {
    expect(Either.isLeft(Protocol.decodeServerResponse({ run: { id: "r", hash: "h", bench_method: { type: "other" }, start } }))).toBe(true)
    expect(Either.isLeft(Protocol.decodeServerResponse({ run: { id: "r", hash: "h", bench_method: { type: "internal" }, start: "yesterday" } }))).toBe(true)
    expect(Either.isLeft(decodeWorkerRequest({ info: null, secret: "s", status: { type: "working", id: "r", hash: hashA, bench_method: "internal", start, last_output: [[7, "x"]] } }))).toBe(true)
  })
})
