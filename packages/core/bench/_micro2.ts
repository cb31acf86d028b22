import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"
import * as Database from "../src/Database.js"

const N = 20000
const prog = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a TEXT)`
  const time = (label: string, eff: Effect.Effect<unknown, any>, n = N) => Effect.gen(function*() {
    const t = performance.now()
    for (let i = 0; i < n; i++) yield* eff
    console.log(label.padEnd(40), ((performance.now() - t) * 1000 / n).toFixed(1), "us")
  })
  const direct = (text: string, params: ReadonlyArray<unknown>) => Effect.flatMap(Effect.serviceOption(SqlClient.TransactionConnection), (c) => Option.getOrThrow(c)[0].execute(text, params, undefined))
  yield* time("in tx: 10x sql select", sql.withTransaction(Effect.forEach(Array.from({length: 10}), () => sql`SELECT ${1}`)), 2000)
  yield* time("in tx: 10x direct select", sql.withTransaction(Effect.forEach(Array.from({length: 10}), () => direct("SELECT ?", [1]))), 2000)
  yield* time("in tx: 10x sql select tracer off", Effect.withTracerEnabled(sql.withTransaction(Effect.forEach(Array.from({length: 10}), () => sql`SELECT ${1}`)), false), 2000)
})
Effect.runPromise(Effect.provide(prog, Database.layer({ filename: "/tmp/prof/mb/m.sqlite" })))
