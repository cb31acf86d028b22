/**
 * BullMQ's side of the queue benchmark's `worker` configuration (a helper: `npm run bench`
 * skips files starting with "_"): the same end-to-end case on Redis at 127.0.0.1:6379.
 * Producers call `Queue.addBulk` with batches of jobs, one `Worker` runs a no-op
 * processor at the given concurrency; the run is over when the worker has reported every
 * job completed. The queue is obliterated before and after.
 */
import * as net from "node:net"

export const redisHost = "127.0.0.1"
export const redisPort = 6379

/** Whether Redis answers PING within half a second. */
export const redisAnswers = (): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: redisHost, port: redisPort })
    const done = (answer: boolean) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
  })

export interface BullmqRun {
  readonly jobs: number
  readonly seconds: number
  /** This process's CPU time (µs) during the run. */
  readonly cpuMicros: number
  /** The Redis server's CPU time (µs) during the run, from INFO cpu. */
  readonly redisCpuMicros: number
}

/** The Redis server's CPU time so far (µs), from INFO cpu over a plain socket. */
const redisCpuMicros = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: redisHost, port: redisPort })
    let text = ""
    socket.setTimeout(2000, () => {
      socket.destroy()
      reject(new Error("INFO cpu: no answer"))
    })
    socket.once("error", reject)
    socket.once("connect", () => socket.write("INFO cpu\r\n"))
    socket.on("data", (data) => {
      text += data.toString()
      const value = (name: string) => new RegExp(`^${name}:([0-9.]+)`, "m").exec(text)?.[1]
      const user = value("used_cpu_user")
      const sys = value("used_cpu_sys")
      if (user !== undefined && sys !== undefined && /used_cpu_sys:[0-9.]+\r\n/.test(text)) {
        socket.destroy()
        resolve((Number(user) + Number(sys)) * 1e6)
      }
    })
  })

export const runBullmq = async (options: {
  readonly jobs: number
  readonly concurrency: number
  readonly batch: number
  readonly producers: number
}): Promise<BullmqRun> => {
  const { Queue, Worker } = await import("bullmq")
  const connection = { host: redisHost, port: redisPort }
  const name = `orch-bench-${process.pid}`
  const queue = new Queue(name, { connection })
  await queue.obliterate({ force: true })
  let completed = 0
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const worker = new Worker(name, async () => {}, { connection, concurrency: options.concurrency })
  worker.on("completed", () => {
    if (++completed === options.jobs) finish()
  })
  await worker.waitUntilReady()
  await queue.waitUntilReady()
  // as for orch: the worker is up and idle before the clock starts
  await new Promise((resolve) => setTimeout(resolve, 50))
  const redisStart = await redisCpuMicros()
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const producer = async (p: number) => {
    const mine: Array<number> = []
    for (let n = p; n < options.jobs; n += options.producers) mine.push(n)
    for (let i = 0; i < mine.length; i += options.batch) {
      await queue.addBulk(mine.slice(i, i + options.batch).map((n) => ({ name: "work", data: { n, url: `https://example.com/${n}` } })))
    }
  }
  await Promise.all(Array.from({ length: options.producers }, (_, p) => producer(p)))
  await finished
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuStart)
  const redisCpu = (await redisCpuMicros()) - redisStart
  await worker.close()
  await queue.obliterate({ force: true })
  await queue.close()
  return { jobs: options.jobs, seconds, cpuMicros: cpu.user + cpu.system, redisCpuMicros: redisCpu }
}
