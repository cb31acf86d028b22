/**
 * A TCP proxy on 127.0.0.1 between a worker and its server, for tests: its target can change (a
 * server restarted on another port), and it can cut the connection of the next request that
 * carries a `submit_run` once the server has answered it and before the worker reads the answer,
 * the worst moment for a submit (the server has the run, the worker does not know it).
 */
import * as net from "node:net"

export interface Proxy {
  readonly url: string
  /** Where connections go: the server's port. */
  target: number
  /** How many submits to cut (each after the server answered, before the answer is passed on). */
  cutSubmits: number
  /** Submits cut so far. */
  cut: number
  readonly close: () => Promise<void>
}

export const startProxy = async (target: number): Promise<Proxy> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    sockets.add(client)
    const upstream = net.connect(proxy.target, "127.0.0.1")
    sockets.add(upstream)
    let tail = ""
    let cutting = false
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on("data", (chunk: Buffer) => {
      const text = tail + chunk.toString("latin1")
      tail = text.slice(-32)
      if (!cutting && proxy.cutSubmits > 0 && text.includes("\"submit_run\"")) {
        proxy.cutSubmits--
        cutting = true
      }
      upstream.write(chunk)
    })
    upstream.on("data", (chunk: Buffer) => {
      if (cutting) {
        // the server has answered the submit: the worker never sees it
        proxy.cut++
        return end()
      }
      client.write(chunk)
    })
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
  })
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done))
  const proxy: Proxy = {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    target,
    cutSubmits: 0,
    cut: 0,
    close: () =>
      new Promise((done) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => done())
      })
  }
  return proxy
}
