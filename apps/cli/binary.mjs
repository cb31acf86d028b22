// Builds orch as one executable file, dist/orch (a Node single executable application):
// `npm run build:binary`. It is this Node with one script (src/binary/main.ts, the
// bootstrap) and one asset (`runtime`: the CLI's bundles and the packages they load from
// disk, a gzipped tar the bootstrap unpacks once into a cache folder). Prints its size.
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as tar from "tar"
import { build } from "./build.mjs"
import { closure, externalsOf, findPackage, readAtRunTime } from "./externals.mjs"

const require = createRequire(import.meta.url)
const here = fileURLToPath(new URL(".", import.meta.url))
const repo = path.resolve(here, "../..")
const out = path.join(repo, "dist")
const work = path.join(out, "binary")
const stage = path.join(work, "runtime")
const { version } = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"))

// Files no run reads: types, sourcemaps, docs. A package's own node_modules is copied as
// packages of their own (only those the closure found).
const skipped = (name) => /\.(d\.[cm]?ts|map|md|markdown)$/i.test(name) || name === "node_modules"

// better-sqlite3 ships SQLite's C sources (10 MB) beside its compiled addon: keep what loads.
const keptOf = { ...readAtRunTime, "better-sqlite3": ["package.json", "lib", "build/Release/better_sqlite3.node"] }

const copyPackage = (dir) => {
  const target = path.join(stage, path.relative(repo, dir))
  const kept = keptOf[path.basename(dir)]
  const entries = kept ?? fs.readdirSync(dir).filter((name) => !skipped(name))
  for (const entry of entries) {
    fs.cpSync(path.join(dir, entry), path.join(target, entry), {
      recursive: true,
      dereference: true,
      filter: (source) => !skipped(path.basename(source))
    })
  }
}

const stageRuntime = async (results) => {
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })
  const packages = [...closure(externalsOf(results), path.join(here, "dist")), ...Object.keys(readAtRunTime).map((name) => findPackage(name, here))]
  for (const dir of packages) copyPackage(dir)
  for (const bundle of ["orch.mjs", "tui.mjs"]) fs.copyFileSync(path.join(here, "dist", bundle), path.join(stage, bundle))
  fs.writeFileSync(path.join(stage, "package.json"), JSON.stringify({ name: "orch-runtime", version, type: "module", private: true }))
  const archive = path.join(work, "runtime.tgz")
  await tar.c({ gzip: { level: 9 }, cwd: stage, file: archive, portable: true }, fs.readdirSync(stage))
  return { archive, packages: packages.length }
}

const bootstrap = (hash) =>
  esbuild.build({
    absWorkingDir: here,
    entryPoints: ["src/binary/main.ts"],
    outfile: path.join(work, "main.cjs"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // keep import() of the unpacked bundles as it is: esbuild would turn it into require()
    supported: { "dynamic-import": true },
    define: { __ORCH_VERSION__: JSON.stringify(version), __ORCH_RUNTIME__: JSON.stringify(hash) },
    legalComments: "none",
    logLevel: "warning"
  })

export const buildBinary = async () => {
  fs.mkdirSync(work, { recursive: true })
  const results = await build({ metafile: true })
  const { archive, packages } = await stageRuntime(results)
  const hash = createHash("sha256").update(fs.readFileSync(archive)).digest("hex").slice(0, 12)
  await bootstrap(hash)
  const config = path.join(work, "sea-config.json")
  const blob = path.join(work, "orch.blob")
  fs.writeFileSync(config, JSON.stringify({
    main: path.join(work, "main.cjs"),
    output: blob,
    disableExperimentalSEAWarning: true,
    assets: { runtime: archive }
  }))
  execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: ["ignore", "ignore", "inherit"] })
  const binary = path.join(out, "orch")
  fs.rmSync(binary, { force: true })
  fs.copyFileSync(process.execPath, binary)
  fs.chmodSync(binary, 0o755)
  const { inject } = require("postject")
  await inject(binary, "NODE_SEA_BLOB", fs.readFileSync(blob), { sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2" })
  const mb = (file) => (fs.statSync(file).size / 1024 / 1024).toFixed(1)
  process.stdout.write(`dist/orch: ${mb(binary)} MB (Node ${process.versions.node} ${mb(process.execPath)} MB, runtime ${mb(archive)} MB: the bundles and ${packages} packages)\n`)
  return binary
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildBinary()
}
