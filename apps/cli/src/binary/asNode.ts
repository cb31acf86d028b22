/**
 * The single executable standing in for `node` where orch runs Node itself: the scheduler's
 * `$node` (its built-in speed test, a descriptor's script) is `process.execPath`, which in
 * the executable is orch, not Node. Started with `ORCH_AS_NODE=1`, it runs what Node would
 * for the two forms orch uses: `[--input-type=module] -e SOURCE [args…]` and `FILE [args…]`,
 * with `process.argv` as Node sets it. Anything else is refused, naming what it got.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"

export const runAsNode = async (argv: ReadonlyArray<string>): Promise<void> => {
  delete process.env.ORCH_AS_NODE
  const args = argv[0] === "--input-type=module" ? argv.slice(1) : argv
  if (args[0] === "-e" && args[1] !== undefined) {
    // node -e SOURCE a b: process.argv is [node, a, b]
    process.argv = [process.execPath, ...args.slice(2)]
    await import(`data:text/javascript,${encodeURIComponent(args[1])}`)
    return
  }
  if (args[0] !== undefined && !args[0].startsWith("-")) {
    const file = path.resolve(args[0])
    process.argv = [process.execPath, file, ...args.slice(1)]
    await import(pathToFileURL(file).href)
    return
  }
  process.stderr.write(`orch (as node): only "-e SOURCE" and "FILE" are supported, got ${JSON.stringify(argv)}\n`)
  process.exitCode = 9
}
