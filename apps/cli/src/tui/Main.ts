/**
 * The TUI's own light entry, bundled alone as `dist/tui.mjs`: `bin/orch.mjs` starts it
 * for `orch tui …` so that the TUI, which a user keeps open for hours, holds only itself,
 * its daemon client, Effect, Ink and React rather than the whole CLI with every plugin
 * (160 MB resident against a daemon of 10,000 jobs before; about 105 MB now).
 * Arguments it does not serve (see `Args.ts`) go to the full CLI, unchanged.
 */
import { existsSync } from "node:fs"
import { setFlagsFromString } from "node:v8"
import { parse } from "./Args.js"

/** Starts the TUI for `args` (what follows `tui`) and says true, or says false: the full CLI's arguments. */
export const start = (args: ReadonlyArray<string>): boolean => {
  const parsed = parse(args, process.env, existsSync("orch.yaml"))
  if (parsed._tag === "FullCli") return false
  // A process kept open for hours that mostly waits: V8's defaults, made for throughput, let
  // its heap grow to about twice what it holds after a burst of updates (the young generation
  // alone to 2×16 MB). Node reads V8 flags from its command line only, which the installed
  // command does not control; these two V8 reads when it sizes the heap, so set now they work
  // (`npm run bench -- tui`: 128 MB with the first alone, 104 MB with both; without either
  // the light bundle held 138–143 MB).
  setFlagsFromString("--optimize-for-size")
  setFlagsFromString("--semi-space-growth-factor=1")
  void import("./Run.js").then((Run) => Run.main(parsed))
  return true
}
