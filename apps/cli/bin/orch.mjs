#!/usr/bin/env node
// The installed `orch` command. `--version` answers here, before the bundle is even
// parsed; `orch tui …` starts the TUI's own light bundle (it hands back what it does not
// serve: --help, a config file, config flags); everything else runs the bundle of the CLI.
// `npm run build` writes both.
import { existsSync, readFileSync } from "node:fs"

/** The bundle `name` of dist/, or a clear word when the CLI was not built. */
const built = (name) => {
  const bundle = new URL(`../dist/${name}`, import.meta.url)
  if (!existsSync(bundle)) {
    process.stderr.write("orch: the CLI is not built yet; run `npm run build` in the repository first\n")
    process.exit(1)
  }
  return bundle.href
}

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  process.stdout.write(`${version}\n`)
} else if (!(argv[0] === "tui" && (await import(built("tui.mjs"))).start(argv.slice(1)))) {
  await import(built("orch.mjs"))
}
