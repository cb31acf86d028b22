// Builds the real `orch` bundle and the test bundle (orch plus the demo plugin) once
// before the tests that drive them as child processes.
import * as esbuild from "esbuild"
import { fileURLToPath } from "node:url"
// @ts-expect-error: a plain ESM build script without types
import { build } from "../build.mjs"

export default async function setup() {
  await build()
  await esbuild.build({
    absWorkingDir: fileURLToPath(new URL("..", import.meta.url)),
    entryPoints: ["test/fixtures/orch-demo.ts"],
    outfile: "dist/test/orch-demo.mjs",
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["better-sqlite3"],
    banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module'; const require = __orchCreateRequire(import.meta.url);" },
    logLevel: "warning"
  })
}
