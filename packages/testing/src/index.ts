/** What orch's tests share, one way each: temp folders, a migrated database, the built orch as a child process. */
export * from "./Database.js"
export * from "./Fixture.js"
export * from "./FixtureProcess.js"
export * from "./History.js"
export * from "./Http.js"
export * from "./Orch.js"
export * from "./TempDir.js"
export * from "./Wait.js"
