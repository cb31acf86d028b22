/** `orch allocator …`: the CLI, a client of the running daemon's HTTP API (core's `DaemonClient`). */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cli from "@orch/core/Cli"
import { DaemonClient, type DaemonClientError, type DaemonClientService, DaemonError } from "@orch/core/DaemonClient"
import { Config as EffectConfig, Data, Deferred, Duration, Effect, Fiber, HashMap, Option, Schedule } from "effect"
import { spawn } from "node:child_process"
import * as os from "node:os"
import type * as Api from "./Api.js"
import { deviceEnvironment } from "./Environment.js"

/** The allocator's commands take the token from $ORCH_ALLOCATOR_TOKEN too, as they did before core's $ORCH_TOKEN. */
const command: typeof Cli.command = (name, config, handler) => Cli.command(name, config, handler, { tokenEnv: ["ORCH_ALLOCATOR_TOKEN"] })

class LeaseLost extends Data.TaggedError("LeaseLost")<{ readonly message: string }> {}

/** "90", "90s", "1500ms", "5m", "2h" → ms. */
export const parseDuration = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) return undefined
  const unit = match[2] ?? "s"
  return Number(match[1]) * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000)
}

const durationOption = (name: string, description: string, fallback: string) =>
  Options.text(name).pipe(
    Options.withDescription(`${description} (e.g. 90s, 5m; default ${fallback})`),
    Options.withDefault(fallback),
    Options.mapEffect((text) => {
      const ms = parseDuration(text)
      return ms === undefined
        ? Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: ${JSON.stringify(text)} is not a duration like 90s, 5m or 1h`)))
        : Effect.succeed(ms)
    })
  )

const request = {
  type: Options.text("type").pipe(Options.withDescription("Device type"), Options.optional),
  label: Options.keyValueMap("label").pipe(Options.withDescription("A label the device must have, key=value (repeatable)"), Options.optional),
  holder: Options.text("holder").pipe(
    Options.withDescription("Holder name (default $ORCH_ALLOCATOR_HOLDER, else user@host)"),
    Options.withFallbackConfig(EffectConfig.string("ORCH_ALLOCATOR_HOLDER")),
    Options.withDefault(`${os.userInfo().username}@${os.hostname()}`)
  ),
  ttl: durationOption("ttl", "Lease lifetime between keepalives", "60s"),
  wait: durationOption("wait", "Wait this long for a device instead of failing at once", "0s")
}

type RequestArgs = Command.Command.ParseConfig<typeof request>

const allocateBody = (args: RequestArgs) => ({
  ...Option.match(args.type, { onNone: () => ({}), onSome: (type) => ({ type }) }),
  ...Option.match(args.label, { onNone: () => ({}), onSome: (map) => ({ labels: Object.fromEntries(HashMap.toEntries(map)) }) }),
  holder: args.holder,
  ttlSeconds: args.ttl / 1000,
  ...(args.wait > 0 ? { waitSeconds: args.wait / 1000 } : {})
})

const log = (line: string) => Effect.sync(() => process.stderr.write(`orch allocator: ${line}\n`))

/**
 * Allocates, runs `use` while a fiber keeps the lease alive every third of its TTL, and
 * releases it whatever happens (success, failure, interruption). `lost` completes if a
 * keepalive hears that the lease is gone.
 */
const withLease = <A, E>(
  client: DaemonClientService,
  args: RequestArgs,
  use: (lease: typeof Api.LeaseGranted.Type, lost: Deferred.Deferred<string>) => Effect.Effect<A, E>
) =>
  Effect.acquireUseRelease(
    // a waiting allocation answers within its wait: the timeout is on top of it
    client.request<typeof Api.LeaseGranted.Type>("POST", "/allocator/leases", {
      body: allocateBody(args),
      timeout: Duration.millis(args.wait + 30_000)
    }),
    (lease) =>
      Effect.gen(function*() {
        const lost = yield* Deferred.make<string>()
        const keepalive = client.post(`/allocator/leases/${lease.id}/keepalive`, {}).pipe(
          Effect.catchAll((error: DaemonClientError) =>
            error instanceof DaemonError && (error.status === 410 || error.status === 404)
              ? Effect.zipRight(Deferred.succeed(lost, error.message), Effect.interrupt)
              : log(`keepalive failed (will retry): ${error.message}`)
          ),
          Effect.repeat(Schedule.spaced(Duration.millis(Math.max(200, args.ttl / 3)))),
          Effect.delay(Duration.millis(Math.max(200, args.ttl / 3)))
        )
        const keeper = yield* Effect.fork(keepalive)
        return yield* use(lease, lost).pipe(Effect.ensuring(Fiber.interrupt(keeper)))
      }),
    (lease) =>
      client.request("DELETE", `/allocator/leases/${lease.id}`).pipe(
        Effect.zipRight(log(`released ${lease.device.name} (lease ${lease.id})`)),
        Effect.catchAll((error) => log(`release of lease ${lease.id}: ${error.message}`))
      )
  )

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of a table"))

const devices = command("devices", { json }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const rows = yield* client.get<ReadonlyArray<typeof Api.DeviceView.Type>>("/allocator/devices")
    if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
    yield* Cli.print(Cli.table(
      ["NAME", "TYPE", "STATUS", "HOLDER", "EXPIRES", "LABELS"],
      rows.map((d) => [
        d.name,
        d.type,
        d.status,
        d.lease?.holder,
        d.lease?.expiresAt,
        Object.entries(d.labels).map(([k, v]) => `${k}=${v}`).join(",")
      ])
    ))
  })).pipe(Command.withDescription("List devices with their status and holder"))

const leases = command("leases", { all: Options.boolean("all").pipe(Options.withDescription("Ended leases too")), json }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const rows = yield* client.get<ReadonlyArray<typeof Api.LeaseView.Type>>("/allocator/leases", { all: args.all ? "true" : undefined })
    if (args.json) return yield* Cli.print(JSON.stringify(rows, null, 2))
    yield* Cli.print(Cli.table(
      ["ID", "DEVICE", "HOLDER", "TOKEN", "GRANTED", "EXPIRES", "ENDED"],
      rows.map((l) => [l.id, l.device, l.holder, l.token, l.grantedAt, l.expiresAt, l.endedAt === undefined ? undefined : `${l.endedAt} (${l.endReason})`])
    ))
  })).pipe(Command.withDescription("List open leases (--all: ended ones too)"))

const allocate = command("allocate", { ...request }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    yield* withLease(client, args, (lease, lost) =>
      Effect.gen(function*() {
        yield* Cli.print(JSON.stringify(lease, null, 2))
        yield* log(`holding ${lease.device.name} (lease ${lease.id}); Ctrl-C releases it`)
        const reason = yield* Deferred.await(lost)
        return yield* new LeaseLost({ message: `lost the lease: ${reason}` })
      }))
  })).pipe(Command.withDescription("Lease a device, print it and keep the lease alive until Ctrl-C"))

const runCommand = command(
  "run",
  { ...request, command: Args.text({ name: "command" }).pipe(Args.atLeast(1)) },
  (args) =>
    Effect.gen(function*() {
      const client = yield* DaemonClient
      const code = yield* withLease(client, args, (lease, lost) =>
        Effect.gen(function*() {
          const env = {
            ...process.env,
            ...deviceEnvironment(lease.device),
            ORCH_LEASE_ID: lease.id,
            ORCH_LEASE_TOKEN: String(lease.token),
            ORCH_LEASE_HOLDER: lease.holder,
            ORCH_ALLOCATOR_URL: client.url
          }
          yield* log(`leased ${lease.device.name} (lease ${lease.id}); running ${args.command.join(" ")}`)
          const [file, ...rest] = args.command
          const exited = yield* Deferred.make<number>()
          const child = yield* Effect.sync(() => {
            const child = spawn(file!, rest, { env, stdio: "inherit" })
            child.once("error", (error) => {
              process.stderr.write(`orch allocator: cannot run ${file}: ${error.message}\n`)
              Deferred.unsafeDone(exited, Effect.succeed(127))
            })
            child.once("exit", (code, signal) => Deferred.unsafeDone(exited, Effect.succeed(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1))))
            return child
          })
          const stop = Effect.sync(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
          })
          return yield* Effect.raceFirst(
            Deferred.await(exited),
            Effect.flatMap(Deferred.await(lost), (reason) =>
              Effect.zipRight(log(`lost the lease (${reason}): stopping the command`), Effect.zipRight(stop, Effect.as(Deferred.await(exited), 1))))
          ).pipe(Effect.onInterrupt(() => Effect.zipRight(stop, Deferred.await(exited))))
        }))
      if (code !== 0) process.exitCode = code
    })
).pipe(Command.withDescription("Run a command while holding a device, with its details in ORCH_DEVICE_* variables; releases it on exit"))

const release = command("release", { id: Args.text({ name: "lease-id" }) }, (args) =>
  Effect.gen(function*() {
    const client = yield* DaemonClient
    const lease = yield* client.request<typeof Api.LeaseView.Type>("DELETE", `/allocator/leases/${encodeURIComponent(args.id)}`)
    yield* Cli.print(`released ${lease.device} (lease ${lease.id})`)
  })).pipe(Command.withDescription("Release a lease"))

const steer = (verb: "drain" | "undrain", description: string) =>
  command(verb, { device: Args.text({ name: "device" }) }, (args) =>
    Effect.gen(function*() {
      const client = yield* DaemonClient
      const device = yield* client.request<typeof Api.DeviceView.Type>("POST", `/allocator/devices/${encodeURIComponent(args.device)}/${verb}`)
      yield* Cli.print(`${device.name}: ${device.status}${device.lease ? ` (leased to ${device.lease.holder} until ${device.lease.expiresAt})` : ""}`)
    })).pipe(Command.withDescription(description))

export const commands = [
  devices,
  leases,
  allocate,
  runCommand,
  release,
  steer("drain", "Take a device out of service once its current lease ends"),
  steer("undrain", "Bring a drained or quarantined device back (cleaned first when its type has a cleaning command)")
]
