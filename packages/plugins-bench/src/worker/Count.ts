/**
 * tablejohn's `internal` bench method, for a commit with neither a `./bench` of its own nor a
 * configured command: the tree's files, lines and TODOs, in all and by file extension, under
 * tablejohn's metric names (`lines`, `lines/by extension/ts` …). It makes a local worker useful
 * on any repository with no setup.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Measurement, Measurements } from "../Measurement.js"

const todo = /[^a-z]todo[^a-z]/i
/** Beyond this many extensions only the most common are kept (tablejohn caps large repos' metrics too). */
const maxExtensions = 50

interface Counts {
  files: number
  lines: number
  todos: number
}

const countFile = (file: string): { lines: number; todos: number } => {
  const bytes = fs.readFileSync(file)
  // a NUL near the start: a binary file, counted as a file with no lines (as tablejohn does)
  if (bytes.subarray(0, 8000).includes(0)) return { lines: 0, todos: 0 }
  const text = bytes.toString("utf8")
  if (text === "") return { lines: 0, todos: 0 }
  const lines = text.split("\n")
  if (lines.at(-1) === "") lines.pop()
  return { lines: lines.length, todos: lines.filter((line) => todo.test(` ${line} `)).length }
}

/** Counts the tree under `dir` (symbolic links are not followed). */
export const countTree = (dir: string): Effect.Effect<Measurements> =>
  Effect.sync(() => {
    const total: Counts = { files: 0, lines: 0, todos: 0 }
    const byExtension = new Map<string, Counts>()
    const walk = (folder: string) => {
      for (const entry of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const full = path.join(folder, entry.name)
        if (entry.isDirectory()) walk(full)
        else if (entry.isFile()) {
          const { lines, todos } = countFile(full)
          const extension = path.extname(entry.name).slice(1) || "none"
          const counts = byExtension.get(extension) ?? { files: 0, lines: 0, todos: 0 }
          byExtension.set(extension, counts)
          for (const c of [total, counts]) {
            c.files++
            c.lines += lines
            c.todos += todos
          }
        }
      }
    }
    walk(dir)
    const kept = [...byExtension.entries()].sort(([, a], [, b]) => b.files - a.files).slice(0, maxExtensions)
    const out: Record<string, Measurement> = {}
    for (const what of ["files", "lines", "todos"] as const) {
      out[what] = { value: total[what], unit: what }
      for (const [extension, counts] of kept) out[`${what}/by extension/${extension}`] = { value: counts[what], unit: what }
    }
    return out
  })
