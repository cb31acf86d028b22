/**
 * The `gce` instance provider over `@google-cloud/compute` (REST). The client is
 * loaded on first use only: it stays outside orch's bundle and costs nothing to
 * commands that never touch Compute Engine.
 */
import { Duration, Effect, Layer } from "effect"
import { createRequire } from "node:module"
import type { WatchdogConfig } from "./Config.js"
import {
  type CreateRequest,
  type Instance,
  InstanceProvider,
  type InstanceProviderService,
  type OperationState,
  ProviderError,
  toStatus
} from "./Instances.js"

type Compute = typeof import("@google-cloud/compute")

interface Clients {
  readonly instances: InstanceType<Compute["InstancesClient"]>
  readonly operations: InstanceType<Compute["ZoneOperationsClient"]>
}

/**
 * An auth client that adds no credentials, from the google-auth-library the compute
 * client itself uses (resolved through google-gax, so both agree on the class).
 */
const passThroughAuth = (): unknown => {
  const here = createRequire(import.meta.url)
  const gax = createRequire(createRequire(here.resolve("@google-cloud/compute")).resolve("google-gax"))
  const { PassThroughClient } = gax("google-auth-library") as { PassThroughClient: new() => unknown }
  return new PassThroughClient()
}

const message = (cause: unknown): string => {
  const error = cause as { message?: string; code?: number | string; details?: string }
  const text = error?.details || error?.message || String(cause)
  return error?.code !== undefined ? `${text} (code ${error.code})` : text
}

const isNotFound = (cause: unknown) => {
  const code = (cause as { code?: number | string })?.code
  return code === 404 || code === 5 || code === "NOT_FOUND"
}

export const make = (config: WatchdogConfig): InstanceProviderService => {
  const gce = config.gce
  const project = gce.project ?? ""
  let clients: Promise<Clients> | undefined
  const connect = () =>
    (clients ??= import("@google-cloud/compute").then((compute) => {
      const options: Record<string, any> = { fallback: true, projectId: project }
      if (gce.apiEndpoint !== undefined) options.apiEndpoint = gce.apiEndpoint
      if (gce.port !== undefined) options.port = gce.port
      if (gce.protocol === "http") options.protocol = "http"
      if (gce.credentials === "none") options.authClient = passThroughAuth()
      return {
        instances: new compute.InstancesClient(options),
        operations: new compute.ZoneOperationsClient(options)
      }
    }))

  const call = <A>(operation: string, instance: string | undefined, f: (clients: Clients) => Promise<A>) =>
    Effect.tryPromise({
      try: () => connect().then(f),
      catch: (cause) =>
        new ProviderError({
          operation,
          instance,
          message: `${operation}${instance ? ` ${instance}` : ""}: ${message(cause)}`,
          notFound: isNotFound(cause)
        })
    })

  /** Waits for a zone operation up to the configured timeout; its error, if any, is ours. */
  const settle = (operation: string, instance: string, zone: string, started: unknown) =>
    Effect.gen(function*() {
      const op = (started as Array<{ latestResponse?: { name?: string; status?: string; error?: unknown } }>)[0]?.latestResponse
      let current: { name?: string | null; status?: unknown; error?: unknown } | undefined = op
      // wall time on purpose: this bounds waiting on the network, not a decision of the controller
      const deadline = Date.now() + Duration.toMillis(Duration.millis(config.controller.operationTimeoutMs))
      while (current?.name && current.status !== "DONE" && Date.now() < deadline) {
        const name = current.name
        const [waited] = yield* call(`${operation} (wait)`, instance, (c) => c.operations.wait({ project, zone, operation: name }))
        current = waited as typeof current
      }
      const errors = (current?.error as { errors?: Array<{ message?: string; code?: string }> } | undefined)?.errors ?? []
      if (errors.length > 0) {
        return yield* new ProviderError({
          operation,
          instance,
          message: `${operation} ${instance}: ${errors.map((e) => e.message ?? e.code).join("; ")}`
        })
      }
      return (current?.status === "DONE" || current === undefined ? "done" : "pending") as OperationState
    })

  const list: InstanceProviderService["list"] = (zones) =>
    Effect.forEach(zones, (zone) =>
      call("list", undefined, (c) => c.instances.list({ project, zone })).pipe(
        Effect.map(([items]) =>
          items.map((item): Instance => ({
            name: item.name ?? "",
            zone,
            status: toStatus(item.status),
            id: String(item.id ?? "")
          }))
        )
      )).pipe(Effect.map((lists) => lists.flat()))

  const image = (name: string) => (name.startsWith("projects/") || name.startsWith("global/") ? name : `projects/${project}/global/images/${name}`)

  const create: InstanceProviderService["create"] = (request: CreateRequest) =>
    Effect.gen(function*() {
      if (gce.image === undefined) {
        return yield* new ProviderError({ operation: "create", instance: request.name, message: "gce.image is not configured" })
      }
      const instanceResource = {
        name: request.name,
        machineType: `zones/${request.zone}/machineTypes/${gce.machineType}`,
        scheduling: { preemptible: gce.preemptible, automaticRestart: !gce.preemptible, onHostMaintenance: gce.preemptible ? "TERMINATE" : "MIGRATE" },
        disks: [{
          boot: true,
          autoDelete: true,
          initializeParams: { sourceImage: image(gce.image), diskSizeGb: String(gce.diskSizeGb) }
        }],
        networkInterfaces: [{ network: gce.network, accessConfigs: [{ name: "External NAT", type: "ONE_TO_ONE_NAT" }] }],
        serviceAccounts: gce.serviceAccount === undefined ? [] : [{ email: gce.serviceAccount, scopes: [...gce.scopes] }],
        metadata: { items: Object.entries(request.metadata).map(([key, value]) => ({ key, value })) },
        labels: { "managed-by": "orch-watchdog" }
      }
      const started = yield* call("create", request.name, (c) => c.instances.insert({ project, zone: request.zone, instanceResource }))
      return yield* settle("create", request.name, request.zone, started)
    })

  const mutate = (operation: "start" | "stop" | "reset" | "resume" | "delete") => (instance: Instance) =>
    call(operation, instance.name, (c) => c.instances[operation]({ project, zone: instance.zone, instance: instance.name })).pipe(
      Effect.flatMap((started) => settle(operation, instance.name, instance.zone, started)),
      // already gone is what a delete wants
      Effect.catchIf((error) => operation === "delete" && error.notFound === true, () => Effect.succeed("done" as OperationState))
    )

  const close = Effect.promise(async () => {
    if (clients === undefined) return
    const opened = await clients.catch(() => undefined)
    await Promise.all([opened?.instances.close(), opened?.operations.close()])
  })

  return {
    name: "gce",
    close,
    list,
    create,
    start: mutate("start"),
    stop: mutate("stop"),
    reset: mutate("reset"),
    resume: mutate("resume"),
    remove: mutate("delete")
  }
}

/** Manages nothing: the agents are always on. */
export const staticProvider: InstanceProviderService = {
  name: "static",
  close: Effect.void,
  list: () => Effect.succeed([]),
  create: (request) => Effect.fail(new ProviderError({ operation: "create", instance: request.name, message: "the static provider manages no instances" })),
  start: () => Effect.succeed("done"),
  stop: () => Effect.succeed("done"),
  reset: () => Effect.succeed("done"),
  resume: () => Effect.succeed("done"),
  remove: () => Effect.succeed("done")
}

export const layer = (config: WatchdogConfig): Layer.Layer<InstanceProvider> =>
  Layer.succeed(InstanceProvider, config.provider === "gce" ? make(config) : staticProvider)
