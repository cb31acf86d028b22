import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
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
  yield* time("select 1", sql`SELECT 1`)
  yield* time("select 1 tracer off", Effect.withTracerEnabled(sql`SELECT 1`, false))
  yield* time("select with 5 params", sql`SELECT ${1}, ${2}, ${3}, ${4}, ${5}`)
  yield* time("unsafe select 1", sql.unsafe(`SELECT 1`))
  yield* time("tx empty (withTransaction)", sql.withTransaction(Effect.void))
  yield* time("Database.transaction empty", Database.transaction(Effect.void))
  yield* time("Database.transaction insert", Database.transaction(sql`INSERT INTO t (a) VALUES (${"x"})`))
  yield* time("withTransaction insert", sql.withTransaction(sql`INSERT INTO t (a) VALUES (${"x"})`))
  yield* time("Database.transaction insert, tracer off", Effect.withTracerEnabled(Database.transaction(sql`INSERT INTO t (a) VALUES (${"x"})`), false))
})
Effect.runPromise(Effect.provide(prog, Database.layer({ filename: "/tmp/prof/mb/m.sqlite" })))
