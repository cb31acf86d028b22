/**
 * The worker's loop (tablejohn's `worker.rs`, with what it left undone): it reports its status to
 * every server every `pingSeconds`, asks the servers for work in fair-share order, performs one run
 * at a time and submits it, retrying with backoff through dropped connections and server restarts
 * until the server acknowledges it. The submit carries the run's id every time, so the server
 * stores it once however often it arrives.
 *
 * Each server's status requests go one at a time (tablejohn's `status_lock`): otherwise a ping
 * saying "idle" could overtake the request that was just handed a run, and the server would clear
 * the reservation and give the commit to another worker.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { DaemonInfo } from "@orch/core/Plugin"
import { Cause, Duration, Effect, Fiber, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { type BenchSettings, type ParseMeasurements, performRun, type RunAbandoned } from "./Bench.js"
import { FairShare } from "./FairShare.js"
import * as Fingerprint from "./Fingerprint.js"
import { benchMethodText, type FinishedRun, type Run, Source, type WorkerStatus } from "./Protocol.js"
import { parseMeasurements } from "./Results.js"
import { OutputBuffer } from "./Runner.js"
import * as ServerClient from "./ServerClient.js"
import { defaultWorkerSection, type WorkerSection, workerName } from "./WorkerConfig.js"

export interface WorkerOptions {
  readonly section: WorkerSection
  /** How output is read into measurements (default: every format of `formats/`, detected). */
  readonly parse?: ParseMeasurements | undefined
  /** The `info` sent with every status; computed at start (fingerprint, noise test) when absent. */
  readonly info?: string | undefined
  /** Delay before the first retry of a submit (doubling up to `pingSeconds`) and of a download (doubling, 6 retries). */
  readonly retryInitial?: Duration.DurationInput | undefined
}

/** A 4xx that says the submit itself is wrong: retried a few times only (anything else is retried until it lands). */
const isRefusal = (error: ServerClient.ServerFailure) => error.status === 400 || error.status === 413 || error.status === 422
const refusalsBeforeGivingUp = 5

interface CurrentRun {
  readonly server: string
  readonly run: Run
  readonly output: OutputBuffer
  fiber?: Fiber.RuntimeFiber<FinishedRun, RunAbandoned> | undefined
  aborted: boolean
}

/** A random secret for one server, as tablejohn's worker picks one per server per process. */
export const randomSecret = (): string => randomBytes(16).toString("hex")

/** Runs the worker until interrupted (which kills a benchmark in progress). */
export const run = (options: WorkerOptions): Effect.Effect<never, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const section = options.section
    const name = workerName(section)
    const ping = Duration.seconds(section.pingSeconds)
    const settings: BenchSettings = {
      benchDir: section.benchDir,
      timeout: Duration.seconds(section.timeoutSeconds),
      command: section.command,
      parse: options.parse ?? parseMeasurements,
      downloadRetry: options.retryInitial
    }
    if (section.servers.length === 0) {
      yield* Effect.logWarning("bench worker: no servers configured (bench.worker.servers, or --server and --token): nothing to do")
      return yield* Effect.never
    }
    const info = options.info ?? (yield* Fingerprint.workerInfo({ noiseTest: section.noiseTest }))
    yield* Effect.logInfo(`bench worker ${name}: ${info}`)
    const clients = yield* Effect.forEach(section.servers, (entry) => ServerClient.make(entry, name, randomSecret()))
    const locks = new Map(yield* Effect.forEach(clients, (client) => Effect.map(Effect.makeSemaphore(1), (lock) => [client.name, lock] as const)))
    const share = new FairShare(clients)
    let current: CurrentRun | undefined

    const statusFor = (server: string): WorkerStatus => {
      if (current === undefined) return { type: "idle" }
      if (current.server !== server) return { type: "busy" }
      return {
        type: "working",
        id: current.run.id,
        hash: current.run.hash,
        bench_method: benchMethodText(current.run.bench_method),
        start: current.run.start,
        last_output: current.output.last(section.statusLines)
      }
    }

    /** One status request to `client`; an `abort_run` stops the run in progress. Callers hold the server's lock. */
    const exchange = (client: ServerClient.ServerClient, extra: Omit<ServerClient.StatusReport, "info" | "status"> = {}) =>
      Effect.gen(function*() {
        const response = yield* client.status({ info, status: statusFor(client.name), ...extra })
        if (response.abort_run && current?.server === client.name && current.fiber !== undefined && !current.aborted) {
          current.aborted = true
          yield* Effect.logWarning(`bench worker: ${client.name} asked to abort run ${current.run.id}`)
          yield* Fiber.interruptFork(current.fiber)
        }
        return response
      })

    const locked = (client: ServerClient.ServerClient) => locks.get(client.name)!.withPermits(1)

    /** A status request, one at a time per server. */
    const report = (client: ServerClient.ServerClient) => locked(client)(exchange(client))

    const pingForever = (client: ServerClient.ServerClient) =>
      Effect.gen(function*() {
        let failing = false
        for (;;) {
          const result = yield* Effect.either(report(client))
          if (result._tag === "Left" && !failing) yield* Effect.logWarning(`bench worker: ${result.left.message}`)
          if (result._tag === "Right" && failing) yield* Effect.logInfo(`bench worker: ${client.name} answers again`)
          failing = result._tag === "Left"
          yield* Effect.sleep(ping)
        }
      })

    /**
     * Submits until `client` acknowledges it (the same run id every time: the server stores it
     * once). The server's lock is held throughout, as tablejohn's worker does: a ping saying
     * "idle" without the run in between would let the server hand the commit to another worker.
     */
    const submit = (client: ServerClient.ServerClient, finished: FinishedRun) =>
      locked(client)(Effect.gen(function*() {
        let delay = Duration.decode(options.retryInitial ?? "500 millis")
        let refusals = 0
        for (let attempt = 1;; attempt++) {
          const result = yield* Effect.either(exchange(client, { submitRun: finished }))
          if (result._tag === "Right") {
            if (attempt > 1) yield* Effect.logInfo(`bench worker: run ${finished.id} submitted to ${client.name} on attempt ${attempt}`)
            return true
          }
          if (isRefusal(result.left) && ++refusals >= refusalsBeforeGivingUp) {
            yield* Effect.logError(`bench worker: ${client.name} refused run ${finished.id} ${refusals} times (${result.left.message}); dropping it`)
            return false
          }
          yield* Effect.logWarning(`bench worker: ${result.left.message}; trying again in ${Duration.format(delay)}`)
          yield* Effect.sleep(delay)
          delay = Duration.min(Duration.times(delay, 2), ping)
        }
      }))

    /** Asks the servers in fair-share order; performs and submits the first run handed out. False when none had work. */
    const round = Effect.gen(function*() {
      for (const serverName of share.order()) {
        const client = clients.find((c) => c.name === serverName)!
        const started = Date.now()
        // the run becomes current inside the lock, so that the next status already says "working"
        const asked = yield* Effect.either(locked(client)(
          Effect.gen(function*() {
            const response = yield* client.status({ info, status: statusFor(client.name), requestRun: true })
            if (response.run !== undefined) {
              current = { server: client.name, run: response.run, output: new OutputBuffer(section.outputLines), aborted: false }
            }
            return response.run
          })
        ))
        if (asked._tag === "Left") {
          yield* Effect.logWarning(`bench worker: ${asked.left.message}`)
          continue
        }
        if (asked.right === undefined) {
          share.noWork(client.name)
          continue
        }
        share.gotWork(client.name)
        const mine = current!
        yield* Effect.logInfo(`bench worker: run ${mine.run.id} of ${mine.run.hash} for ${client.name}`)
        mine.fiber = yield* Effect.fork(performRun(client, mine.run, mine.output, settings))
        const exit = yield* Fiber.await(mine.fiber)
        current = undefined
        if (exit._tag === "Failure" && mine.aborted) {
          yield* Effect.logWarning(`bench worker: run ${mine.run.id} aborted at ${client.name}'s request; not submitted`)
        } else if (exit._tag === "Failure" && Cause.failureOption(exit.cause)._tag === "Some") {
          const abandoned = Cause.failureOption(exit.cause)
          yield* Effect.logWarning(`bench worker: run ${mine.run.id} given up, not submitted: ${abandoned._tag === "Some" ? abandoned.value.reason : ""}`)
        } else if (exit._tag === "Failure") {
          // a bug of the worker's own, not the benchmark's: the server hears of it as a failed run
          const why = Cause.pretty(exit.cause)
          yield* Effect.logError(`bench worker: run ${mine.run.id} failed inside the worker: ${why}`)
          mine.output.add(Source.internal, `the worker failed: ${why.split("\n")[0]}`)
          yield* submit(client, {
            id: mine.run.id,
            hash: mine.run.hash,
            bench_method: benchMethodText(mine.run.bench_method),
            start: mine.run.start,
            exit_code: -1,
            output: mine.output.last(),
            measurements: {}
          })
        } else {
          yield* Effect.logInfo(`bench worker: run ${mine.run.id} ended with exit code ${exit.value.exit_code}`)
          yield* submit(client, exit.value)
        }
        share.charge(client.name, Date.now() - started)
        return true
      }
      return false
    })

    yield* Effect.forEach(clients, (client) => Effect.forkScoped(pingForever(client)), { discard: true })
    for (;;) {
      const worked = yield* round
      if (!worked) yield* Effect.sleep(ping)
    }
  }).pipe(Effect.scoped, Effect.annotateLogs({ plugin: "bench" })) as Effect.Effect<never, never, HttpClient.HttpClient>

/** `run` over Node's `fetch`. */
export const runWithFetch = (options: WorkerOptions): Effect.Effect<never> =>
  run(options).pipe(Effect.provide(FetchHttpClient.layer))

/**
 * A worker on the daemon's own machine, for `orch run --plugins=bench`: it talks to `url` (the
 * daemon itself) with the server's token, as any remote worker would, so a local run goes through
 * the same protocol and is stored the same way. The coordinator runs it as one of the plugin's loops.
 */
export const localWorker = (options: {
  readonly url: string
  readonly token: string
  readonly section?: WorkerSection | undefined
  readonly parse?: ParseMeasurements | undefined
}): Effect.Effect<never> => {
  const section = options.section ?? defaultWorkerSection
  return runWithFetch({
    section: {
      ...section,
      name: section.name ?? `${workerName(section)}-local`,
      servers: [{ name: "local", url: options.url, token: Redacted.make(options.token), weight: 1 }]
    },
    parse: options.parse
  })
}

/** The daemon's own URL as a client on its machine reaches it (an unspecified bind address is loopback). */
export const loopbackUrl = (info: { readonly host: string; readonly port: number }): string =>
  info.host === "0.0.0.0" || info.host === "" ? `http://127.0.0.1:${info.port}`
  : info.host === "::" ? `http://[::1]:${info.port}`
  : `http://${info.host.includes(":") ? `[${info.host}]` : info.host}:${info.port}`

/**
 * `localWorker` for one of the plugin's loops (`{ daemon: localWorkerLoop(token) }`): it finds
 * the daemon's address in `DaemonInfo`; `token` is the server's worker token (`Bench.token`).
 */
export const localWorkerLoop = (
  token: Redacted.Redacted<string>,
  options: { readonly section?: WorkerSection | undefined; readonly parse?: ParseMeasurements | undefined } = {}
): Effect.Effect<never, never, DaemonInfo> =>
  Effect.flatMap(DaemonInfo, (info) =>
    localWorker({ url: loopbackUrl(info), token: Redacted.value(token), section: options.section, parse: options.parse }))
