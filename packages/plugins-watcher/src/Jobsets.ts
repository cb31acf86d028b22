/**
 * Workers that share the load: the endpoints are grouped into `watcher.jobsets` jobsets by
 * a hash of their key (so an endpoint keeps its jobset when it moves between files, and
 * every process computes the same grouping from the same key), and each orch process
 * running the watcher is a worker that holds some of them through leases in the shared
 * database (`watcher_jobsets`), on the seed's etcd `modifiedIndex` design:
 *
 * - every change of a jobset row (claim, renewal, release) is a compare-and-set on its
 *   version, so of two workers racing for a row one wins and the other learns it lost;
 * - a worker heartbeats (`watcher_workers`) and renews its jobsets every heartbeat; a
 *   jobset whose lease expired (its worker died or stalled) is free to take over;
 * - a renewal that matches nothing means another worker took the jobset (after a
 *   partition, a stall): the worker drops it at once, and stops checking a jobset as soon
 *   as its own lease ran out, before it even learns that;
 * - each claim makes a fencing token (the version at the claim, kept by renewals) that the
 *   worker's result writes check in their transaction, so a stale owner's writes are refused;
 * - fair spread: a worker holds at most ceil(jobsets / live workers) and hands the rest back;
 *   a worker whose checks lag (over a threshold for a while) hands one back and claims
 *   nothing new for a while.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Database from "@orch/core/Database"
import { Clock, Effect, Metric } from "effect"
import * as crypto from "node:crypto"
import * as Sql from "./sql.js"

/** The jobset of an endpoint key: a stable hash (the same in every process and across restarts) into `count` buckets. */
export const jobsetOf = (key: string, count: number): number =>
  crypto.createHash("sha1").update(key).digest().readUInt32BE(4) % count

export const jobsetsHeld = Metric.gauge("orch_watcher_jobsets_held", { description: "Jobsets this worker holds" })
export const jobsetChanges = Metric.counter("orch_watcher_jobset_changes_total", {
  description: "Jobsets this worker claimed, took over, released, handed back or lost, by change",
  incremental: true
})

/**
 * Whether a worker cannot keep up: every check for `forMs` started more than `thresholdMs`
 * late. One check on time resets it; so does a hand-back (`reset`), to give the lighter
 * load time to show.
 */
export const lagWatch = (thresholdMs: number, forMs: number) => {
  let since: number | undefined
  return {
    note: (lagMs: number, now: number): void => {
      if (lagMs <= thresholdMs) since = undefined
      else since ??= now
    },
    lagging: (now: number): boolean => since !== undefined && now - since >= forMs,
    reset: (): void => {
      since = undefined
    }
  }
}

export interface Options {
  /** `host:pid:watcher`. */
  readonly owner: string
  readonly count: number
  readonly leaseMs: number
  /** After handing a jobset back for lag, claim nothing new for this long. */
  readonly handBackCooldownMs: number
  /** Called with the jobsets held, before a release (so no check starts on a jobset being let go) and after a claim or loss. */
  readonly onChange: (held: ReadonlySet<number>) => Effect.Effect<void>
}

export interface Held {
  readonly id: number
  version: number
  readonly token: number
  expiresAt: number
}

export type Change = "claimed" | "took_over" | "released" | "handed_back" | "lost"

export interface Jobsets {
  readonly owner: string
  readonly count: number
  readonly leaseMs: number
  /** One heartbeat: renew, give up what was lost, hand back past the fair share (or one when `lagging`), claim up to it. */
  readonly tick: (lagging: boolean) => Effect.Effect<ReadonlyArray<{ readonly id: number; readonly change: Change }>, SqlError>
  /** The fencing token of jobset `id` if this worker holds it and its lease has not run out by `now`. */
  readonly tokenAt: (id: number, now: number) => number | undefined
  readonly held: () => ReadonlySet<number>
  /** Releases every jobset and forgets this worker (at shutdown: the others take over at once). */
  readonly releaseAll: Effect.Effect<void, SqlError>
}

export const make = (options: Options): Effect.Effect<Jobsets, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { count, leaseMs, owner } = options
    const held = new Map<number, Held>()
    let claimsFrom = 0 // no claims before this time (after a hand-back for lag)
    yield* Sql.ensureJobsets(sql, count, yield* Clock.currentTimeMillis)

    const ids = () => new Set(held.keys())
    const note = (changes: Array<{ id: number; change: Change }>, id: number, change: Change) => {
      changes.push({ id, change })
      return Metric.increment(Metric.tagged(jobsetChanges, "change", change))
    }

    /** Lets go of `release`: out of the timetable first, then free in the database. */
    const release = (release: ReadonlyArray<number>, now: number) =>
      Effect.gen(function*() {
        if (release.length === 0) return
        const entries = release.map((id) => held.get(id)!)
        for (const id of release) held.delete(id)
        yield* options.onChange(ids())
        for (const entry of entries) yield* Sql.releaseJobset(sql, entry.id, entry.version, owner, now)
      })

    const inTransaction = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
      Effect.provideService(Database.transaction(effect), SqlClient.SqlClient, sql)

    /** On a rolled-back tick, what this worker held before it (its renewals and claims never happened). */
    const restore = (before: ReadonlyArray<Held>, claimsFromBefore: number) =>
      Effect.suspend(() => {
        held.clear()
        for (const entry of before) held.set(entry.id, { ...entry })
        claimsFrom = claimsFromBefore
        return options.onChange(ids())
      })

    const tick = (lagging: boolean) =>
      Effect.suspend(() => {
        const before = [...held.values()].map((entry) => ({ ...entry }))
        const claimsFromBefore = claimsFrom
        return Effect.onError(tickOnce(lagging), () => restore(before, claimsFromBefore))
      })

    const tickOnce = (lagging: boolean) =>
      inTransaction(Effect.gen(function*() {
        const changes: Array<{ id: number; change: Change }> = []
        const now = yield* Clock.currentTimeMillis
        yield* Sql.heartbeat(sql, owner, now, held.size)
        yield* Sql.forgetWorkers(sql, now - 10 * leaseMs)
        const live = Math.max(1, yield* Sql.liveWorkers(sql, now - leaseMs))
        const fair = Math.ceil(count / live)

        let lost = false
        for (const entry of [...held.values()]) {
          const version = yield* Sql.renewJobset(sql, entry.id, entry.version, owner, now + leaseMs, now)
          if (version === undefined) {
            held.delete(entry.id)
            lost = true
            yield* note(changes, entry.id, "lost")
          } else {
            entry.version = version
            entry.expiresAt = now + leaseMs
          }
        }
        if (lost) yield* options.onChange(ids())

        const over = [...held.keys()].sort((a, b) => b - a).slice(0, Math.max(0, held.size - fair))
        yield* release(over, now)
        for (const id of over) yield* note(changes, id, "released")
        // alone, there is no one to hand it to
        if (lagging && held.size > 0 && live > 1) {
          const id = Math.max(...held.keys())
          yield* release([id], now)
          yield* note(changes, id, "handed_back")
          claimsFrom = now + options.handBackCooldownMs
        }

        if (held.size < fair && now >= claimsFrom) {
          const rows = yield* Sql.listJobsets(sql, count)
          const claimed: Array<number> = []
          for (const row of rows) {
            if (held.size >= fair) break
            if (row.owner !== null && row.expires_at > now) continue
            const version = yield* Sql.claimJobset(sql, row.id, row.version, owner, now + leaseMs, now)
            if (version === undefined) continue // another worker was first
            held.set(row.id, { id: row.id, version, token: version, expiresAt: now + leaseMs })
            claimed.push(row.id)
            yield* note(changes, row.id, row.owner === null ? "claimed" : "took_over")
          }
          if (claimed.length > 0) yield* options.onChange(ids())
        }
        yield* Metric.set(jobsetsHeld, held.size)
        return changes
      }))

    return {
      owner,
      count,
      leaseMs,
      tick,
      tokenAt: (id, now) => {
        const entry = held.get(id)
        return entry !== undefined && now < entry.expiresAt ? entry.token : undefined
      },
      held: ids,
      releaseAll: inTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* release([...held.keys()], now)
        yield* Sql.deleteWorker(sql, owner)
        yield* Metric.set(jobsetsHeld, 0)
      }))
    }
  })
