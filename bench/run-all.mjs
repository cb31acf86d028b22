// `npm run bench`: runs every benchmark (packages/*/bench/*.ts, apps/*/bench/*.ts) one
// after another, each in its own Node process, and prints what each prints.
// Files whose name starts with "_" are helpers, not benchmarks. `npm run bench -- NAME…` runs
// those whose file name (queue, watcher, bench…) or package (core, allocator, watcher…) is a NAME;
// from the first argument that starts with "--" on, arguments go to each benchmark run
// (`npm run bench -- queue --backend postgres`).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const firstOption = process.argv.slice(2).findIndex((arg) => arg.startsWith("--"))
const only = firstOption < 0 ? process.argv.slice(2) : process.argv.slice(2, 2 + firstOption)
const forwarded = firstOption < 0 ? [] : process.argv.slice(2 + firstOption)
const benches = ["packages", "apps"].flatMap((group) =>
  fs.readdirSync(path.join(root, group)).flatMap((pkg) => {
    const dir = path.join(root, group, pkg, "bench")
    if (!fs.existsSync(dir)) return []
    return fs.readdirSync(dir)
      .filter((file) => /\.(ts|mts|mjs)$/.test(file) && !file.startsWith("_"))
      .map((file) => path.join(dir, file))
  })
).filter((file) => {
  const base = path.basename(file).replace(/\.[^.]+$/, "")
  const pkg = path.basename(path.dirname(path.dirname(file))).replace(/^plugins-/, "")
  return only.length === 0 || only.some((name) => name === base || name === pkg || path.relative(root, file) === name)
})

let failed = 0
for (const file of benches) {
  console.log(`\n== ${path.relative(root, file)}`)
  const result = spawnSync(process.execPath, ["--import", "tsx", file, ...forwarded], { cwd: root, stdio: "inherit" })
  if (result.status !== 0) failed++
}
console.log(`\n${benches.length} benchmark(s) run, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
