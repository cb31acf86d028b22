/**
 * The routes of the API described in Api.ts. They are plain router handlers rather
 * than `HttpApiBuilder` groups: on the keepalive path the builder's per-request work
 * cost as much as the lease change itself, and these answer errors in core's
 * `{ "error": … }` shape with the headers they need (Retry-After, WWW-Authenticate).
 * Allocation and keepalive, the routes clients call most and all at once, are core's hot
 * routes (served before the Effect router, with the same limits, checks and metrics).
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Access from "@orch/core/Access"
import * as Auth from "@orch/core/Auth"
import * as HotRoutes from "@orch/core/HotRoutes"
import { jsonError } from "@orch/core/Http"
import { type Lease, type Resource, Resources } from "@orch/core/Resources"
import { Effect, Layer } from "effect"
import type * as http from "node:http"
import { Allocator } from "./Allocator.js"
import type { AllocatorConfig } from "./AllocatorConfig.js"
import * as Api from "./Api.js"
import { Device, infoOf, statusOf } from "./Device.js"

const iso = (ms: number) => new Date(ms).toISOString()

export const leaseView = (lease: Lease): typeof Api.LeaseView.Type => ({
  id: lease.id,
  token: lease.token,
  holder: lease.holder,
  device: lease.resource.name,
  grantedAt: iso(lease.grantedAt),
  expiresAt: iso(lease.expiresAt),
  ...(lease.endedAt === undefined ? {} : { endedAt: iso(lease.endedAt) }),
  ...(lease.endReason === undefined ? {} : { endReason: lease.endReason })
})

/** How a device looks to a caller: its connection details only to `operate` and above. */
export const deviceView = (device: Resource, caller: Auth.Caller = Auth.anonymous): typeof Api.DeviceView.Type => ({
  ...infoOf(device),
  ...(Auth.allows(caller.role, "operate") ? {} : { connection: {} }),
  status: statusOf(device),
  state: device.state,
  ...(device.lease === undefined ? {} : {
    lease: { id: device.lease.id, holder: device.lease.holder, token: device.lease.token, expiresAt: iso(device.lease.expiresAt) }
  }),
  removed: device.retiredAt !== undefined
})

class Reply {
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}

const fail = (status: number, message: string, details?: Record<string, unknown>, headers?: Record<string, string>) =>
  Effect.fail(new Reply(
    headers === undefined ? jsonError(status, message, details) : HttpServerResponse.setHeaders(jsonError(status, message, details), headers)
  ))

/** Fails (with nothing anyone will read) when the client's connection closes; racing it stops what the client no longer waits for. */
const hangUp = (incoming: http.IncomingMessage) =>
  Effect.async<never, HotRoutes.Reply>((resume) => {
    const socket = incoming.socket
    const closed = () => resume(HotRoutes.fail(499, "the client closed the connection"))
    if (socket.destroyed) return closed()
    socket.once("close", closed)
    return Effect.sync(() => socket.off("close", closed))
  })

/** The holder whose leases a caller may touch: its token's name, or any (undefined) for an admin. */
const holderOf = (caller: Auth.Caller) => caller.role === "admin" ? undefined : caller.name

const param = (name: string) => Effect.map(HttpRouter.RouteContext, (context) => context.params[name] ?? "")

const leaseErrors = <A, R>(effect: Effect.Effect<A, any, R>) =>
  effect.pipe(
    Effect.catchTags({
      LeaseNotFound: (error: { message: string }) => fail(404, error.message),
      LeaseGone: (error: { message: string; endReason?: string | undefined }) =>
        fail(410, error.message, error.endReason === undefined ? {} : { endReason: error.endReason }),
      LeaseHolderMismatch: (error: { message: string }) => fail(403, error.message),
      ResourceNotFound: (error: { name: string }) => fail(404, `no device ${JSON.stringify(error.name)}`),
      DeviceNotDrained: (error: { message: string }) => fail(409, error.message)
    })
  )

/** Runs a handler: a `Reply` is its answer; anything else unexpected is a logged 500. */
const handle = <R>(effect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, R>) =>
  effect.pipe(
    Effect.catchAll((error) =>
      error instanceof Reply
        ? Effect.succeed(error.response)
        : Effect.as(Effect.logError("allocator request failed", error), jsonError(500, "internal error: see the daemon's log"))
    ),
    Effect.catchAllDefect((defect) =>
      Effect.as(Effect.logError("allocator request failed", defect), jsonError(500, "internal error: see the daemon's log"))
    )
  )

const json = (value: unknown) => HttpServerResponse.unsafeJson(value)

/**
 * What the routes need beyond the default (GET: `read`; leases, other POSTs and DELETEs:
 * `operate`). Core's gate checks the token before a route runs; a route then reads who
 * called (`Auth.caller`): an `operate` token acts as the holder it is named for.
 */
export const access: ReadonlyArray<Access.Rule> = [
  { route: "POST /devices/:name/drain", role: "admin" },
  { route: "POST /devices/:name/undrain", role: "admin" }
]

/**
 * The allocator's routes, relative to where core mounts them (`/allocator`). The
 * allocator itself comes from the plugin's services, per request.
 */
export const routes = (config: AllocatorConfig) => {
  const who = Auth.caller
  const maxTtl = config.maxTtlSeconds
  const retryAfter = config.retryAfterSeconds

  // a hot route too: 2,000 clients waiting at once each cost the Effect router's share (see HotRoutes)
  const allocate = HotRoutes.add({
    method: "POST",
    path: "/leases",
    body: { schema: Api.AllocateBody },
    handle: ({ body: request, caller: me, incoming }) => {
      const holder = holderOf(me)
      if (holder !== undefined && holder !== request.holder) {
        return HotRoutes.fail(403, `this token acts as holder ${JSON.stringify(holder)}, not ${JSON.stringify(request.holder)}`)
      }
      if (request.ttlSeconds > maxTtl) return HotRoutes.fail(400, `ttlSeconds: at most ${maxTtl}`, { field: "ttlSeconds" })
      const waitSeconds = request.waitSeconds ?? 0
      if (waitSeconds > config.maxWaitSeconds) {
        return HotRoutes.fail(400, `waitSeconds: at most ${config.maxWaitSeconds}`, { field: "waitSeconds" })
      }
      const allocation = Effect.flatMap(Allocator, (allocator) =>
        allocator.allocate({
          type: request.type,
          labels: request.labels,
          holder: request.holder,
          ttlMs: request.ttlSeconds * 1000,
          waitMs: waitSeconds * 1000
        })).pipe(
          Effect.map((grant) =>
            HotRoutes.json({
              id: grant.lease.id,
              token: grant.lease.token,
              holder: grant.lease.holder,
              device: grant.device,
              expiresAt: iso(grant.lease.expiresAt)
            } satisfies typeof Api.LeaseGranted.Type)
          ),
          Effect.catchTags({
            // nothing in the inventory fits: asking again later would not help, so no Retry-After
            AllocationDenied: (denied) =>
              denied.reason === "no_match"
                ? HotRoutes.fail(404, denied.message, { reason: denied.reason, counts: denied.counts })
                : HotRoutes.fail(409, denied.message, { reason: denied.reason, counts: denied.counts, retryAfterSeconds: retryAfter }, {
                  "retry-after": String(retryAfter)
                }),
            SqlError: Effect.die
          })
        )
      // a waiting client that hangs up leaves the line at once
      return waitSeconds > 0 ? Effect.raceFirst(allocation, hangUp(incoming)) : allocation
    }
  })

  // the hottest route (every lease's client calls it every few seconds): served before the Effect router
  const keepalive = HotRoutes.add({
    method: "POST",
    path: "/leases/:id/keepalive",
    body: { schema: Api.KeepaliveBody, optional: true },
    handle: ({ body, caller: me, params: { id } }) =>
      body.ttlSeconds !== undefined && body.ttlSeconds > maxTtl
        ? HotRoutes.fail(400, `ttlSeconds: at most ${maxTtl}`, { field: "ttlSeconds" })
        : Effect.flatMap(Allocator, (allocator) =>
          allocator.keepalive(id!, {
            ttlMs: body.ttlSeconds === undefined ? undefined : body.ttlSeconds * 1000,
            holder: holderOf(me)
          })).pipe(
          Effect.map((expiresAt) => HotRoutes.json({ id, expiresAt: iso(expiresAt) })),
          Effect.catchTags({
            LeaseNotFound: (error) => HotRoutes.fail(404, error.message),
            LeaseGone: (error) => HotRoutes.fail(410, error.message, error.endReason === undefined ? {} : { endReason: error.endReason }),
            LeaseHolderMismatch: (error) => HotRoutes.fail(403, error.message),
            SqlError: Effect.die
          })
        )
  })

  const release = handle(Effect.gen(function*() {
    const me = yield* who
    const id = yield* param("id")
    const allocator = yield* Allocator
    const lease = yield* leaseErrors(allocator.release(id, { holder: holderOf(me) }))
    return json(leaseView(lease))
  }))

  const listLeases = handle(Effect.gen(function*() {
    const params = yield* HttpServerRequest.ParsedSearchParams
    const one = (name: string) => {
      const value = params[name]
      return typeof value === "string" ? value : undefined
    }
    const resources = yield* Resources
    const leases = yield* resources.leases({
      kind: Device,
      active: one("all") === "true" ? undefined : true,
      holder: one("holder"),
      resource: one("device"),
      limit: 1000
    })
    return json(leases.map(leaseView))
  }))

  const listDevices = handle(Effect.gen(function*() {
    const me = yield* who
    const allocator = yield* Allocator
    return json((yield* allocator.devices).map((device) => deviceView(device, me)))
  }))

  const steer = (f: (allocator: typeof Allocator.Service, name: string) => Effect.Effect<Resource, unknown>) =>
    // admin only: core's gate has checked that (`access`)
    handle(Effect.gen(function*() {
      const name = yield* param("name")
      return json(deviceView(yield* leaseErrors(f(yield* Allocator, name))))
    }))

  return Layer.mergeAll(
    allocate,
    keepalive,
    HttpLayerRouter.add("DELETE", "/leases/:id", release),
    HttpLayerRouter.add("GET", "/leases", listLeases),
    HttpLayerRouter.add("GET", "/devices", listDevices),
    HttpLayerRouter.add("POST", "/devices/:name/drain", steer((allocator, name) => allocator.drain(name))),
    HttpLayerRouter.add("POST", "/devices/:name/undrain", steer((allocator, name) => allocator.undrain(name)))
  )
}
