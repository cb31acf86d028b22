// The CLI as an npm package, for `npm install -g`: `npm run build:npm` writes
// dist/orch-<version>.tgz holding bin/orch.mjs and the two bundles, with the packages the
// bundles import from disk as its dependencies (at the versions this build was tested with)
// and the browser scripts it serves (rapidoc, uplot) bundled in, trimmed to those files: as
// dependencies they would bring their own trees (rapidoc's has native tree-sitter builds).
//   npm install -g ./dist/orch-<version>.tgz   # then `orch` is on PATH
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "./build.mjs"
import { externalsOf, findPackage, readAtRunTime } from "./externals.mjs"

const here = fileURLToPath(new URL(".", import.meta.url))
const repo = path.resolve(here, "../..")
const out = path.join(repo, "dist")
const stage = path.join(out, "npm")
const manifest = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"))

const versionOf = (name) => {
  const dir = findPackage(name, path.join(here, "dist"))
  if (dir === undefined) throw new Error(`${name} is not installed: run npm ci`)
  return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version
}

export const pack = async () => {
  const results = await build({ metafile: true })
  const names = externalsOf(results).needed.sort()
  const bundled = Object.keys(readAtRunTime)
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(path.join(stage, "dist"), { recursive: true })
  for (const name of bundled) {
    const dir = findPackage(name, here)
    const { version, main } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
    for (const file of readAtRunTime[name].filter((f) => f !== "package.json")) {
      fs.cpSync(path.join(dir, file), path.join(stage, "node_modules", name, file), { recursive: true })
    }
    // the files only: no dependencies for npm to fetch
    fs.writeFileSync(path.join(stage, "node_modules", name, "package.json"), JSON.stringify({ name, version, main }))
  }
  fs.cpSync(path.join(here, "bin"), path.join(stage, "bin"), { recursive: true })
  for (const bundle of ["orch.mjs", "tui.mjs"]) fs.copyFileSync(path.join(here, "dist", bundle), path.join(stage, "dist", bundle))
  fs.copyFileSync(path.join(repo, "README.md"), path.join(stage, "README.md"))
  fs.writeFileSync(path.join(stage, "package.json"), `${JSON.stringify({
    name: "orch",
    version: manifest.version,
    description: manifest.description,
    type: "module",
    engines: manifest.engines,
    bin: { orch: "./bin/orch.mjs" },
    files: ["bin", "dist"],
    dependencies: Object.fromEntries([...names, ...bundled].map((name) => [name, versionOf(name)])),
    bundleDependencies: bundled
  }, null, 2)}\n`)
  const file = execFileSync("npm", ["pack", "--pack-destination", out, "--silent"], { cwd: stage, encoding: "utf8" }).trim().split("\n").pop()
  const tarball = path.join(out, file)
  process.stdout.write(`${path.relative(repo, tarball)}: ${(fs.statSync(tarball).size / 1024 / 1024).toFixed(1)} MB, ${names.length} dependencies (${names.join(", ")}), ${bundled.join(" and ")} bundled\n`)
  return tarball
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await pack()
}
