/**
 * The status page at `/watcher/`: the endpoints, down and failing first, 100 to a page
 * (filtered by state, file or text), each with its state, uptime over 24 hours and 7 days,
 * newest result, response times and recent failures with their reasons; counts by state,
 * the files, and the files that were skipped with their problems. Its body follows the daemon
 * through core's `/events/live.js` (same origin): replaced in place when an endpoint changes
 * state, and every 30 seconds for the newest checks. Without script it reloads itself every
 * 30 seconds.
 */
import type { Overview, Query } from "./Status.js"

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const percent = (value: number | null) => value === null ? "–" : `${(value * 100).toFixed(value === 1 ? 0 : 2)}%`

const time = (ms: number | null) => ms === null ? "–" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")

export const refreshSeconds = 30

/** An inline SVG chart of the newest response times: a line, failures as red dots. */
export const chart = (history: Overview["endpoints"][number]["history"]): string => {
  if (history.length === 0) return "–"
  const width = 160
  const height = 32
  const max = Math.max(1, ...history.map((h) => h.ms))
  const x = (i: number) => history.length === 1 ? width / 2 : (i / (history.length - 1)) * (width - 4) + 2
  const y = (ms: number) => height - 2 - (ms / max) * (height - 4)
  const points = history.map((h, i) => `${x(i).toFixed(1)},${y(h.ms).toFixed(1)}`).join(" ")
  const failures = history.map((h, i) => h.success ? "" : `<circle cx="${x(i).toFixed(1)}" cy="${y(h.ms).toFixed(1)}" r="2" fill="#c62828"/>`).join("")
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="response times, up to ${Math.round(max)} ms">` +
    `<polyline points="${points}" fill="none" stroke="#1565c0" stroke-width="1.5"/>${failures}</svg><br><small>max ${Math.round(max)} ms</small>`
}

/** A link to the page with `query` changed by `change` (an undefined value drops the parameter). */
const linkTo = (query: Query, change: Partial<Record<keyof Query, string | number | undefined>>) => {
  const params = new URLSearchParams()
  const merged: Record<string, string | number | undefined> = { ...query, ...change }
  for (const [key, value] of Object.entries(merged)) {
    if (value === undefined || value === "" || (key === "offset" && value === 0) || (key === "limit" && value === 100)) continue
    params.set(key, String(value))
  }
  const search = params.toString()
  return search === "" ? "./" : `?${escapeHtml(search)}`
}

const row = (e: Overview["endpoints"][number]) => `
      <tr class="${e.state}">
        <td><strong>${escapeHtml(e.key)}</strong><br><small>${escapeHtml(e.address)} · ${escapeHtml(e.schedule)} · ${escapeHtml(e.file)}</small></td>
        <td><span class="badge ${e.state}">${e.state}</span></td>
        <td>${time(e.since)}</td>
        <td>${percent(e.uptime["24h"])}</td>
        <td>${percent(e.uptime["7d"])}</td>
        <td>${e.last === null ? "not yet" : `${time(e.last.at)}${e.last.status === null ? "" : ` · ${e.last.status}`}${e.last.success ? "" : `<br><small>${escapeHtml(e.last.reasons.join("; "))}</small>`}`}</td>
        <td>${e.last === null ? "–" : `${Math.round(e.last.responseTimeMs)} ms`}</td>
        <td>${chart(e.history)}</td>
        <td>${e.recentFailures.length === 0 ? "none" : `<ul>${e.recentFailures.map((f) => `<li>${time(f.at)}: ${escapeHtml(f.reasons.join("; "))}</li>`).join("")}</ul>`}</td>
      </tr>`

/**
 * The page: counts by state (each a filter), the files (each a filter, with its down and
 * failing endpoints), a search box, then one page of endpoints, down and failing first,
 * with links to the pages before and after. 20,000 endpoints are 200 pages of 100.
 */
export const render = (overview: Overview, now: number): string => {
  const { counts, query } = overview
  const all = counts.down + counts.failing + counts.unknown + counts.up
  const skipped = overview.files.filter((file) => file.problems.length > 0)
  const stateLink = (state: Query["state"], label: string, n: number) =>
    query.state === state ? `<strong>${n} ${label}</strong>` : `<a href="${linkTo(query, { state, offset: undefined })}">${n} ${label}</a>`
  const first = overview.total === 0 ? 0 : query.offset + 1
  const last = query.offset + overview.endpoints.length
  const pager = `<p class="pager">${first}–${last} of ${overview.total}${query.offset > 0 ? ` · <a href="${linkTo(query, { offset: Math.max(0, query.offset - query.limit) })}">previous</a>` : ""}${
    last < overview.total ? ` · <a href="${linkTo(query, { offset: last })}">next</a>` : ""}</p>`
  const files = overview.files.filter((file) => file.endpoints > 0).map((file) => `<li>${
    query.file === file.file ? `<strong>${escapeHtml(file.file)}</strong>` : `<a href="${linkTo(query, { file: file.file, offset: undefined })}">${escapeHtml(file.file)}</a>`
  }: ${file.endpoints}${file.down > 0 ? `, <span class="down">${file.down} down</span>` : ""}${file.failing > 0 ? `, ${file.failing} failing` : ""}</li>`).join("")
  const filtered = query.state !== undefined || query.file !== undefined || (query.q ?? "") !== ""
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<noscript><meta http-equiv="refresh" content="${refreshSeconds}"></noscript>
<script src="/events/live.js" defer></script>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>watcher: ${counts.down > 0 ? `${counts.down} down` : "status"}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  small { color: #666; }
  ul { margin: 0; padding-left: 1rem; }
  .files li { display: inline; margin-right: 1rem; }
  .down { color: #c62828; }
  .badge { padding: .1rem .5rem; border-radius: .6rem; color: #fff; font-weight: 600; }
  .badge.up { background: #2e7d32; } .badge.down { background: #c62828; } .badge.unknown { background: #757575; }
  .problems { background: #fff3e0; border: 1px solid #ffb74d; padding: .6rem 1rem; margin-bottom: 1.5rem; }
</style>
</head>
<body>
<div id="live-body" data-live data-live-every="${refreshSeconds}">
<h1>watcher</h1>
<p>${all} endpoint(s): ${stateLink("down", "down", counts.down)}, ${stateLink("failing", "failing", counts.failing)}, ${stateLink("unknown", "unknown", counts.unknown)}, ${stateLink("up", "up", counts.up)}${
    filtered ? ` · <a href="./">all</a>` : ""} · from ${escapeHtml(overview.directory)}${overview.missing ? " (no such directory)" : ""} · ${time(now)} · refreshes every ${refreshSeconds} s · <a href="api/endpoints${linkTo(query, {}).replace("./", "")}">JSON</a></p>
${skipped.length === 0 ? "" : `<div class="problems"><h2>Skipped files</h2><ul>${skipped.flatMap((file) => file.problems.map((problem) => `<li>${escapeHtml(problem)}</li>`)).join("")}</ul></div>`}
${files === "" ? "" : `<h2>Files</h2><ul class="files">${files}</ul>`}
<form method="get"><input type="search" name="q" value="${escapeHtml(query.q ?? "")}" placeholder="key or address" aria-label="search endpoints">${
    query.state === undefined ? "" : `<input type="hidden" name="state" value="${query.state}">`}${
    query.file === undefined ? "" : `<input type="hidden" name="file" value="${escapeHtml(query.file)}">`} <button>search</button></form>
${overview.endpoints.length === 0 ? `<p>No endpoints${filtered ? " match" : ""}.</p>` : `${pager}
<table>
  <thead><tr><th>Endpoint</th><th>State</th><th>Since</th><th>24 h</th><th>7 d</th><th>Last check</th><th>Response</th><th>Response times</th><th>Recent failures</th></tr></thead>
  <tbody>${overview.endpoints.map(row).join("")}
  </tbody>
</table>
${pager}`}
</div>
</body>
</html>
`
}

/** The page for a request whose query is wrong (400). */
export const badQuery = (message: string): string =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>watcher: bad request</title></head><body><h1>watcher</h1><p>${escapeHtml(message)}</p><p><a href="./">all endpoints</a></p></body></html>\n`
