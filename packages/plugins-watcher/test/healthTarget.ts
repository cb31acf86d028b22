/** A local target for the built daemon's checks: `/health` says `{"status":"ok"}` with 200, any other path `{"status":"broken"}` with `downStatus`. */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface HealthTarget {
  readonly url: string
  readonly close: () => Promise<void>
}

export const startHealthTarget = async (downStatus: number): Promise<HealthTarget> => {
  const server = http.createServer((request, response) => {
    response.statusCode = request.url === "/health" ? 200 : downStatus
    response.end(JSON.stringify({ status: request.url === "/health" ? "ok" : "broken" }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
