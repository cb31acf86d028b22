/**
 * A local target for the built daemon's checks: `/health` says `{"status":"ok"}` with 200, any
 * other path `{"status":"broken"}` with `downStatus` (which `setDownStatus` changes: 200 brings them up).
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface HealthTarget {
  readonly url: string
  readonly close: () => Promise<void>
  readonly setDownStatus: (status: number) => void
}

export const startHealthTarget = async (initialDownStatus: number): Promise<HealthTarget> => {
  let downStatus = initialDownStatus
  const server = http.createServer((request, response) => {
    response.statusCode = request.url === "/health" ? 200 : downStatus
    response.end(JSON.stringify({ status: request.url === "/health" ? "ok" : "broken" }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    setDownStatus: (status) => {
      downStatus = status
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
