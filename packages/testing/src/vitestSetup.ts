/**
 * vitest's setup file (`setupFiles` in vitest.config.ts): runs in every test file, before
 * it, and drops the PostgreSQL databases the file made (`Postgres.dropDatabases`) after it.
 */
import { afterAll } from "vitest"
import { dropDatabases } from "./Postgres.js"

afterAll(dropDatabases)
