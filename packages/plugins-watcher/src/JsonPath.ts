/** Dotted paths into a parsed JSON body, as endpoint files write them: `status`, `data.items[0].name`. */

/** The value at `path` in `value`, or undefined when any step is missing. */
export const jsonPath = (value: unknown, path: string): unknown => {
  let current = value
  for (const step of path.split(/\.|(?=\[)/)) {
    if (step === "") continue
    const index = /^\[(\d+)\]$/.exec(step)
    if (current === null || typeof current !== "object") return undefined
    current = index ? (Array.isArray(current) ? current[Number(index[1])] : undefined) : (current as Record<string, unknown>)[step]
  }
  return current
}

/** The values at each path, keyed by the path; absent ones are left out. */
export const extract = (body: unknown, paths: ReadonlyArray<string>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const path of paths) {
    const found = jsonPath(body, path)
    if (found !== undefined) out[path] = found
  }
  return out
}
