/**
 * A person's start or stop of one instance (`POST /instances/:name/start|stop`, operate
 * role; the TUI's instances view): through the provider instance_controller uses, counted
 * with its decisions. The controller's next round may decide otherwise (it stops an idle
 * instance, starts one whose location has work waiting), as it would after any change.
 */
import * as Auth from "@orch/core/Auth"
import { Conflict, NotFound } from "@orch/core/CoreApi"
import { Effect, Schema } from "effect"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { InstanceProvider } from "./Instances.js"
import * as Location from "./Location.js"
import * as Metrics from "./Metrics.js"

/** The instance provider (Compute Engine) could not be asked, or refused (502: the daemon is fine, its upstream is not). */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()(
  "ProviderUnavailable",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

export const InstanceOperation = Schema.Struct({
  name: Schema.String,
  decision: Schema.Literal("start", "stop"),
  operation: Schema.Literal("done", "pending")
}).annotations({ identifier: "WatchdogInstanceOperation" })

export const operate = (name: string, decision: "start" | "stop") =>
  Effect.gen(function*() {
    const provider = yield* InstanceProvider
    if (provider.name === "static") {
      return yield* new Conflict({ message: "the static provider manages no instances: there is nothing to start or stop" })
    }
    const location = Location.parse(name)
    if (location === undefined) return yield* new NotFound({ message: `${JSON.stringify(name)} is not an instance name (<zone>--<browser>--<agent>)` })
    const upstream = (error: { readonly message: string }) => new ProviderUnavailable({ message: `${decision} ${name}: ${error.message}` })
    const listed = yield* Effect.mapError(provider.list([location.zone]), upstream)
    const instance = listed.find((i) => i.name === name)
    if (instance === undefined) return yield* new NotFound({ message: `no instance ${name} in ${location.zone}` })
    const operation = yield* (decision === "start" ? provider.start(instance) : provider.stop(instance)).pipe(
      Effect.tapError(() => Metrics.count(Metrics.decisions, { decision, outcome: "error" })),
      Effect.mapError(upstream)
    )
    yield* Metrics.count(Metrics.decisions, { decision, outcome: operation })
    const caller = yield* Auth.caller
    yield* Effect.logInfo(`watchdog: ${decision} ${name}, asked over HTTP by ${caller.name ?? "an anonymous caller"} (${operation})`).pipe(
      Effect.annotateLogs({ decision, instance: name })
    )
    return { name, decision, operation }
  })
