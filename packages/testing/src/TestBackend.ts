/**
 * The engine a pass of the suite runs on: `ORCH_TEST_BACKEND=sqlite` (the default) or
 * `postgres`. `npm test` runs both passes, one after the other. In the postgres pass every
 * database a test names by a SQLite path (`testDatabase(file)`, a daemon's data folder)
 * is a PostgreSQL database of its own instead (see `Postgres.databaseFor`).
 */
const chosen = process.env.ORCH_TEST_BACKEND ?? "sqlite"
if (chosen !== "sqlite" && chosen !== "postgres" && chosen !== "") {
  throw new Error(`ORCH_TEST_BACKEND is "${chosen}": expected sqlite or postgres`)
}

export const testBackend: "sqlite" | "postgres" = chosen === "postgres" ? "postgres" : "sqlite"

/** For `describe.skipIf(sqliteOnly)("… (SQLite only: <why>)", …)`: true in the postgres pass. */
export const sqliteOnly: boolean = testBackend !== "sqlite"
