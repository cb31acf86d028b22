/**
 * Judging a check: the values named by `response_json_values` taken from the JSON body,
 * the seed's `success_test` (the value at `key` equals `value`) and the Gatus conditions.
 * With neither a test nor conditions, an HTTP check succeeds on a 2xx status (as
 * blackbox_exporter's default) and a TCP or TLS check on connecting.
 */
import * as Conditions from "./Conditions.js"
import type { Endpoint } from "./Endpoint.js"
import { extract, jsonPath } from "./JsonPath.js"
import type { ProbeResult } from "./Probe.js"

export interface Verdict {
  readonly success: boolean
  /** Why it failed, one line each; empty on success. */
  readonly reasons: ReadonlyArray<string>
  /** The `response_json_values`, by path (absent ones left out). */
  readonly values: Readonly<Record<string, unknown>>
}

const parseJson = (body: string | undefined): unknown => {
  if (body === undefined || body === "") return undefined
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

/** Judges `result` of a check of `endpoint`, `now` being when it ended (for certificate expiry). */
export const judge = (endpoint: Endpoint, result: ProbeResult, now: number): Verdict => {
  const json = endpoint.jsonValues.length > 0 || endpoint.successTest !== undefined ? parseJson(result.body) : undefined
  const values = extract(json, endpoint.jsonValues)
  const reasons: Array<string> = []
  if (result.error !== undefined) reasons.push(result.error)
  if (endpoint.successTest !== undefined && result.error === undefined) {
    const { key, value } = endpoint.successTest
    const actual = jsonPath(json, key)
    if (json === undefined) reasons.push(`success_test: the body is not JSON, so ${key} cannot be read`)
    else if (String(actual) !== String(value)) {
      reasons.push(`success_test: ${key} is ${actual === undefined ? "absent" : JSON.stringify(actual)}, not ${JSON.stringify(value)}`)
    }
  }
  if (endpoint.conditions.length > 0) {
    reasons.push(...Conditions.evaluate(endpoint.conditions, {
      connected: result.connected,
      status: result.status,
      body: result.body,
      responseTimeMs: result.totalMs,
      certificateExpiresInMs: result.certificateExpiresAt === undefined ? undefined : result.certificateExpiresAt - now,
      ip: result.ip
    }))
  } else if (endpoint.successTest === undefined && result.error === undefined && endpoint.target._tag === "Http") {
    if (result.status === undefined || result.status < 200 || result.status > 299) reasons.push(`status ${result.status} is not 2xx`)
  }
  return { success: reasons.length === 0, reasons, values }
}
