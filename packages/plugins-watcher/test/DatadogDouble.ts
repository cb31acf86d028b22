/**
 * A test double of Datadog's Events API v1 on 127.0.0.1: `POST /api/v1/events` with the
 * key in the `DD-API-KEY` header or the `api_key` URL parameter, 202 and the event
 * echoed as Datadog does, 403 `{"errors":["Forbidden"]}` for a wrong key, 400 for a body
 * Datadog refuses (no title or text, text over 4,000 characters). It can answer 500 to
 * the next few requests, and also takes plain webhooks at `/hook`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface DatadogDouble {
  readonly url: string
  readonly events: Array<Record<string, any>>
  readonly hooks: Array<Record<string, any>>
  /** How each request authenticated: "header", "param" or "none". */
  readonly auth: Array<string>
  failNext: number
  readonly close: () => Promise<void>
}

export const startDatadogDouble = (apiKey: string): Promise<DatadogDouble> =>
  new Promise((resolve) => {
    let nextId = 1
    const double: Omit<DatadogDouble, "url" | "close"> = { events: [], hooks: [], auth: [], failNext: 0 }
    const server = http.createServer((request, response) => {
      let text = ""
      request.on("data", (chunk) => text += chunk)
      request.on("end", () => {
        const url = new URL(request.url ?? "/", "http://127.0.0.1")
        const reply = (status: number, body: unknown) => {
          response.writeHead(status, { "content-type": "application/json" })
          response.end(JSON.stringify(body))
        }
        if (double.failNext > 0) {
          double.failNext--
          return reply(500, { errors: ["Internal Server Error"] })
        }
        if (url.pathname === "/hook") {
          double.hooks.push(JSON.parse(text))
          return reply(200, {})
        }
        if (request.method !== "POST" || url.pathname !== "/api/v1/events") return reply(404, { errors: ["Not found"] })
        const header = request.headers["dd-api-key"]
        const param = url.searchParams.get("api_key")
        double.auth.push(header !== undefined ? "header" : param !== null ? "param" : "none")
        if ((header ?? param) !== apiKey) return reply(403, { errors: ["Forbidden"] })
        let body: Record<string, any>
        try {
          body = JSON.parse(text)
        } catch {
          return reply(400, { errors: ["Invalid JSON"] })
        }
        if (typeof body.title !== "string" || typeof body.text !== "string") return reply(400, { errors: ["Event title and text are required"] })
        if (body.text.length > 4000) return reply(400, { errors: ["Event text is too long"] })
        double.events.push(body)
        const id = nextId++
        reply(202, {
          status: "ok",
          event: {
            id, id_str: String(id), title: body.title, text: body.text, date_happened: body.date_happened ?? Math.floor(Date.now() / 1000),
            handle: null, priority: body.priority ?? null, related_event_id: null, tags: body.tags ?? null,
            url: `https://app.datadoghq.com/event/event?id=${id}`
          }
        })
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve(Object.assign(double as DatadogDouble, {
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections()
          server.close(() => done())
        })
      }))
    })
  })
