// Builds the real `orch` bundle and the test bundle (orch plus the demo plugin) once
// before the tests that drive them as child processes.
// @ts-expect-error: a plain ESM build script without types
import { build, bundle } from "../build.mjs"

export default async function setup() {
  await build()
  await bundle("test/fixtures/orch-demo.ts", "dist/test/orch-demo.mjs")
}
