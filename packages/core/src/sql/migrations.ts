/**
 * Core's own migrations, in order. Each module of core keeps its tables' DDL beside
 * its queries; this record is the one place that numbers them.
 */
import type { Migrations } from "../Migrations.js"
import * as Fencing from "./fencing.js"
import * as Jobs from "./jobs.js"
import * as Rates from "./rates.js"
import * as Resources from "./resources.js"
import * as Retention from "./retention.js"
import * as Schedules from "./schedules.js"

/**
 * Migration 0005 for `orch_migrations` (which Migrations.ts creates, now with BIGINT):
 * `applied_at` becomes BIGINT by a rebuild, inside the transaction that then records 0005.
 */
const migrationsBigintTimes = `
CREATE TABLE orch_migrations_new (
  owner TEXT NOT NULL,
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (owner, id)
);
INSERT INTO orch_migrations_new (owner, id, name, checksum, applied_at)
  SELECT owner, id, name, checksum, applied_at FROM orch_migrations;
DROP TABLE orch_migrations;
ALTER TABLE orch_migrations_new RENAME TO orch_migrations;
`

export const coreMigrations: Migrations = {
  "0001_fencing": Fencing.schema,
  "0002_jobs": Jobs.schema,
  "0003_resources": Resources.schema,
  "0004_schedules": Schedules.schema,
  // resources and schedules were created with BIGINT times already
  "0005_bigint_times": [Fencing.bigintTimes, Jobs.bigintTimes, migrationsBigintTimes].join("\n"),
  "0006_retention_indexes": Retention.indexes,
  "0007_job_history_by_time": Rates.indexes
}
