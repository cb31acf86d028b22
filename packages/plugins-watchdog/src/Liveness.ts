/**
 * How many tests a location may be sent now. WPT's own counts say little: getLocations
 * counts a tester idle for up to `max_tester_minutes` (60) after its last poll, so a dead
 * agent looks idle for an hour, and will take up to `maxQueueLength` tests. So:
 *
 * - an agent is live when getTesters says it polled within `starter.agentSilentSeconds`
 *   (WPT reports whole minutes since the last poll: `elapsed`), or it is busy on a test
 *   it took less than `wpt.maxRunMinutes` ago (wptagent does not poll while it runs one);
 * - a location has room for `starter.maxTestsPerAgent` tests per live agent, less what WPT
 *   queues there and what its live agents run, and no more than `starter.maxQueueLength`
 *   queued;
 * - a test of N runs counts N (WPT queues one job file per run, `AddTestJob` in
 *   common_lib.inc), unless WPT's sharding is off (`wpt.sharding: false`).
 */
import type { WatchdogConfig } from "./Config.js"
import type { LocationQueue, LocationTesters, Tester } from "./Wpt.js"

export interface Room {
  /** Takes room for a test of this cost, when the location has any left. */
  readonly take: (cost: number) => boolean
  /** Why nothing more goes (for the jobs left waiting). */
  readonly why: () => string
}

/** What one test counts in WPT's queue. */
export const cost = (config: Pick<WatchdogConfig, "wpt">, runs: number): number => (config.wpt.sharding ? Math.max(1, runs) : 1)

export const isLive = (config: Pick<WatchdogConfig, "wpt" | "starter">, tester: Tester): boolean => {
  if (tester.elapsed === undefined) return false
  return tester.busy
    ? tester.elapsed < config.wpt.maxRunMinutes
    : tester.elapsed * 60 < config.starter.agentSilentSeconds
}

/** A location WPT does not list: submitting lets WPT say so, and the job ends with its message. */
export const unlisted: Room = { take: () => true, why: () => "" }

export const rooms = (
  config: Pick<WatchdogConfig, "wpt" | "starter">,
  queues: ReadonlyArray<LocationQueue>,
  testers: ReadonlyArray<LocationTesters>
): Map<string, Room> => {
  const agents = new Map(testers.map((location) => [location.location, location.testers]))
  return new Map(queues.map((queue) => {
    const all = agents.get(queue.location) ?? []
    const live = all.filter((tester) => isLive(config, tester))
    const capacity = live.length * config.starter.maxTestsPerAgent
    let queued = queue.queued
    let inFlight = queued + live.filter((tester) => tester.busy).length
    const room: Room = {
      take: (cost) => {
        if (inFlight >= capacity || queued >= config.starter.maxQueueLength) return false
        inFlight += cost
        queued += cost
        return true
      },
      why: () =>
        live.length === 0
          ? `no live agent at WPT for ${queue.location}${all.length === 0 ? "" : ` (${all.map((t) => `${t.id || t.pc} silent ${t.elapsed ?? "?"} min`).join(", ")})`}`
          : queued >= config.starter.maxQueueLength
          ? `WPT's queue for ${queue.location} holds ${queued} (maxQueueLength ${config.starter.maxQueueLength})`
          : `${queue.location}'s ${live.length} live agent(s) have ${inFlight} test(s) queued or running (maxTestsPerAgent ${config.starter.maxTestsPerAgent})`
    }
    return [queue.location, room]
  }))
}
