/**
 * Core's own migrations, in order. Each module of core keeps its tables' DDL beside
 * its queries; this record is the one place that numbers them.
 */
import type { Migrations } from "../Migrations.js"
import * as Fencing from "./fencing.js"
import * as Jobs from "./jobs.js"
import * as Resources from "./resources.js"
import * as Schedules from "./schedules.js"

export const coreMigrations: Migrations = {
  "0001_fencing": Fencing.schema,
  "0002_jobs": Jobs.schema,
  "0003_resources": Resources.schema,
  "0004_schedules": Schedules.schema
}
