// What the CLI's bundles need beside them at run time: the packages esbuild leaves out
// (build.mjs `external`), found from its metafile, with their dependencies; and files read
// from node_modules. Shared by the single executable (binary.mjs) and the npm package (pack.mjs).
import * as fs from "node:fs"
import { builtinModules } from "node:module"
import * as path from "node:path"
import { external } from "./build.mjs"

// Files read from node_modules at run time rather than imported, without their packages'
// dependencies (browser scripts, built whole): the API page's viewer (core's /docs) and the
// bench pages' chart library.
export const readAtRunTime = { rapidoc: ["package.json", "dist/rapidoc-min.js"], uplot: ["package.json", "dist"] }

/** `@scope/name/sub` or `name/sub` → the package's name. */
const packageName = (specifier) => specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

/**
 * The packages the bundles import but do not hold, from esbuild's metafile: those the build
 * leaves out (`external`) are needed; the others are requires esbuild could not resolve
 * inside a try (a package's optional speed-ups, as ws's bufferutil), taken when installed.
 */
export const externalsOf = (results) => {
  const isNeeded = (name) => external.some((pattern) => pattern.endsWith("/*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern)
  const needed = new Set()
  const optional = new Set()
  for (const result of results) {
    for (const output of Object.values(result.metafile.outputs)) {
      for (const imported of output.imports) {
        const name = packageName(imported.path)
        if (!imported.external || imported.path.startsWith("node:") || builtinModules.includes(name)) continue
        ;(isNeeded(name) ? needed : optional).add(name)
      }
    }
  }
  return { needed: [...needed], optional: [...optional].filter((name) => !needed.has(name)) }
}

/** The folder Node finds package `name` in from `from`: the nearest node_modules above. */
export const findPackage = (name, from) => {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name)
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate
    if (dir === path.dirname(dir)) return undefined
  }
}

/** Every package folder the bundles need at run time: the externals and their dependencies, transitively. */
export const closure = (names, from) => {
  const found = new Set()
  const visit = (name, from, optional) => {
    const dir = findPackage(name, from)
    if (dir === undefined) {
      if (optional) return
      throw new Error(`${name} (needed from ${from}) is not installed: run npm ci`)
    }
    if (found.has(dir)) return
    found.add(dir)
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir, false)
    for (const dep of Object.keys(manifest.optionalDependencies ?? {})) visit(dep, dir, true)
  }
  for (const name of names.needed) visit(name, from, false)
  for (const name of names.optional) visit(name, from, true)
  return [...found].sort()
}

