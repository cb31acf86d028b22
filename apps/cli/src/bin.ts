#!/usr/bin/env node
/**
 * The `orch` executable. `--version` answers before anything else is loaded; every
 * other command loads the command tree, and only commands that need it load the runtime.
 */
import packageJson from "../package.json" with { type: "json" }

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  process.stdout.write(`${packageJson.version}\n`)
} else {
  const [{ main }, { plugins }] = await Promise.all([import("./main.js"), import("./plugins.js")])
  main(plugins, process.argv)
}
