#!/usr/bin/env node
// The installed `orch` command. `--version` answers here, before the bundle is even
// parsed; everything else runs the bundle that `npm run build` writes.
import { existsSync, readFileSync } from "node:fs"

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  process.stdout.write(`${version}\n`)
} else {
  const bundle = new URL("../dist/orch.mjs", import.meta.url)
  if (!existsSync(bundle)) {
    process.stderr.write("orch: the CLI is not built yet; run `npm run build` in the repository first\n")
    process.exit(1)
  }
  await import(bundle.href)
}
