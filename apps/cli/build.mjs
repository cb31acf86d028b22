// Bundles the CLI into one file, apps/cli/dist/orch.mjs. better-sqlite3 stays external
// (a native addon); dynamic imports stay lazy inside the bundle, so `orch --version`
// evaluates almost nothing and only `orch run` loads the runtime.
import * as esbuild from "esbuild"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))

// Ink imports React's devtools only when DEV=true; a static import of a package we do
// not ship would still break the bundle's start, so it resolves to an empty module.
const withoutDevtools = {
  name: "without-react-devtools",
  setup(build) {
    build.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: "react-devtools-core", namespace: "empty" }))
    build.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "export default {}", loader: "js" }))
  }
}

/** Bundles `entry` (relative to apps/cli) into `outfile`. */
export const bundle = (entry, outfile) =>
  esbuild.build({
    absWorkingDir: here,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // The Google client loads its protobuf descriptors from its own package files at run time;
    // the AWS clients (the watcher's post_service) stay beside it, loaded on first use as well
    external: ["better-sqlite3", "@google-cloud/compute", "google-gax", "@aws-sdk/*"],
    plugins: [withoutDevtools],
    // CommonJS dependencies bundled into ESM still call require() for Node built-ins
    banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module'; const require = __orchCreateRequire(import.meta.url);" },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning"
  })

export const build = () => bundle("src/bin.ts", "dist/orch.mjs")

if (import.meta.url === `file://${process.argv[1]}`) {
  await build()
}
