/** What every bench page shares: escaping, the frame with its navigation and style, formatting. */

/** Where core mounts the plugin; every link on the pages is absolute under it. */
export const base = "/bench"

export const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** Escapes every interpolated value (arrays joined): markup only ever comes from `raw`. */
export interface Raw {
  readonly html: string
}
export const raw = (html: string): Raw => ({ html })

const piece = (value: unknown): string =>
  value === null || value === undefined || value === false
    ? ""
    : Array.isArray(value)
    ? value.map(piece).join("")
    : typeof value === "object" && "html" in (value as object)
    ? (value as Raw).html
    : escapeHtml(String(value))

export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Raw => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1]!
  return raw(out)
}

export const time = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")

/** A number with five significant digits, without a trailing exponent for ordinary sizes. */
export const number = (n: number | null | undefined) => {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–"
  if (n !== 0 && (Math.abs(n) >= 1e9 || Math.abs(n) < 1e-6)) return n.toExponential(3)
  return String(Number(n.toPrecision(5)))
}

export const percent = (ratio: number | null | undefined) =>
  ratio === null || ratio === undefined || !Number.isFinite(ratio) ? "–" : `${ratio > 0 ? "+" : ""}${(ratio * 100).toFixed(2)}%`

export const short = (hash: string) => hash.slice(0, 10)

export const commitLink = (hash: string, subject?: string) =>
  html`<a class="hash" href="${base}/commit/${hash}/">${short(hash)}</a>${subject === undefined ? "" : html` ${subject}`}`

export const runLink = (id: string) => html`<a href="${base}/run/${encodeURIComponent(id)}/">${id}</a>`

export const directionName = (direction: number) =>
  direction < 0 ? "less is better" : direction > 0 ? "more is better" : "direction unknown"

const style = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; }
  header { background: #263238; color: #fff; padding: .5rem 1.5rem; display: flex; gap: 1.2rem; align-items: baseline; }
  header a { color: #cfd8dc; text-decoration: none; } header a.here, header a:hover { color: #fff; text-decoration: underline; }
  header strong { font-size: 1.1rem; }
  main { padding: 1rem 1.5rem 3rem; }
  table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  a.hash, code, pre { font-family: ui-monospace, monospace; }
  pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; white-space: pre-wrap; }
  pre.output .stderr { color: #b71c1c; }
  small, .muted { color: #666; }
  .badge { padding: .05rem .45rem; border-radius: .6rem; font-size: .85em; white-space: nowrap; }
  .regression { background: #ffebee; color: #b71c1c; } .improvement { background: #e8f5e9; color: #1b5e20; }
  .changed { background: #fff8e1; color: #8d6e00; } .neutral { background: #eceff1; color: #37474f; }
  .tracked { background: #e3f2fd; color: #0d47a1; }
  .box { border: 1px solid #e0e0e0; padding: .6rem 1rem; margin: .5rem 0 1rem; }
  .warn { background: #fff3e0; border-color: #ffb74d; }
  form.inline { display: inline; }
  #plot { min-height: 420px; }
  .metrics-list { max-height: 14rem; overflow-y: auto; columns: 3 18rem; border: 1px solid #e0e0e0; padding: .4rem; margin: .4rem 0; }
  .metrics-list label { display: block; }
`

export type Tab = "index" | "graph" | "queue" | "other"

/**
 * A page in the frame. `live`: its main part follows the daemon (core's `/events/live.js`
 * replaces it when something changed); not for a page whose script draws into it (the graph).
 */
export const page = (options: { readonly title: string; readonly tab: Tab; readonly head?: Raw; readonly body: Raw; readonly live?: boolean }) => {
  const tab = (name: Tab, href: string, label: string) => html`<a href="${href}"${raw(options.tab === name ? ` class="here"` : "")}>${label}</a>`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)} · bench</title>
<style>${style}</style>
${options.head?.html ?? ""}${options.live ? `\n<script src="/events/live.js" defer></script>` : ""}
</head>
<body>
<header><strong>bench</strong>${tab("index", `${base}/`, "refs").html}${tab("graph", `${base}/graph/`, "graph").html}${
    tab("queue", `${base}/queue/`, "queue").html
  }</header>
<main${options.live ? ` id="live-main" data-live` : ""}>
${options.body.html}
</main>
</body>
</html>
`
}

export const errorPage = (title: string, message: string) =>
  page({ title, tab: "other", body: html`<h1>${title}</h1><p>${message}</p><p><a href="${base}/">Back to the refs</a></p>` })
