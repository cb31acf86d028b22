/**
 * Fixture processes: a test's helper program run as a real child process (several
 * claimers on one database, one of them SIGKILLed, say). What the fixture itself uses
 * is in `FixtureProcess`, which a bundle can hold (this module imports esbuild).
 */
import { Effect } from "effect"
import { build } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Bundles the fixture at `entry` into one file for `node` to run, removed when the scope
 * closes: a bundled process starts in about 0.3 s against the 1.4 s `node --import tsx`
 * takes to compile the sources it imports. It is written under the root's node_modules so
 * that it finds better-sqlite3, which stays out of the bundle.
 */
export const bundleFixture = (entry: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const outfile = path.resolve(
        import.meta.dirname,
        "../../../node_modules/.cache/orch-tests",
        `${path.basename(entry, path.extname(entry))}-${process.pid}.mjs`
      )
      await build({
        entryPoints: [entry],
        outfile,
        bundle: true,
        platform: "node",
        format: "esm",
        external: ["better-sqlite3"],
        // CommonJS dependencies bundled into ESM (pg) still call require() for Node built-ins
        banner: { js: "import { createRequire as __fixtureRequire } from 'node:module'; const require = __fixtureRequire(import.meta.url);" },
        logLevel: "warning"
      })
      return outfile
    }),
    (outfile) => Effect.sync(() => fs.rmSync(outfile, { force: true }))
  )
