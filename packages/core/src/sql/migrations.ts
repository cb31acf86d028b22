/**
 * Core's own migrations, in order. Each module of core keeps its tables' DDL beside
 * its queries; this record is the one place that numbers them.
 */
import type { Migrations } from "../Migrations.js"
import * as Changes from "./changes.js"
import * as Fencing from "./fencing.js"
import * as Jobs from "./jobs.js"
import * as Rates from "./rates.js"
import * as Resources from "./resources.js"
import * as Retention from "./retention.js"
import * as Schedules from "./schedules.js"
import * as Singletons from "./singletons.js"

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

/**
 * Where the engines' DDL differs (SQLite's rowid ids against identity columns, INTEGER
 * against BIGINT), a migration is written per dialect. PostgreSQL's scripts create the
 * tables as SQLite's stand after 0005, so its 0005 is empty (it still counts, keeping
 * one numbering for both).
 */
export const coreMigrations: Migrations = {
  "0001_fencing": { sqlite: Fencing.schema, pg: Fencing.schemaPg },
  "0002_jobs": { sqlite: Jobs.schema, pg: Jobs.schemaPg },
  "0003_resources": { sqlite: Resources.schema, pg: Resources.schemaPg },
  "0004_schedules": Schedules.schema,
  // resources and schedules were created with BIGINT times already
  "0005_bigint_times": { sqlite: [Fencing.bigintTimes, Jobs.bigintTimes, migrationsBigintTimes].join("\n"), pg: [] },
  "0006_retention_indexes": Retention.indexes,
  "0007_job_history_by_time": Rates.indexes,
  "0008_change_marks": Changes.schema,
  "0009_singletons": Singletons.schema,
  "0010_jobs_by_change_without_holder": { sqlite: [], pg: Retention.byChangeWithoutHolder }
}
