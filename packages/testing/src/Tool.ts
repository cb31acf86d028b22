/**
 * A Debian tool a test drives (systemd-analyze, docker-compose, hyperfine): its path, found on
 * PATH. Missing under `CI` (which `.ci/run` installs them for) it is an error naming the
 * package; elsewhere the test warns and passes over it, saying what to install.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const debianTool = (name: string, debianPackage: string): string | undefined => {
  const found = (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file))
  if (found !== undefined) return found
  if (process.env.CI) throw new Error(`${name} not found: apt-get install ${debianPackage}`)
  console.warn(`skipped: no ${name} (apt-get install ${debianPackage})`)
  return undefined
}
