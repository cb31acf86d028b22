/** Test support: a real SQLite file in a fresh temporary folder, migrated like the daemon's. */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Database from "../src/Database.js"
import * as Migrations from "../src/Migrations.js"
import { coreMigrations } from "../src/sql/migrations.js"

/** A new empty folder under the OS temp dir, removed when the test process exits. */
const made = new Set<string>()

export const tempDir = (prefix = "orch-test-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (made.size === 0) process.once("exit", () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
  made.add(dir)
  return dir
}

/** Opens `filename` (default: a new temp file) and applies core's migrations. */
export const testDatabase = (filename = path.join(tempDir(), "orch.sqlite")) =>
  Layer.effectDiscard(Migrations.apply("core", coreMigrations)).pipe(
    Layer.provideMerge(Database.layer({ filename })),
    Layer.orDie
  )

export const withFreshDatabase = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, testDatabase())
