import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Schema } from "effect"
import * as Database from "../src/Database.js"
import * as Jobs from "../src/Jobs.js"
import * as Sql from "../src/sql/jobs.js"
import * as Migrations from "../src/Migrations.js"
import { coreMigrations } from "../src/sql/migrations.js"

const Work = Jobs.JobKind.simple({ plugin: "bench", name: "work", payload: Schema.Struct({ n: Schema.Number, url: Schema.String }), result: Schema.Struct({ ok: Schema.Boolean }) })
const N = 5000
const prog = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const q = yield* Jobs.JobQueue
  const time = (label: string, eff: Effect.Effect<unknown, any>, n = N) => Effect.gen(function*() {
    const t = performance.now()
    for (let i = 0; i < n; i++) yield* eff
    console.log(label.padEnd(50), ((performance.now() - t) * 1000 / n).toFixed(1), "us")
  })
  const now = Date.now()
  const ins = Sql.insertJob(sql, { plugin: "x", kind: "y", state: "queued", payload: "{}", priority: 0, runAt: now, maxAttempts: 5, idempotencyKey: null, now })
  const hist = Sql.insertHistory(sql, { jobId: 1, at: now, from: null, to: "queued", reason: "enqueued", owner: null, token: null })
  yield* time("enqueue", q.enqueue(Work, { n: 1, url: "https://example.com/1" }))
  yield* time("insertJob alone (autocommit)", ins)
  yield* time("Database.transaction(insertJob)", Database.transaction(ins))
  yield* time("Database.transaction(insertJob+history)", Database.transaction(Effect.zipRight(ins, hist)))
  yield* time("same, tracer off", Effect.withTracerEnabled(Database.transaction(Effect.zipRight(ins, hist)), false))
  yield* time("withTransaction(insertJob+history) tracer off", Effect.withTracerEnabled(sql.withTransaction(Effect.zipRight(ins, hist)), false))
  yield* time("enqueue again", q.enqueue(Work, { n: 1, url: "https://example.com/1" }))
  yield* time("insertJob alone (autocommit) again", ins)
  yield* time("Database.transaction(insertJob+history) again", Database.transaction(Effect.zipRight(ins, hist)))
})
const dir = "/tmp/prof/mb3"; (await import("node:fs")).rmSync(dir, {recursive: true, force: true})
Effect.runPromise(Effect.provide(prog, Jobs.JobQueue.layer([Work]).pipe(Layer.provideMerge(Layer.effectDiscard(Migrations.apply("core", coreMigrations))), Layer.provideMerge(Database.layer({ filename: dir + "/m.sqlite" })))))
