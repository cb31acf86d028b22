/**
 * Core's own migrations, in order. Each module of core keeps its tables' DDL beside
 * its queries; this record is the one place that numbers them.
 */
import type { Migrations } from "../Migrations.js"
import * as Fencing from "./fencing.js"

export const coreMigrations: Migrations = {
  "0001_fencing": Fencing.schema
}
