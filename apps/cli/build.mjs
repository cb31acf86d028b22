// Bundles the CLI into one file, apps/cli/dist/orch.mjs. better-sqlite3 stays external
// (a native addon); dynamic imports stay lazy inside the bundle, so `orch --version`
// evaluates almost nothing and only `orch run` loads the runtime.
import * as esbuild from "esbuild"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))

export const build = () =>
  esbuild.build({
    absWorkingDir: here,
    entryPoints: ["src/bin.ts"],
    outfile: "dist/orch.mjs",
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["better-sqlite3"],
    // CommonJS dependencies bundled into ESM still call require() for Node built-ins
    banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module'; const require = __orchCreateRequire(import.meta.url);" },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning"
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  await build()
}
