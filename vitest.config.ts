import * as net from "node:net"
import { defineConfig } from "vitest/config"

// One run over every workspace: tests live in each package's test/ folder. A run is one pass
// of the suite on one engine, ORCH_TEST_BACKEND=sqlite (the default) or postgres; `npm test`
// runs both (see @orch/testing's TestBackend).
const postgresPass = process.env.ORCH_TEST_BACKEND === "postgres"
const postgresUrl = new URL(process.env.ORCH_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test")

/** Whether something accepts connections at the server's address (the tests say more when it is not PostgreSQL). */
const listening = () =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: postgresUrl.hostname, port: Number(postgresUrl.port || 5432), timeout: 3_000 })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once("connect", () => done(true)).once("error", () => done(false)).once("timeout", () => done(false))
  })

export default defineConfig(async () => {
  if (postgresPass && !(await listening())) {
    const message = `the postgres pass needs PostgreSQL at ${postgresUrl.host} (set ORCH_TEST_POSTGRES_URL to another server) and nothing listens there`
    // under CI the pass fails; elsewhere it is skipped, loudly, so a machine without PostgreSQL runs the SQLite pass
    if (process.env.CI) throw new Error(`${message}; CI is set, so the pass fails`)
    console.warn(`${message}; CI is unset, so the pass is skipped`)
    return { test: { include: [], passWithNoTests: true } }
  }
  return {
    test: {
      include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: "forks",
      globalSetup: ["apps/cli/test/globalSetup.ts"],
      setupFiles: ["packages/testing/src/vitestSetup.ts"],
      reporters: ["default", "./vitest.summary.ts"]
    }
  }
})
