import { describe, expect, it } from "vitest"
import { decoder, toInteger } from "../src/internal/integers.js"
import * as JobsSql from "../src/sql/jobs.js"

describe("integer columns", () => {
  it("decode PostgreSQL's int8 strings and bigints to numbers, nulls kept", () => {
    const row = JobsSql.decodeJobRow({
      id: "12",
      plugin: "p",
      kind: "k",
      state: "queued",
      payload: "{}",
      result: null,
      last_error: null,
      priority: 0,
      run_at: "1764547200000",
      attempts: 1,
      max_attempts: 5,
      idempotency_key: null,
      lease_owner: "w",
      lease_token: 9007199254740991n,
      lease_expires_at: null,
      created_at: "1764547200000",
      updated_at: 1764547200001
    })
    expect(row).toMatchObject({ id: 12, run_at: 1764547200000, lease_token: 9007199254740991, lease_expires_at: null, updated_at: 1764547200001 })
    expect(typeof row.created_at).toBe("number")
  })

  it("refuse what a number cannot hold exactly", () => {
    expect(() => toInteger("9007199254740993", "token")).toThrow(/column token: 9007199254740993 is not a safe integer/)
    expect(() => decoder<{ at: number }, "at">(["at"])({ at: "1.5" })).toThrow(/column at/)
    expect(() => decoder<{ at: number }, "at">(["at"])({ at: "soon" })).toThrow(/column at/)
  })
})
