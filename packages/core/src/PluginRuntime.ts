/**
 * A plugin inside the running daemon: its services built (and rebuilt) under the
 * supervisor, its loops started on them, and its routes mounted under `/<name>/` with
 * the services provided per request. What the contract in `Plugin.ts` promises, kept.
 *
 * Each running plugin has a `Running` handle: the context its services provided while
 * they are up, nothing while they start, restart or have failed. Routes read it on every
 * request (a field read, no Layer build), so swapping the services never touches the router.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Clock, Context, Data, Deferred, Effect, FiberRef, HashMap, Layer, Option, type Scope } from "effect"
import * as HotRoutes from "./HotRoutes.js"
import { replyResponse } from "./Http.js"
import * as JobWorker from "./JobWorker.js"
import * as Plugin from "./Plugin.js"
import * as Singletons from "./Singletons.js"
import { Supervisor } from "./Supervisor.js"

/** A plugin running in this daemon. */
export interface Running {
  readonly plugin: Plugin.Plugin
  readonly config: unknown
  /** The supervisor's name for the plugin's services: `<plugin>:services`. */
  readonly servicesName: string
  /** What the services provide, with `PluginContext`, while they are up. */
  readonly current: () => Context.Context<unknown> | undefined
  /** Completes when the first attempt to build the services has ended, either way. */
  readonly started: Effect.Effect<void>
  /** Builds the services and keeps them up under the supervisor, until the scope closes; loops follow them. */
  readonly start: Effect.Effect<void, never, Plugin.DaemonServices | Scope.Scope>
}

/** What `PluginContext.restart` fails the services with, so the supervisor restarts them. */
export class PluginRestart extends Data.TaggedError("PluginRestart")<{ readonly message: string }> {}

/** The name under which the supervisor keeps `plugin`'s services (and /readyz shows them). */
export const servicesName = (plugin: string) => `${plugin}:services`

const runLoop = (name: string, loop: Plugin.Loop<any>) =>
  Effect.flatMap(Supervisor, (supervisor) => {
    if (Effect.isEffect(loop)) return supervisor.loop(name, loop)
    const options = loop as Exclude<Plugin.Loop<any>, Effect.Effect<any, any, any>>
    if (options.singleton === true) return runSingleton(name, options, supervisor)
    if ("daemon" in options) return supervisor.daemon(name, options.daemon, { backoff: options.backoff })
    return supervisor.loop(name, options.iteration, { every: options.every, backoff: options.backoff })
  })

/**
 * A loop that runs on one node of the cluster: this node's election for it runs in the
 * services' scope (giving the lease up when they stop); the iterations wait for the lease,
 * or for the drain, and are interrupted when the lease is lost. Its status shows in the
 * loop's entry of `/readyz`.
 */
const runSingleton = (
  name: string,
  loop: Extract<Plugin.Loop<any>, { readonly singleton: true }>,
  supervisor: Context.Tag.Service<Supervisor>
) =>
  Effect.gen(function*() {
    const { ownerId } = yield* Plugin.PluginContext
    const election = yield* Singletons.elect({ name, holder: ownerId, onStatus: (status) => supervisor.setSingleton(name, status) })
    if ("daemon" in loop) {
      // a term that ends takes the daemon down with it; the next term starts it again
      const held: Effect.Effect<unknown, unknown, any> = Effect.flatMap(
        election.whileHeld(Effect.scoped(loop.daemon)),
        (ended) => Option.isNone(ended) ? held : Effect.void
      )
      return yield* supervisor.daemon(name, held, { backoff: loop.backoff })
    }
    return yield* supervisor.loop(name, Effect.asVoid(election.whileHeld(loop.iteration, { unlessFirst: supervisor.drained })), {
      every: loop.every,
      backoff: loop.backoff
    })
  })

/** The handle of `plugin` with its decoded `config`; nothing runs until `start`. */
export const make = (plugin: Plugin.Plugin, config: unknown): Effect.Effect<Running> =>
  Effect.gen(function*() {
    const name = plugin.name
    const annotations = { plugin: name }
    const firstAttempt = yield* Deferred.make<void>()
    let current: Context.Context<unknown> | undefined

    // set for each build of the services: `PluginContext.restart` completes it, `use` then fails
    let restartAsked: Deferred.Deferred<never, PluginRestart> | undefined
    const restart = (reason: string) =>
      Effect.suspend(() => restartAsked === undefined ? Effect.void : Deferred.fail(restartAsked, new PluginRestart({ message: reason })))

    const acquire = Effect.gen(function*() {
      const asked = yield* Deferred.make<never, PluginRestart>()
      restartAsked = asked
      const services = (plugin.services?.(config) ?? Layer.empty).pipe(
        Layer.provideMerge(Plugin.context(name, restart))
      ) as Layer.Layer<unknown, unknown, Plugin.DaemonServices>
      const context = yield* Layer.build(services)
      return { context, asked }
    }).pipe(
      Effect.annotateLogs(annotations),
      Effect.onExit(() => Deferred.succeed(firstAttempt, undefined))
    )
    const use = ({ asked, context }: { readonly context: Context.Context<unknown>; readonly asked: Deferred.Deferred<never, PluginRestart> }) =>
      Effect.gen(function*() {
        current = context
        // runs first when the scope closes: routes answer 503 before the services stop
        yield* Effect.addFinalizer(() => Effect.sync(() => current === context ? current = undefined : undefined))
        for (const [loopName, loop] of Object.entries(plugin.loops?.(config) ?? {})) {
          yield* runLoop(`${name}:${loopName}`, loop)
        }
        const supervisor = yield* Supervisor
        const { ownerId } = Context.get(context as Context.Context<Plugin.PluginContext>, Plugin.PluginContext)
        for (const worker of plugin.workers?.(config) ?? []) {
          if (worker.kind.plugin !== name) {
            return yield* Effect.dieMessage(
              `plugin ${name}: its worker for job kind ${worker.kind.plugin}/${worker.kind.name} handles another plugin's kind`
            )
          }
          // a drain begins its stop at once, so its handlers' grace runs alongside the loops';
          // a restart of the services stops it gracefully through interruption
          yield* supervisor.daemon(
            `${name}:worker:${worker.kind.name}`,
            JobWorker.run(worker, { owner: ownerId, stopWhen: supervisor.drained })
          )
        }
        return yield* Deferred.await(asked)
      }).pipe(Effect.provide(context), Effect.annotateLogs(annotations))

    return {
      plugin,
      config,
      servicesName: servicesName(name),
      current: () => current,
      started: Deferred.await(firstAttempt),
      // annotated around the fork, so the supervisor's own warnings about it name the plugin too
      start: Effect.flatMap(Supervisor, (supervisor) => supervisor.resource(servicesName(name), acquire, use)).pipe(
        Effect.annotateLogs(annotations)
      ) as Effect.Effect<
        void,
        never,
        Plugin.DaemonServices | Scope.Scope
      >
    } satisfies Running
  })

/** Why a plugin's routes answer 503 now: starting, or the last failure, with when to try again. */
const unavailableReply = (running: Running) =>
  Effect.gen(function*() {
    const supervisor = yield* Supervisor
    const status = (yield* supervisor.status).find((s) => s.name === running.servicesName)
    const now = yield* Clock.currentTimeMillis
    const failed = status !== undefined && status.consecutiveFailures > 0 && status.lastError !== undefined
    const retryAfter = failed && status.nextAttemptAt !== undefined
      ? Math.max(1, Math.ceil((status.nextAttemptAt - now) / 1000))
      : 1
    const name = running.plugin.name
    const headers = { "retry-after": String(retryAfter) }
    return failed
      ? HotRoutes.error(503, status.lastError!, { plugin: name, restarts: status.restarts, retryAfterSeconds: retryAfter }, headers)
      : HotRoutes.error(503, `the ${name} is starting`, { plugin: name, retryAfterSeconds: retryAfter }, headers)
  })

/** `effect` with the plugin's services (a TUI view's read); failing, as its routes answer 503, while they are not up. */
export const withServices = <A, E, R>(running: Running, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | string, Plugin.CoreServices> =>
  Effect.suspend((): Effect.Effect<A, E | string, Plugin.CoreServices> => {
    const context = running.current()
    return context === undefined
      ? Effect.fail(`the ${running.plugin.name} plugin's services are not up`)
      : Effect.provide(effect, context as Context.Context<R>) as Effect.Effect<A, E, Plugin.CoreServices>
  })

/** Core's answer while a plugin's services are not up: 503 with Retry-After, in core's error shape. */
const unavailable = (running: Running) =>
  Effect.map(unavailableReply(running), replyResponse)

/**
 * The router a plugin's route layers see: core's router prefixed with `/<name>`, whose
 * handlers run with the plugin's services (or answer 503 without them) and its log
 * annotations.
 */
const pluginRouter = (
  router: HttpLayerRouter.HttpRouter,
  running: Running
): HttpLayerRouter.HttpRouter => {
  const name = running.plugin.name
  const wrap = <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> => {
    const closed = unavailable(running) as Effect.Effect<HttpServerResponse.HttpServerResponse>
    // Set, not scoped (`Effect.provide`, `annotateLogs` each cost an acquire/release per
    // request, about as much as the context copy): the router restores the request's
    // context when the route ends, and the request's fiber ends with the request.
    const annotate = FiberRef.update(FiberRef.currentLogAnnotations, HashMap.set("plugin", name as unknown))
    const serve = Effect.zipRight(annotate, handler)
    return Effect.suspend(() => {
      const context = running.current()
      return context === undefined
        ? closed
        : Effect.zipRight(FiberRef.update(FiberRef.currentContext, (input) => Context.merge(input, context)), serve)
    })
  }
  const mounted: HttpLayerRouter.HttpRouter = HttpLayerRouter.HttpRouter.of({
    ...router,
    prefixed: (prefix) => pluginRouter(router.prefixed(prefix), running),
    add: (method, path, handler, options) =>
      router.add(
        method,
        path,
        wrap(Effect.isEffect(handler) ? handler : Effect.flatMap(HttpServerRequest.HttpServerRequest, handler)),
        options
      ),
    addAll: (routes) => router.addAll(routes.map((route) => ({ ...route, handler: wrap(route.handler) }))) as any
  })
  return mounted
}

/**
 * The hot routes a plugin's route layers see: paths under `/<name>`, handlers run with
 * the plugin's services (503 without them) and its log annotation, as `pluginRouter` does.
 */
const pluginHotRoutes = (hot: HotRoutes.HotRoutesService, running: Running): HotRoutes.HotRoutesService => {
  const base = Plugin.basePath(running.plugin.name)
  const closed = Effect.flatMap(unavailableReply(running), Effect.fail)
  const annotate = FiberRef.update(FiberRef.currentLogAnnotations, HashMap.set("plugin", running.plugin.name as unknown))
  return HotRoutes.HotRoutes.of({
    ...hot,
    register: (route, runtime) => {
      // the route's context with the services': merged once per build of the services,
      // not per request (a hot route's fiber starts with its runtime's context)
      let mergedFor: Context.Context<unknown> | undefined
      let merged = runtime.context as Context.Context<unknown>
      const withServices = (context: Context.Context<unknown>) => {
        if (mergedFor !== context) {
          merged = Context.merge(runtime.context as Context.Context<unknown>, context)
          mergedFor = context
        }
        return merged
      }
      return hot.register({
        ...route,
        path: base + route.path,
        // a hot route runs on a fiber of its own: its context and annotations are set, not scoped
        handle: (request) =>
          Effect.suspend((): Effect.Effect<HotRoutes.Reply, HotRoutes.Reply, any> => {
            const context = running.current()
            return context === undefined ? closed : Effect.zipRight(
              FiberRef.set(FiberRef.currentContext, withServices(context)),
              Effect.zipRight(annotate, route.handle(request))
            )
          }) as Effect.Effect<HotRoutes.Reply, HotRoutes.Reply, any>
      }, runtime)
    }
  })
}

/**
 * The plugin's routes, mounted under `/<name>/`. Built with a memo map of their own, so
 * that two plugins' (or core's) `HttpApi` handlers for the same relative path never meet.
 */
export const routes = (running: Running, http: Plugin.PluginHttp<any>) =>
  Layer.fresh(http.routes).pipe(
    Layer.provide(Layer.mergeAll(
      Layer.effect(
        HttpLayerRouter.HttpRouter,
        Effect.map(HttpLayerRouter.HttpRouter, (router) => pluginRouter(router.prefixed(Plugin.basePath(running.plugin.name)), running))
      ),
      Layer.effect(HotRoutes.HotRoutes, Effect.map(HotRoutes.HotRoutes, (hot) => pluginHotRoutes(hot, running)))
    ))
  ) as Layer.Layer<never, unknown, Exclude<Layer.Layer.Context<typeof http.routes>, HttpLayerRouter.Request<any, any>>>

/** The plugin's API as core's OpenAPI document shows it: under `/<name>`. */
export const api = (name: string, http: Plugin.PluginHttp<any>) =>
  http.api === undefined ? undefined : (http.api as any).prefix(Plugin.basePath(name)) as Plugin.PluginHttp["api"]
