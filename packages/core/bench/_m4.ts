import { Effect, Schema, Either, Clock } from "effect"
const S = Schema.Struct({ n: Schema.Number, url: Schema.String })
const enc = Schema.encodeEither(S), dec = Schema.decodeUnknownEither(S)
const N = 100000
let t = performance.now()
for (let i = 0; i < N; i++) enc({ n: i, url: "https://example.com/1" })
console.log("encodeEither", ((performance.now() - t) * 1000 / N).toFixed(2), "us")
t = performance.now()
for (let i = 0; i < N; i++) dec({ n: i, url: "https://example.com/1" })
console.log("decodeEither", ((performance.now() - t) * 1000 / N).toFixed(2), "us")
const run = (label: string, e: Effect.Effect<unknown>) => { const t = performance.now(); Effect.runSync(Effect.forEach(Array.from({length: N}), () => e, {discard: true})); console.log(label, ((performance.now() - t) * 1000 / N).toFixed(2), "us") }
run("Effect.gen trivial", Effect.gen(function*() { return 1 }))
run("Clock.currentTimeMillis", Clock.currentTimeMillis)
run("gen with 3 yields", Effect.gen(function*() { yield* Effect.succeed(1); yield* Effect.succeed(2); return yield* Clock.currentTimeMillis }))
