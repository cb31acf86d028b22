/** The bench plugin's series at `/metrics`, read from the database at each scrape. */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Collector, Sample } from "@orch/core/Metrics"
import { Clock, Effect } from "effect"
import * as Analysis from "./Analysis.js"
import * as Sql from "./sql/index.js"

const gauge = (name: string, help: string, value: number): Sample => ({ name: `orch_bench_${name}`, help, type: "gauge", labels: {}, value })

export const collector = (sql: SqlClient.SqlClient, workerTimeoutMs: number): Collector =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    return [
      gauge("queue_depth", "Commits waiting to be benchmarked", yield* Sql.queueDepth(sql)),
      gauge("workers_live", "Workers seen within bench.workerTimeoutSeconds", yield* Sql.countLiveWorkers(sql, now - workerTimeoutMs)),
      gauge("runs", "Runs stored (worker runs and imports)", yield* Sql.countRuns(sql)),
      ...yield* Effect.provideService(Analysis.alertSamples, SqlClient.SqlClient, sql)
    ]
  }).pipe(Effect.catchAll((error) => Effect.as(Effect.logWarning("bench: metrics not read", error), [])))
