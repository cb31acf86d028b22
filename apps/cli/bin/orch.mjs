#!/usr/bin/env node
// The installed `orch` command: runs the bundle that `npm run build` writes.
import { existsSync } from "node:fs"

const bundle = new URL("../dist/orch.mjs", import.meta.url)
if (!existsSync(bundle)) {
  process.stderr.write("orch: the CLI is not built yet; run `npm run build` in the repository first\n")
  process.exit(1)
}
await import(bundle.href)
