/** `GET /tui/views` and `GET /tui/views/{plugin}/{name}` through a real daemon: plugins' views over the API. */
import { describe, expect, it } from "@effect/vitest"
import { tempDir } from "@orch/testing"
import { Effect, Schema } from "effect"
import * as Config from "../src/Config.js"
import * as Plugin from "../src/Plugin.js"
import * as Runtime from "../src/Runtime.js"

const NoConfig = Schema.Struct({})

const shop = Plugin.make({
  name: "shop",
  description: "two views",
  config: NoConfig,
  tui: () =>
    Effect.succeed([
      { name: "queue", title: "shop: 2 queued", columns: ["ITEM"], rows: [["a"], ["b"]] },
      { title: "Shelves by Aisle", columns: ["AISLE"], rows: [] }
    ])
})

const broken = Plugin.make({ name: "broken", description: "a view that fails", config: NoConfig, tui: () => Effect.fail("no table") })

const get = (url: string) => Effect.promise(async () => {
  const response = await fetch(url)
  return { status: response.status, body: await response.json() as any }
})

describe("GET /tui/views", () => {
  it.scopedLive("lists each plugin's views by name and serves one; a missing one is a 404, a failing one says so", () =>
    Effect.gen(function*() {
      const plugins = [shop, broken]
      const config = yield* Config.load(plugins, { dataDir: tempDir("orch-tuiviews-"), httpHost: "127.0.0.1", httpPort: 0 }, {})
      const { info } = yield* Runtime.start({ config, available: plugins, selected: plugins, version: "test" })
      const list = yield* get(`${info.url}/tui/views`)
      expect(list.status).toBe(200)
      expect(list.body).toEqual([
        { plugin: "shop", name: "queue", title: "shop: 2 queued" },
        { plugin: "shop", name: "shelves-by-aisle", title: "Shelves by Aisle" },
        { plugin: "broken", name: "unavailable", title: "broken: unavailable" }
      ])
      const queue = yield* get(`${info.url}/tui/views/shop/queue`)
      expect(queue.body).toEqual({ plugin: "shop", name: "queue", title: "shop: 2 queued", columns: ["ITEM"], rows: [["a"], ["b"]] })
      expect((yield* get(`${info.url}/tui/views/shop/shelves-by-aisle`)).body.columns).toEqual(["AISLE"])
      const missing = yield* get(`${info.url}/tui/views/shop/nope`)
      expect(missing.status).toBe(404)
      expect(missing.body.message).toContain("no view nope")
      expect((yield* get(`${info.url}/tui/views/ghost/queue`)).status).toBe(404)
    }), 20_000)
})
