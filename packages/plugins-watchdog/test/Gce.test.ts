/**
 * The `gce` provider: the real `@google-cloud/compute` client (REST) talking HTTP/JSON
 * to the fake Compute Engine, without credentials.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as Gce from "../src/Gce.js"
import { Fleet } from "./fakes/Fleet.js"
import { configFor } from "./support.js"

const A = "us-central1-a--tor--agent1"

const setup = Effect.gen(function*() {
  const fleet = yield* Effect.acquireRelease(
    Effect.promise(() => new Fleet({ wpt: { locations: [{ id: A }] }, agents: false, waitMs: 100 }).start()),
    (fleet) => Effect.promise(() => fleet.close())
  )
  const config = configFor({ wptUrl: fleet.wpt.url, gcePort: fleet.gce.port }, {
    provider: "gce",
    gce: { serviceAccount: "agents@test-project.iam.gserviceaccount.com", metadata: { "shutdown-script": "poweroff" } }
  })
  const provider = Gce.make(config)
  yield* Effect.addFinalizer(() => provider.close)
  return { fleet, provider }
})

describe("gce provider", () => {
  it.scoped("speaks REST with JSON bodies and no credentials, and waits on zone operations", () =>
    Effect.gen(function*() {
      const { fleet, provider } = yield* setup
      expect(yield* provider.list(["us-central1-a"])).toEqual([])
      expect(yield* provider.create({ name: A, zone: "us-central1-a", metadata: { wpt_data: "wpt_server=w wpt_loc=l" } })).toBe("done")
      const [listed] = yield* provider.list(["us-central1-a"])
      expect(listed).toEqual({ name: A, zone: "us-central1-a", status: "RUNNING", id: fleet.gce.instances.get(`us-central1-a/${A}`)!.id })
      for (const step of ["stop", "start", "reset"] as const) expect(yield* provider[step](listed!)).toBe("done")
      expect(yield* provider.remove(listed!)).toBe("done")
      // deleting what is already gone is what a delete wants
      expect(yield* provider.remove(listed!)).toBe("done")

      const calls = fleet.gce.calls
      expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
        "GET /compute/v1/projects/test-project/zones/us-central1-a/instances",
        "POST /compute/v1/projects/test-project/zones/us-central1-a/instances",
        "GET /compute/v1/projects/test-project/zones/us-central1-a/instances",
        `POST /compute/v1/projects/test-project/zones/us-central1-a/instances/${A}/stop`,
        `POST /compute/v1/projects/test-project/zones/us-central1-a/instances/${A}/start`,
        `POST /compute/v1/projects/test-project/zones/us-central1-a/instances/${A}/reset`,
        `DELETE /compute/v1/projects/test-project/zones/us-central1-a/instances/${A}`,
        `DELETE /compute/v1/projects/test-project/zones/us-central1-a/instances/${A}`
      ])
      for (const call of calls) {
        expect(call.headers.authorization).toBeUndefined()
        expect(call.headers["x-goog-api-client"]).toMatch(/gax\/\S+-fallback .*rest\//)
      }
      const insert = JSON.parse(calls[1]!.body)
      expect(calls[1]!.headers["content-type"]).toContain("application/json")
      expect(insert).toMatchObject({
        name: A,
        machineType: "zones/us-central1-a/machineTypes/n1-standard-2",
        disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: "projects/test-project/global/images/wptagent-image" } }],
        networkInterfaces: [{ network: "global/networks/default", accessConfigs: [{ type: "ONE_TO_ONE_NAT" }] }],
        serviceAccounts: [{ email: "agents@test-project.iam.gserviceaccount.com" }],
        metadata: { items: [{ key: "wpt_data", value: "wpt_server=w wpt_loc=l" }] }
      })
    }))

  it.scoped("reports the API's errors and an operation's own error as ProviderError, and an operation still running as pending", () =>
    Effect.gen(function*() {
      const { fleet, provider } = yield* setup
      fleet.gce.failNext.set("list", 1)
      const failed = yield* Effect.either(provider.list(["us-central1-a"]))
      expect(Either.isLeft(failed) && failed.left.message).toMatch(/^list: .*Internal error/)
      const ghost = { name: "us-central1-a--tor--ghost", zone: "us-central1-a", status: "RUNNING" as const, id: "1" }
      const missing = yield* Effect.either(provider.start(ghost))
      expect(Either.isLeft(missing) && missing.left).toMatchObject({ _tag: "ProviderError", operation: "start", notFound: true })
      const stopped = fleet.gce.seed({ name: A, zone: "us-central1-a", status: "TERMINATED" })
      const reset = yield* Effect.either(provider.reset({ name: A, zone: "us-central1-a", status: "TERMINATED", id: stopped.id }))
      expect(Either.isLeft(reset) && reset.left.message).toBe(`reset ${A}: The instance '${A}' is not running.`)
      fleet.gce.holdOperations = true
      const slow = Gce.make(configFor({ wptUrl: fleet.wpt.url, gcePort: fleet.gce.port }, { provider: "gce", controller: { operationTimeoutMs: 150 } }))
      yield* Effect.addFinalizer(() => slow.close)
      expect(yield* slow.start({ name: A, zone: "us-central1-a", status: "TERMINATED", id: stopped.id })).toBe("pending")
      expect(fleet.gce.instances.get(`us-central1-a/${A}`)!.status).toBe("STAGING")
      const waits = fleet.gce.callsOf("wait")
      expect(waits.length).toBeGreaterThanOrEqual(1)
      expect(waits[0]!.path).toMatch(/^\/compute\/v1\/projects\/test-project\/zones\/us-central1-a\/operations\/operation-\d+\/wait$/)
      const noImage = Gce.make(configFor({ wptUrl: fleet.wpt.url, gcePort: fleet.gce.port }, { provider: "gce", gce: { image: undefined } as any }))
      yield* Effect.addFinalizer(() => noImage.close)
      const refused = yield* Effect.either(noImage.create({ name: "us-central1-a--tor--x", zone: "us-central1-a", metadata: {} }))
      expect(Either.isLeft(refused) && refused.left.message).toBe("gce.image is not configured")
    }))
})
