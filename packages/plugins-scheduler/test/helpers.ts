/** Test support: temporary folders, a migrated core database, descriptor files. */
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { coreMigrations } from "@orch/core/sql/migrations"
import { Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { DescriptorFile } from "../src/Descriptor.js"

const made = new Set<string>()

/** A new folder under the OS temp dir, removed when the test process exits. */
export const tempDir = (prefix = "orch-scheduler-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (made.size === 0) process.once("exit", () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
  made.add(dir)
  return dir
}

/** Core's database in a new file, migrated as the daemon's is. */
export const coreDatabase = (filename = path.join(tempDir(), "orch.sqlite")) =>
  Layer.effectDiscard(Migrations.apply("core", coreMigrations)).pipe(
    Layer.provideMerge(Database.layer({ filename })),
    Layer.orDie
  )

export const writeDescriptor = (dir: string, name: string, descriptor: DescriptorFile | string) => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.json`), typeof descriptor === "string" ? descriptor : JSON.stringify(descriptor, null, 2))
}

/** A command that runs `source` in this Node (as `node -e`). */
export const nodeScript = (source: string): readonly [string, ...Array<string>] => ["$node", "-e", source]

export const isRoot = process.getuid?.() === 0
