/** A real SQLite file, migrated like the daemon's, for tests of core's services and plugins over them. */
import * as Database from "@orch/core/Database"
import * as Migrations from "@orch/core/Migrations"
import { coreMigrations } from "@orch/core/sql/migrations"
import { Layer } from "effect"
import * as path from "node:path"
import { tempDir } from "./TempDir.js"

/** Opens `filename` (default: a new file in a temp folder) and applies core's migrations. */
export const testDatabase = (filename = path.join(tempDir(), "orch.sqlite")) =>
  Layer.effectDiscard(Migrations.apply("core", coreMigrations)).pipe(
    Layer.provideMerge(Database.layer({ filename })),
    Layer.orDie
  )
