/**
 * A test double of AWS on 127.0.0.1 for the two calls the watcher makes, in the
 * protocols the SDK v3 clients speak (read from their serializers):
 *
 * - EventBridge `PutEvents`: AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`,
 *   `{"Entries": [...]}` in, `{"FailedEntryCount", "Entries": [{EventId} | {ErrorCode, ErrorMessage}]}` out.
 * - CloudWatch `PutMetricData`: AWS JSON 1.0 (query-compatible),
 *   `X-Amz-Target: GraniteServiceVersion20100801.PutMetricData`, `{"Namespace", "MetricData"}`
 *   in (gzipped when large), `{}` out.
 *
 * Every request must carry a SigV4 `Authorization` header of the right shape
 * (`AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
 * SignedHeaders=..., Signature=<64 hex>`) with a known key id; it records what it got.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"

export const sigV4Shape =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), Signature=([0-9a-f]{64})$/

export interface Signed {
  readonly key: string
  readonly date: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: ReadonlyArray<string>
}

export interface AwsDouble {
  readonly url: string
  /** Each PutEvents call's entries. */
  readonly putEvents: Array<Array<Record<string, any>>>
  /** Each PutMetricData call's body. */
  readonly putMetricData: Array<{ Namespace: string; MetricData: Array<Record<string, any>> }>
  readonly signed: Array<Signed>
  /** The ErrorCode to refuse an entry with, or undefined to take it. */
  failEntry: (entry: Record<string, any>) => string | undefined
  /** Answer the next calls with HTTP 500. */
  failNext: number
  readonly close: () => Promise<void>
}

export const startAwsDouble = (keyIds: ReadonlyArray<string>): Promise<AwsDouble> =>
  new Promise((resolve) => {
    let nextId = 1
    const double: Omit<AwsDouble, "url" | "close"> = { putEvents: [], putMetricData: [], signed: [], failEntry: () => undefined, failNext: 0 }
    const server = http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const target = String(request.headers["x-amz-target"] ?? "")
        const json11 = target.startsWith("AWSEvents.")
        const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          response.writeHead(status, { "content-type": `application/x-amz-json-${json11 ? "1.1" : "1.0"}`, "x-amzn-requestid": `req-${nextId++}`, ...headers })
          response.end(JSON.stringify(body))
        }
        const error = (status: number, type: string, message: string) => reply(status, { __type: type, message }, { "x-amzn-query-error": `${type};Sender` })
        const shape = sigV4Shape.exec(String(request.headers.authorization ?? ""))
        if (!shape) return error(403, "IncompleteSignatureException", "Authorization header is not a SigV4 header")
        const [, key, date, region, service, signedHeaders] = shape
        double.signed.push({ key: key!, date: date!, region: region!, service: service!, signedHeaders: signedHeaders!.split(";") })
        if (!keyIds.includes(key!)) return error(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
        if (!double.signed.at(-1)!.signedHeaders.includes("x-amz-date") || !/^\d{8}T\d{6}Z$/.test(String(request.headers["x-amz-date"]))) {
          return error(403, "IncompleteSignatureException", "x-amz-date missing or not signed")
        }
        if (double.failNext > 0) {
          double.failNext--
          return error(500, "InternalFailure", "try again")
        }
        let raw = Buffer.concat(chunks)
        if (request.headers["content-encoding"] === "gzip") raw = zlib.gunzipSync(raw)
        let body: Record<string, any>
        try {
          body = JSON.parse(raw.toString("utf8"))
        } catch {
          return error(400, "SerializationException", "not JSON")
        }
        if (target === "AWSEvents.PutEvents" && service === "events" && request.headers["content-type"] === "application/x-amz-json-1.1") {
          const entries: Array<Record<string, any>> = body.Entries ?? []
          if (entries.length === 0 || entries.length > 10) return error(400, "ValidationException", "1 to 10 entries")
          double.putEvents.push(entries)
          const results = entries.map((entry) => {
            const code = double.failEntry(entry)
            return code === undefined ? { EventId: `event-${nextId++}` } : { ErrorCode: code, ErrorMessage: `refused: ${code}` }
          })
          return reply(200, { FailedEntryCount: results.filter((r) => "ErrorCode" in r).length, Entries: results })
        }
        if (target === "GraniteServiceVersion20100801.PutMetricData" && service === "monitoring" && request.headers["content-type"] === "application/x-amz-json-1.0") {
          if (typeof body.Namespace !== "string" || !Array.isArray(body.MetricData) || body.MetricData.length > 1000) {
            return error(400, "InvalidParameterValue", "Namespace and 1 to 1000 MetricData")
          }
          double.putMetricData.push(body as any)
          return reply(200, {})
        }
        return error(400, "UnknownOperationException", `${target} for ${service}`)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve(Object.assign(double as AwsDouble, {
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
      }))
    })
  })
