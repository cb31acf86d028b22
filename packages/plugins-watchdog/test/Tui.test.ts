/** What the TUI shows of the watchdog: jobs by location and state, instances with their last decision. */
import { expect, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { JobQueue } from "@orch/core/Jobs"
import type { TuiPanel } from "@orch/core/Plugin"
import { Resources } from "@orch/core/Resources"
import { Effect } from "effect"
import { InstanceKind } from "../src/Instances.js"
import { views } from "../src/TuiViews.js"
import { WptClient, type WptClientService } from "../src/Wpt.js"
import { WptTest } from "../src/WptJob.js"
import { watchdogDatabaseOn } from "./support.js"
import { describeBackends } from "@orch/testing/Backends"

describeBackends("watchdog TUI panels", (backend) => {
  const watchdogDatabase = () => watchdogDatabaseOn(backend)
  it.effect("count jobs per location and state and list instances", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const base = { browser: "tor", agent: "agent1", url: "https://e.org/", runs: 1, firstViewOnly: true, connectivity: "Native", options: {} }
      yield* queue.enqueue(WptTest, { ...base, zone: "us-central1-a" })
      yield* queue.enqueue(WptTest, { ...base, zone: "us-central1-a" })
      const { job } = yield* queue.enqueue(WptTest, { ...base, zone: "europe-west1-b" })
      yield* queue.cancel(job.id, "test")
      yield* Effect.flatMap(Resources, (r) =>
        r.upsert(InstanceKind, { name: "us-central1-a--tor--agent1", labels: {}, state: "RUNNING", data: { zone: "us-central1-a", lastDecision: "start: 2 job(s) waiting" } }))
      // WPT lists one location, with its agents and queue (only its locations are read here)
      const wpt = {
        locations: Effect.succeed([
          { location: "us-central1-a--tor--agent1", status: "OK", browsers: ["Tor Browser"], queued: 3, testing: 1, idle: 0, total: 1 }
        ])
      } as unknown as WptClientService
      // the views read the queue, the resources, the database and WPT: what this test provides
      const panels = yield* Effect.forEach(views(), (view) =>
        (view.read as Effect.Effect<TuiPanel, unknown, JobQueue | Resources | SqlClient.SqlClient | WptClient>).pipe(
          Effect.provideService(WptClient, wpt)
        ))
      expect(panels[0]!.rows).toEqual([
        ["europe-west1-b--tor--agent1", "not at WPT", "-", "-", "-", "0", "0", "0", "0", "0", "1"],
        ["us-central1-a--tor--agent1", "OK", "0/1", "3", "1", "2", "0", "0", "0", "0", "0"]
      ])
      expect(panels[1]!.rows.map((row) => [row[0], row[2], row[4]])).toEqual([["us-central1-a--tor--agent1", "RUNNING", "start: 2 job(s) waiting"]])
      expect(panels[1]!.keys).toEqual([{ name: "us-central1-a--tor--agent1" }])
    }).pipe(Effect.provide(watchdogDatabase())))
})
