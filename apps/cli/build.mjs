// Bundles the CLI into one file, apps/cli/dist/orch.mjs, and the interactive TUI alone into
// apps/cli/dist/tui.mjs (a long-lived process: it should hold only what it uses).
// better-sqlite3 stays external (a native addon); dynamic imports stay lazy inside the
// bundle, so `orch --version` evaluates almost nothing and only `orch run` loads the runtime.
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

// better-sqlite3 is a native addon. The Google client loads its protobuf descriptors from its
// own package files at run time; the AWS clients (the watcher's post_service) stay beside
// it, loaded on first use as well.
export const external = ["better-sqlite3", "@google-cloud/compute", "google-gax", "@aws-sdk/*"]

/** Bundles `entry` (relative to apps/cli) into `outfile`. */
export const bundle = (entry, outfile, options = {}) =>
  esbuild.build({
    ...options,
    absWorkingDir: here,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external,
    plugins: [withoutDevtools],
    // CommonJS dependencies bundled into ESM still call require() for Node built-ins
    banner: { js: "import { createRequire as __orchCreateRequire } from 'node:module'; const require = __orchCreateRequire(import.meta.url);" },
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning"
  })

/**
 * The CLI, and the TUI's own light bundle that `bin/orch.mjs` starts for `orch tui`;
 * `extra` esbuild options for both (`binary.mjs` asks for the metafile).
 */
export const build = (extra = {}) => Promise.all([bundle("src/bin.ts", "dist/orch.mjs", extra), bundle("src/tui/Main.ts", "dist/tui.mjs", {
    ...extra,
    // React's production build: its development build (twice the code, and checks on every
    // render) is for React's own warnings, which a user of the TUI does not read
    define: { "process.env.NODE_ENV": "\"production\"" },
    // a third of the source V8 keeps in memory for as long as the TUI runs (the sourcemap maps it back)
    minify: true
  })])

if (import.meta.url === `file://${process.argv[1]}`) {
  await build()
}
