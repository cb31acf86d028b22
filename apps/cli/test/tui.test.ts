/**
 * The interactive TUI's components (`ink-testing-library`) over a real daemon started in
 * this process (`Runtime.start`: 127.0.0.1:0, a real SQLite file), read through its API only;
 * and its layout and keys as pure functions.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Config from "@orch/core/Config"
import * as DaemonClient from "@orch/core/DaemonClient"
import { jsonError } from "@orch/core/Http"
import { JobKind, JobQueue } from "@orch/core/Jobs"
import * as Plugin from "@orch/core/Plugin"
import * as Runtime from "@orch/core/Runtime"
import { tempDir, testDaemonEnv, waitFor } from "@orch/testing"
import { Effect, Exit, Layer, Redacted, Schedule, Schema, Scope } from "effect"
import { render } from "ink-testing-library"
import { createElement } from "react"
import * as Api from "../src/tui/Api.js"
import { App } from "../src/tui/App.js"
import * as Keys from "../src/tui/Keys.js"
import { columnWidths, fit, tableLine } from "../src/tui/Layout.js"

const Chore = JobKind.simple({ plugin: "crew", name: "chore", payload: Schema.Struct({ n: Schema.Number }), result: Schema.Struct({}) })

// who is on duty: the rota view's rows, changed by its action's route (a 409 when there is nothing to change)
const rota = new Map<string, string>([["ada", "on duty"]])

// jobs that stay queued (no worker), enqueued through a route; a view of the plugin's own, with an action
const crew = Plugin.make({
  name: "crew",
  description: "enqueues chores on request",
  config: Schema.Struct({}),
  jobKinds: [Chore],
  http: () => ({
    routes: Layer.mergeAll(
      HttpLayerRouter.add(
        "POST",
        "/chores",
        Effect.gen(function*() {
          const { job } = yield* (yield* JobQueue).enqueue(Chore, { n: 7 })
          return HttpServerResponse.unsafeJson({ id: job.id })
        }).pipe(Effect.orDie)
      ),
      HttpLayerRouter.add(
        "POST",
        "/rota/:who/off",
        Effect.map(HttpRouter.RouteContext, ({ params }) => {
          const who = params.who ?? ""
          if (rota.get(who) !== "on duty") return jsonError(409, `${who} is not on duty`)
          rota.set(who, "off")
          return HttpServerResponse.unsafeJson({ who, state: "off" })
        })
      )
    )
  }),
  tui: () => [{
    name: "rota",
    title: "Rota",
    read: Effect.sync(() => ({
      title: "crew: the rota",
      columns: ["WHO", "STATE"],
      rows: [...rota].map(([who, state]) => [who, state]),
      keys: [...rota.keys()].map((who) => ({ who })),
      actions: [{ key: "o", label: "send home", method: "POST" as const, path: "/rota/{who}/off", role: "operate" as const }]
    }))
  }]
})

const readToken = "tui-test-read-token-0123456789"
const operateToken = "tui-test-operate-token-0123456"
const adminToken = "tui-test-admin-token-012345678"

const daemon = Effect.suspend(() => daemonAt(tempDir("orch-tui-"), 0))

function daemonAt(dataDir: string, httpPort: number) {
  return Effect.gen(function*() {
  const loaded = yield* Config.load([crew], { dataDir, httpHost: "127.0.0.1", httpPort }, yield* testDaemonEnv(dataDir))
  const tokens = [
    { name: "viewer", token: Redacted.make(readToken), role: "read" as const },
    { name: "hand", token: Redacted.make(operateToken), role: "operate" as const },
    { name: "boss", token: Redacted.make(adminToken), role: "admin" as const }
  ]
  const config = { ...loaded, core: { ...loaded.core, auth: { ...loaded.core.auth, tokens } } }
  const { info } = yield* Runtime.start({ config, available: [crew], selected: [crew], version: "test" })
  return info.url
  })
}

// again on a failed connection: after a daemon's restart on the same port, fetch's pool may
// still hold a connection to the one that went away (undici: "other side closed")
const enqueue = (url: string) =>
  Effect.tryPromise(() =>
    fetch(`${url}/crew/chores`, { method: "POST", headers: { authorization: `Bearer ${adminToken}` } })
      .then((r) => r.json() as Promise<{ id: number }>)
  ).pipe(Effect.retry({ times: 3, schedule: Schedule.spaced("100 millis") }), Effect.orDie)

const apiFor = (url: string, token: string) => Api.make.pipe(Effect.provide(DaemonClient.layer({ url, token })))

/** The app at 80×24, its frame read as lines, keys typed into it. */
const mount = (api: Api.TuiApi, view?: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const screen = render(createElement(App, { api, view }))
      Object.defineProperty(screen.stdout, "columns", { value: 80, configurable: true })
      Object.defineProperty(screen.stdout, "rows", { value: 24, configurable: true })
      screen.stdout.emit("resize")
      const lines = () => (screen.lastFrame() ?? "").split("\n")
      const until = (what: string, holds: (frame: string) => boolean) =>
        waitFor(what, Effect.sync(() => (holds(screen.lastFrame() ?? "") ? screen.lastFrame() : undefined)), 10_000).pipe(
          Effect.catchAllDefect(() => Effect.dieMessage(`timed out waiting until ${what}; the screen:\n${screen.lastFrame()}`))
        )
      const type = (...keys: Array<string>) =>
        Effect.forEach(keys, (key) => Effect.zipRight(Effect.sync(() => screen.stdin.write(key)), Effect.sleep("5 millis")), { discard: true })
      return { screen, lines, until, type }
    }),
    ({ screen }) => Effect.sync(() => screen.unmount())
  )

const enter = "\r"
const escape = "\u001b"

describe("tui layout and keys", () => {
  it("fits every line to the width with an ellipsis, shrinking the widest column first", () => {
    expect(fit("abcdef", 4)).toBe("abc…")
    const widths = columnWidths(["ID", "ERROR"], [["1", "x".repeat(200)]], 40)
    expect(widths[0]).toBe(2)
    const line = tableLine(["1", "x".repeat(200)], widths, 40)
    expect(line.length).toBeLessThanOrEqual(40)
    expect(line.endsWith("…")).toBe(true)
  })

  it("`:` completes view names; Enter switches; Esc leaves details, then clears the filter", () => {
    const ctx = { names: ["overview", "jobs", "resources", "crew/rota"], rows: 3, selectedJob: 9, page: 10 }
    let state = Keys.step(Keys.initial(), ":", {}, ctx).state
    state = Keys.step(state, "c", {}, ctx).state
    state = Keys.step(state, "", { tab: true }, ctx).state
    expect(state.mode).toEqual({ _tag: "command", text: "crew/rota" })
    state = Keys.step(state, "", { return: true }, ctx).state
    expect(state.view).toBe("crew/rota")
    state = Keys.step({ ...Keys.initial("jobs"), filter: "x" }, "", { return: true }, ctx).state
    expect(state.detail).toBe(9)
    state = Keys.step(state, "", { escape: true }, ctx).state
    expect(state.detail).toBeUndefined()
    expect(Keys.step(state, "", { escape: true }, ctx).state.filter).toBe("")
    expect(Keys.step(state, "q", {}, ctx).effect).toEqual({ _tag: "quit" })
  })
})

describe("tui over a real daemon", () => {
  it.scopedLive("80×24: header, overview, `:jobs`, Enter shows a job's history, cancel asks and cancels it in the daemon", () =>
    Effect.gen(function*() {
      const url = yield* daemon
      const { id } = yield* enqueue(url)
      const api = yield* apiFor(url, adminToken)
      const tui = yield* mount(api)
      yield* tui.until("the overview shows the queue", (f) => /crew\s+chore\s+queued\s+1/.test(f) && f.includes("● live"))
      expect(tui.lines().length).toBeLessThanOrEqual(23)
      expect(tui.lines().every((line) => line.length <= 80)).toBe(true)
      expect(tui.lines()[0]).toContain(`orch  ${url}`)
      yield* tui.type(":", "j", "o", "b", "s", enter)
      yield* tui.until("the jobs view lists the job", (f) => f.includes("jobs (1)") && new RegExp(`${id}\\s+crew\\s+chore\\s+queued`).test(f))
      // a second job, pushed by the daemon's /events without a key pressed
      const second = yield* enqueue(url)
      yield* tui.until("the jobs view shows the new job", (f) => f.includes("jobs (2)") && f.includes(`${second.id}  `))
      yield* tui.type("G", enter)  // the oldest: the list is newest first
      yield* tui.until("the job's details show its history", (f) => f.includes(`job ${id}: crew/chore queued`) && f.includes("history (1)"))
      yield* tui.type("c")
      yield* tui.until("the confirmation", (f) => f.includes(`cancel job ${id}? y to confirm`))
      yield* tui.type("y")
      yield* tui.until("the cancel is done", (f) => f.includes(`cancel job ${id}: done, now cancelled`) && f.includes("history (2)"))
      const answer = yield* Effect.promise(() =>
        fetch(`${url}/jobs/${id}`, { headers: { authorization: `Bearer ${readToken}` } }).then((r) => r.json() as Promise<any>)
      )
      expect(answer.job.state).toBe("cancelled")
      yield* tui.type(escape, "?")
      yield* tui.until("the help lists the keys", (f) => f.includes("filter the rows") && f.includes("quit"))
      yield* tui.type(" ", ":", "c", "r", "e", "w", "/", "r", "o", enter)
      yield* tui.until("the plugin's view, fetched over the API", (f) => f.includes("crew/rota: crew: the rota") && f.includes("ada"))
      expect(tui.lines().every((line) => line.length <= 80)).toBe(true)
    }), 30_000)

  it.scopedLive("the daemon going away shows in the header; the TUI reconnects by itself when it is back", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("orch-tui-gone-")
      const first = yield* Scope.make()
      const url = yield* daemonAt(dataDir, 0).pipe(Scope.extend(first))
      const tui = yield* mount(yield* apiFor(url, adminToken), "jobs")
      yield* tui.until("live", (f) => f.includes("● live"))
      yield* Scope.close(first, Exit.void)
      yield* tui.until("the daemon shown gone", (f) => f.split("\n")[0]!.includes("✕ daemon unreachable, reconnecting"))
      yield* daemonAt(dataDir, Number(new URL(url).port))
      yield* enqueue(url)
      yield* tui.until("live again, with the new job", (f) => f.includes("● live") && f.includes("jobs (1)"))
    }), 30_000)

  it.scopedLive("an action the token may not do says so", () =>
    Effect.gen(function*() {
      const url = yield* daemon
      const { id } = yield* enqueue(url)
      const tui = yield* mount(yield* apiFor(url, readToken), "jobs")
      yield* tui.until("the jobs view", (f) => f.includes("jobs (1)"))
      yield* tui.type("c", "y")
      yield* tui.until("the refusal", (f) => f.includes("not allowed: this token may not cancel job (403, needs operate)"))
      expect(tui.lines()[1]).toContain("403")
      expect(id).toBeGreaterThan(0)
    }), 30_000)

  it.scopedLive("a plugin view's action: listed, asked, done in the daemon; refused when there is nothing to do; a read token is told it may not", () =>
    Effect.gen(function*() {
      rota.clear()
      rota.set("ada", "on duty").set("bob", "on duty")
      const url = yield* daemon
      const tui = yield* mount(yield* apiFor(url, operateToken), "crew/rota")
      yield* tui.until("the view with its action in the footer", (f) => /ada\s+on duty/.test(f) && f.includes("o send home"))
      yield* tui.type("?")
      yield* tui.until("the help lists the action", (f) => f.includes("send home (selected row; needs operate, asks y/n): POST /crew/r"))
      yield* tui.type(escape, "o")
      yield* tui.until("the question", (f) => f.includes("send home ada? y to confirm"))
      yield* tui.type("n")
      yield* tui.until("not done", (f) => f.includes("send home ada: not done"))
      expect(rota.get("ada")).toBe("on duty")
      yield* tui.type("o", "y")
      yield* tui.until("done, and the view reloaded", (f) => f.includes("send home ada: done, now off") && /ada\s+off/.test(f))
      const view = yield* Effect.promise(() =>
        fetch(`${url}/tui/views/crew/rota`, { headers: { authorization: `Bearer ${readToken}` } }).then((r) => r.json() as Promise<any>)
      )
      expect(view.rows).toEqual([["ada", "off"], ["bob", "on duty"]])
      yield* tui.type("o", "y")
      yield* tui.until("the daemon's refusal, in its words", (f) => f.includes("send home ada: refused by the daemon (409): ada is not on duty"))

      const reader = yield* mount(yield* apiFor(url, readToken), "crew/rota")
      yield* reader.until("the view", (f) => /bob\s+on duty/.test(f))
      yield* reader.type("j", "o", "y")
      yield* reader.until("the refusal", (f) => f.includes("not allowed: this token may not send home (403, needs operate)"))
      expect(rota.get("bob")).toBe("on duty")
      expect(reader.lines().every((line) => line.length <= 80)).toBe(true)
    }), 30_000)
})
