/** Test support: descriptor files and test commands (temp folders and the database are @orch/testing's). */
import * as fs from "node:fs"
import * as path from "node:path"
import type { DescriptorFile } from "../src/Descriptor.js"

export const writeDescriptor = (dir: string, name: string, descriptor: DescriptorFile | string) => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.json`), typeof descriptor === "string" ? descriptor : JSON.stringify(descriptor, null, 2))
}

/** A command that runs `source` in this Node (as `node -e`). */
export const nodeScript = (source: string): readonly [string, ...Array<string>] => ["$node", "-e", source]

export const isRoot = process.getuid?.() === 0
