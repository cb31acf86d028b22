/** Temporary folders for tests, removed when the test process exits. */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const made = new Set<string>()

/** A new empty folder under the OS temp dir, removed when the test process exits. */
export const tempDir = (prefix = "orch-test-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  if (made.size === 0) process.once("exit", () => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })))
  made.add(dir)
  return dir
}
