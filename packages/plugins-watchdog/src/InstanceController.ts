/**
 * instance_controller: one instance per location (named as the location), started when
 * its location has jobs waiting, stopped after `idleStopMs` without work, optionally
 * deleted after `deleteAfterMs` stopped, and repaired when stuck (reset first, then
 * recreated if a reset did not help); a suspended one with jobs waiting is resumed. Instances outside the naming scheme, in zones not
 * managed, or listed as protected are never touched.
 *
 * What the controller remembers per instance (when it last saw work, when it reset it)
 * is kept in the instance's resource record, so a restart continues where it was.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Resources } from "@orch/core/Resources"
import { Clock, Effect, Either, Redacted } from "effect"
import type { WatchdogConfig } from "./Config.js"
import {
  type Instance,
  InstanceKind,
  InstanceProvider,
  type InstanceProviderService,
  type OperationState,
  type ProviderError,
  type Status
} from "./Instances.js"
import * as Location from "./Location.js"
import * as Metrics from "./Metrics.js"
import * as Sql from "./sql.js"
import { type LocationQueue, type LocationTesters, WptClient } from "./Wpt.js"

/** Kept in the instance's resource `data`. */
export interface Memory {
  readonly zone: string
  readonly instanceId?: string | undefined
  /** Last time its location had jobs or WPT work. */
  readonly lastWorkAt?: number | undefined
  /** When it was last reset because it was stuck. */
  readonly resetAt?: number | undefined
  /** Set by a reset; cleared once the agent is seen healthy. */
  readonly stuckEpisode?: boolean | undefined
  readonly lastDecision?: string | undefined
}

export type Decision = "create" | "start" | "resume" | "stop" | "delete" | "reset" | "recreate"

const transitional: ReadonlyArray<Status> = ["PROVISIONING", "STAGING", "STOPPING", "SUSPENDING", "REPAIRING"]

/** `wpt_data` as wptagent reads it with `--gce`, plus the configured items. */
export const metadataFor = (config: WatchdogConfig, location: string): Record<string, string> => {
  const server = (config.wpt.server ?? "").replace(/^https?:\/\//, "").replace(/\/+$/, "")
  const key = config.wpt.locationKey === undefined ? "" : ` wpt_key=${Redacted.value(config.wpt.locationKey)}`
  return { ...config.gce.metadata, wpt_data: `wpt_server=${server} wpt_loc=${location}${key}` }
}

/** Why the agents of a RUNNING instance look stuck, or undefined when they do not. */
export const stuckReason = (
  config: WatchdogConfig,
  instance: Instance,
  testers: LocationTesters | undefined
): string | undefined => {
  const limit = config.controller.agentSilentMinutes
  // testers that reported another instance id belong to an earlier incarnation
  const own = (testers?.testers ?? []).filter((t) => t.instanceId === "" || instance.id === "" || t.instanceId === instance.id)
  if (own.length === 0) return `no agent of ${instance.name} has polled WPT`
  const polled = own.map((t) => t.elapsed).filter((e): e is number => e !== undefined)
  const newest = polled.length === 0 ? undefined : Math.min(...polled)
  if (newest === undefined || newest > limit) {
    return `its agent has not polled WPT for ${newest ?? "?"} min (limit ${limit} min)`
  }
  const runLimit = config.wpt.maxRunMinutes
  const hung = own.find((t) => t.busy && t.last !== undefined && t.last > runLimit)
  if (hung !== undefined) {
    return `its agent ${hung.pc || hung.id} has been busy on ${hung.test ?? "one test"} for ${hung.last} min (run limit ${runLimit} min)`
  }
  return undefined
}

interface LocationWork {
  awaiting: number
  submitted: number
}

export const round = (config: WatchdogConfig) =>
  Effect.gen(function*() {
    const provider = yield* InstanceProvider
    if (provider.name === "static") return
    const resources = yield* Resources
    const wpt = yield* WptClient
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const controller = config.controller

    // jobs still to run, by location
    const work = new Map<string, LocationWork>()
    for (const row of yield* Sql.workByLocation(sql, now)) {
      const name = Location.id(row)
      const entry = work.get(name) ?? { awaiting: 0, submitted: 0 }
      if (row.state === "AWAITING") entry.awaiting += Number(row.n)
      else entry.submitted += Number(row.n)
      work.set(name, entry)
    }

    const managedZone = (zone: string) => config.gce.zones.length === 0 || config.gce.zones.includes(zone)
    const inScheme = (name: string) => !controller.protected.includes(name) && Location.parse(name) !== undefined
    const zones = new Set(config.gce.zones)
    for (const name of work.keys()) {
      const zone = Location.parse(name)?.zone
      if (zone !== undefined && managedZone(zone)) zones.add(zone)
    }
    // without configured zones, those any job ever named: an instance left running by an
    // earlier process for a location whose jobs are done must still be seen and stopped
    if (config.gce.zones.length === 0) {
      for (const zone of yield* Sql.jobZones(sql)) zones.add(zone.zone)
    }
    const known = yield* resources.list({ kind: InstanceKind })
    for (const resource of known) {
      const zone = Location.parse(resource.name)?.zone
      if (zone !== undefined && managedZone(zone)) zones.add(zone)
    }
    if (zones.size === 0) return

    const listed = yield* Effect.either(provider.list([...zones].sort()))
    if (Either.isLeft(listed)) {
      yield* Metrics.count(Metrics.decisions, { decision: "list", outcome: "error" })
      return yield* Effect.logWarning(`instance_controller: cannot list instances, trying again next round: ${listed.left.message}`)
    }
    const instances = new Map(
      listed.right.filter((i) => inScheme(i.name) && managedZone(i.zone)).map((i) => [i.name, i])
    )
    // without WPT's view, nothing is stopped or judged stuck: its queue might hold work
    const queues = yield* Effect.either(wpt.locations)
    const testers = yield* Effect.either(wpt.testers)
    const wptView = Either.isRight(queues) && Either.isRight(testers)
      ? { queues: new Map(queues.right.map((q) => [q.location, q])), testers: new Map(testers.right.map((t) => [t.location, t])) }
      : undefined
    if (wptView === undefined) {
      const reason = Either.isLeft(queues) ? queues.left.message : Either.isLeft(testers) ? testers.left.message : ""
      yield* Effect.logWarning(`instance_controller: WPT unreachable, only starting instances this round: ${reason}`)
    }

    const memories = new Map(known.map((r) => [r.name, { state: r.state, changedAt: r.stateChangedAt, data: r.data as Memory | undefined }]))
    const managed = (name: string) => inScheme(name) && managedZone(Location.parse(name)!.zone)
    const names = new Set([...instances.keys(), ...[...work.keys()].filter(managed), ...known.map((r) => r.name).filter(managed)])

    for (const name of [...names].sort()) {
      yield* decide(config, provider, now, {
        name,
        instance: instances.get(name),
        work: work.get(name) ?? { awaiting: 0, submitted: 0 },
        queue: wptView?.queues.get(name),
        testers: wptView?.testers.get(name),
        wptKnown: wptView !== undefined,
        remembered: memories.get(name)
      }).pipe(
        // one instance's trouble never stops the others
        Effect.catchAllCause((cause) =>
          Effect.zipRight(
            Metrics.count(Metrics.decisions, { decision: "round", outcome: "error" }),
            Effect.logWarning(`instance_controller: ${name}: unexpected failure, skipped this round`, cause)
          )
        )
      )
    }
  })

interface Situation {
  readonly name: string
  readonly instance: Instance | undefined
  readonly work: LocationWork
  readonly queue: LocationQueue | undefined
  readonly testers: LocationTesters | undefined
  readonly wptKnown: boolean
  readonly remembered: { readonly state: string; readonly changedAt: number; readonly data: Memory | undefined } | undefined
}

const decide = (config: WatchdogConfig, provider: InstanceProviderService, now: number, s: Situation) =>
  Effect.gen(function*() {
    const resources = yield* Resources
    const controller = config.controller
    const location = Location.parse(s.name)!
    const previous = s.remembered?.data
    const wptWork = (s.queue?.queued ?? 0) + (s.queue?.testing ?? 0)
    const busy = s.work.awaiting > 0 || s.work.submitted > 0 || wptWork > 0
    let memory: Memory = {
      zone: location.zone,
      instanceId: s.instance?.id ?? previous?.instanceId,
      lastWorkAt: busy || previous?.lastWorkAt === undefined ? now : previous.lastWorkAt,
      resetAt: previous?.resetAt,
      stuckEpisode: previous?.stuckEpisode,
      lastDecision: previous?.lastDecision
    }
    const status: Status = s.instance?.status ?? "DELETED"
    // how long it has been in its current state, by the controller's own record
    const since = s.remembered !== undefined && s.remembered.state === status ? s.remembered.changedAt : now

    const record = (reason: string) =>
      resources.upsert(InstanceKind, {
        name: s.name,
        labels: { zone: location.zone, browser: location.browser, agent: location.agent },
        data: memory,
        state: status,
        reason
      })

    const act = (decision: Decision, reason: string, run: Effect.Effect<OperationState, ProviderError>) =>
      Effect.gen(function*() {
        yield* Effect.logInfo(`instance_controller: ${decision} ${s.name}: ${reason}`).pipe(
          Effect.annotateLogs({ loop: "instance_controller", decision, instance: s.name, reason })
        )
        const outcome = yield* Effect.either(run)
        if (Either.isLeft(outcome)) {
          yield* Metrics.count(Metrics.decisions, { decision, outcome: "error" })
          yield* Effect.logWarning(`instance_controller: ${decision} ${s.name} failed, trying again next round: ${outcome.left.message}`).pipe(
            Effect.annotateLogs({ loop: "instance_controller", decision, instance: s.name })
          )
          return false
        }
        yield* Metrics.count(Metrics.decisions, { decision, outcome: outcome.right })
        memory = { ...memory, lastDecision: `${decision}: ${reason}` }
        return true
      })

    if (s.instance === undefined) {
      if (s.work.awaiting > 0) {
        const created = yield* act(
          "create",
          `${s.work.awaiting} job(s) waiting and no instance`,
          provider.create({ name: s.name, zone: location.zone, metadata: metadataFor(config, s.name) })
        )
        if (created) memory = { ...memory, resetAt: undefined, stuckEpisode: undefined }
      }
      if (s.remembered !== undefined || memory.lastDecision !== previous?.lastDecision) {
        yield* record(s.remembered === undefined ? "created by the controller" : "not found at the provider")
      }
      return
    }

    const instance = s.instance
    switch (instance.status) {
      case "TERMINATED": {
        if (s.work.awaiting > 0) {
          yield* act("start", `${s.work.awaiting} job(s) waiting`, provider.start(instance))
        } else if (
          controller.deleteAfterMs !== undefined && !busy && now - since >= controller.deleteAfterMs
        ) {
          yield* act(
            "delete",
            `stopped for ${Math.round((now - since) / 1000)} s with no work (limit ${controller.deleteAfterMs / 1000} s)`,
            provider.remove(instance)
          )
        }
        break
      }
      case "RUNNING": {
        const idleFor = now - (memory.lastWorkAt ?? now)
        if (!busy && s.wptKnown && idleFor >= controller.idleStopMs) {
          yield* act("stop", `no work for ${Math.round(idleFor / 1000)} s (limit ${controller.idleStopMs / 1000} s)`, provider.stop(instance))
          memory = { ...memory, stuckEpisode: undefined }
          break
        }
        if (!s.wptKnown) break
        const upSince = Math.max(since, memory.resetAt ?? 0)
        if (now - upSince < controller.bootGraceMs) break
        const reason = stuckReason(config, instance, s.testers)
        if (reason === undefined) {
          if (memory.stuckEpisode) memory = { ...memory, stuckEpisode: undefined }
          break
        }
        if (!memory.stuckEpisode) {
          const reset = yield* act("reset", `stuck: ${reason}`, provider.reset(instance))
          if (reset) memory = { ...memory, resetAt: now, stuckEpisode: true }
        } else {
          // a reset did not help: start over from the image
          const removed = yield* act(
            "recreate",
            `still stuck ${Math.round((now - (memory.resetAt ?? now)) / 1000)} s after a reset: ${reason}`,
            Effect.flatMap(provider.remove(instance), (state) =>
              state === "done"
                ? provider.create({ name: s.name, zone: location.zone, metadata: metadataFor(config, s.name) })
                : Effect.succeed(state))
          )
          if (removed) memory = { ...memory, resetAt: now, stuckEpisode: undefined }
        }
        break
      }
      case "SUSPENDED": {
        if (s.work.awaiting > 0) yield* act("resume", `${s.work.awaiting} job(s) waiting`, provider.resume(instance))
        break
      }
      default:
        // PROVISIONING, STAGING, STOPPING …: an operation is under way; look again next round
        if (!transitional.includes(instance.status)) break
    }
    yield* record(memory.lastDecision !== previous?.lastDecision ? memory.lastDecision ?? "observed" : "observed")
  })
