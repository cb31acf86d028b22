/** Finding the browser that page tests drive (Debian's Chromium, through playwright-core). */
import * as fs from "node:fs"

/** Chromium's executable ($CHROMIUM_PATH, else Debian's), or why there is none: a page test then skips and says so. */
export const findChromium = (): { readonly executable: string } | { readonly missing: string } => {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((c): c is string => !!c)
  const found = candidates.find((c) => fs.existsSync(c))
  return found ? { executable: found } : { missing: `no Chromium (apt-get install chromium, or set CHROMIUM_PATH; looked at ${candidates.join(", ")})` }
}
