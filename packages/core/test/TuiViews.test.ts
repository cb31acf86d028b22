/** `GET /tui/views` and `GET /tui/views/{plugin}/{name}` through a real daemon: plugins' declared views over the API. */
import { describe, expect, it } from "@effect/vitest"
import { tempDir, testDaemonEnv } from "@orch/testing"
import { Context, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as Config from "../src/Config.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"

const NoConfig = Schema.Struct({})

/** A plugin's own service, which only its running services provide. */
class Shelf extends Context.Tag("test/Shelf")<Shelf, { readonly items: ReadonlyArray<string> }>() {}

const get = (url: string) => Effect.promise(async () => {
  const response = await fetch(url)
  return { status: response.status, body: await response.json() as any }
})

describe("GET /tui/views", () => {
  it.scopedLive("lists declared views without reading any; reads one when asked, with its row keys and actions", () =>
    Effect.gen(function*() {
      let reads = 0
      // the slow view answers only when the test lets it
      const gate = yield* Deferred.make<void>()
      const shop = Plugin.make({
        name: "shop",
        description: "three views",
        config: NoConfig,
        services: () => Layer.succeed(Shelf, { items: ["x", "y"] }),
        tui: () => [
          {
            name: "queue",
            title: "Queue",
            read: Effect.sync(() => {
              reads++
              return {
                title: "shop: 2 queued",
                columns: ["ITEM"],
                rows: [["a"], ["b"]],
                keys: [{ item: "a" }, { item: "b/c" }],
                actions: [
                  { key: "d", label: "drop item", method: "DELETE", path: "/items/{item}", role: "operate" },
                  { key: "p", label: "push item", method: "POST", path: "/items/{item}/push", body: { by: 1 }, role: "admin", confirm: false }
                ]
              } satisfies Plugin.TuiPanel
            })
          },
          { name: "slow", title: "Slow", read: Effect.as(Deferred.await(gate), { title: "slow at last", columns: ["X"], rows: [["1"]] }) },
          { name: "shelf", title: "Shelf", read: Effect.map(Shelf, (shelf) => ({ title: "on the shelf", columns: ["ITEM"], rows: shelf.items.map((i) => [i]) })) }
        ]
      })
      const broken = Plugin.make({
        name: "broken",
        description: "views that fail",
        config: NoConfig,
        tui: () => [
          { name: "fails", title: "Fails", read: Effect.fail("no table") },
          {
            name: "bad-key",
            title: "Bad key",
            read: Effect.succeed({ title: "t", columns: [], rows: [], actions: [{ key: "q", label: "quit?", method: "POST" as const, path: "/x", role: "operate" as const }] })
          }
        ]
      })
      const plugins = [shop, broken]
      const dataDir = tempDir("orch-tuiviews-")
      const config = yield* Config.load(plugins, { dataDir, httpHost: "127.0.0.1", httpPort: 0 }, yield* testDaemonEnv(dataDir))
      const { info, running } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "test" })
      yield* Effect.forEach(running, (p) => p.started, { discard: true })

      // the slow view is being read (and waits) while the list answers at once, having read nothing
      const slow = yield* Effect.fork(get(`${info.url}/tui/views/shop/slow`))
      const list = yield* get(`${info.url}/tui/views`)
      expect(list.status).toBe(200)
      expect(list.body).toEqual([
        { plugin: "shop", name: "queue", title: "Queue" },
        { plugin: "shop", name: "slow", title: "Slow" },
        { plugin: "shop", name: "shelf", title: "Shelf" },
        { plugin: "broken", name: "fails", title: "Fails" },
        { plugin: "broken", name: "bad-key", title: "Bad key" }
      ])
      expect(reads).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      expect((yield* Fiber.join(slow)).body.rows).toEqual([["1"]])

      const queue = yield* get(`${info.url}/tui/views/shop/queue`)
      expect(reads).toBe(1)
      expect(queue.body).toEqual({
        plugin: "shop",
        name: "queue",
        title: "shop: 2 queued",
        columns: ["ITEM"],
        rows: [["a"], ["b"]],
        keys: [{ item: "a" }, { item: "b/c" }],
        actions: [
          { key: "d", label: "drop item", method: "DELETE", path: "/shop/items/{item}", role: "operate", confirm: true },
          { key: "p", label: "push item", method: "POST", path: "/shop/items/{item}/push", body: { by: 1 }, role: "admin", confirm: false }
        ]
      })

      // a view read from the plugin's own running services
      expect((yield* get(`${info.url}/tui/views/shop/shelf`)).body.rows).toEqual([["x"], ["y"]])

      const fails = yield* get(`${info.url}/tui/views/broken/fails`)
      expect(fails.status).toBe(503)
      expect(fails.body.message).toContain("view broken/fails is unavailable")
      const badKey = yield* get(`${info.url}/tui/views/broken/bad-key`)
      expect(badKey.status).toBe(503)
      expect(badKey.body.message).toContain("the key q is the TUI's own")

      const missing = yield* get(`${info.url}/tui/views/shop/nope`)
      expect(missing.status).toBe(404)
      expect(missing.body.message).toContain("no view nope")
      expect((yield* get(`${info.url}/tui/views/ghost/queue`)).status).toBe(404)

      // /overview still shows every view as a panel, a failing one saying so
      const overview = yield* get(`${info.url}/overview`)
      expect(overview.body.plugins).toEqual([
        {
          name: "shop",
          panels: [
            { title: "shop: 2 queued", columns: ["ITEM"], rows: [["a"], ["b"]] },
            { title: "slow at last", columns: ["X"], rows: [["1"]] },
            { title: "on the shelf", columns: ["ITEM"], rows: [["x"], ["y"]] }
          ]
        },
        {
          name: "broken",
          panels: [{ title: "Fails: unavailable", columns: [], rows: [] }, { title: "t", columns: [], rows: [] }]
        }
      ])
    }), 20_000)
})
