/**
 * The status page at `/watcher/`: every endpoint grouped by file with its state, uptime
 * over 24 hours and 7 days, newest result and recent failures with their reasons, and
 * the files that were skipped with their problems. Plain HTML that reloads itself every
 * 30 seconds (no script, so it works under any Content-Security-Policy).
 */
import type { Overview } from "./Status.js"

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

export const render = (overview: Overview, now: number): string => {
  const byFile = new Map<string, Array<Overview["endpoints"][number]>>()
  for (const endpoint of overview.endpoints) byFile.set(endpoint.file, [...(byFile.get(endpoint.file) ?? []), endpoint])
  const counts = { up: 0, down: 0, unknown: 0 }
  for (const endpoint of overview.endpoints) counts[endpoint.state]++
  const skipped = overview.files.filter((file) => file.problems.length > 0)
  const sections = [...byFile].map(([file, endpoints]) => `
<section>
  <h2>${escapeHtml(file)}</h2>
  <table>
    <thead><tr><th>Endpoint</th><th>State</th><th>Since</th><th>24 h</th><th>7 d</th><th>Last check</th><th>Response</th><th>Response times</th><th>Recent failures</th></tr></thead>
    <tbody>${endpoints.map((e) => `
      <tr class="${e.state}">
        <td><strong>${escapeHtml(e.key)}</strong><br><small>${escapeHtml(e.address)} · ${escapeHtml(e.schedule)}</small></td>
        <td><span class="badge ${e.state}">${e.state}</span></td>
        <td>${time(e.since)}</td>
        <td>${percent(e.uptime["24h"])}</td>
        <td>${percent(e.uptime["7d"])}</td>
        <td>${e.last === null ? "not yet" : `${time(e.last.at)}${e.last.status === null ? "" : ` · ${e.last.status}`}${e.last.success ? "" : `<br><small>${escapeHtml(e.last.reasons.join("; "))}</small>`}`}</td>
        <td>${e.last === null ? "–" : `${Math.round(e.last.responseTimeMs)} ms`}</td>
        <td>${chart(e.history)}</td>
        <td>${e.recentFailures.length === 0 ? "none" : `<ul>${e.recentFailures.map((f) => `<li>${time(f.at)}: ${escapeHtml(f.reasons.join("; "))}</li>`).join("")}</ul>`}</td>
      </tr>`).join("")}
    </tbody>
  </table>
</section>`).join("")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>watcher: ${counts.down > 0 ? `${counts.down} down` : "status"}</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }
  table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  small { color: #666; }
  ul { margin: 0; padding-left: 1rem; }
  .badge { padding: .1rem .5rem; border-radius: .6rem; color: #fff; font-weight: 600; }
  .badge.up { background: #2e7d32; } .badge.down { background: #c62828; } .badge.unknown { background: #757575; }
  .problems { background: #fff3e0; border: 1px solid #ffb74d; padding: .6rem 1rem; margin-bottom: 1.5rem; }
</style>
</head>
<body>
<h1>watcher</h1>
<p>${overview.endpoints.length} endpoint(s): ${counts.up} up, ${counts.down} down, ${counts.unknown} unknown · from ${escapeHtml(overview.directory)}${overview.missing ? " (no such directory)" : ""} · ${time(now)} · refreshes every ${refreshSeconds} s · <a href="api/endpoints">JSON</a></p>
${skipped.length === 0 ? "" : `<div class="problems"><h2>Skipped files</h2><ul>${skipped.flatMap((file) => file.problems.map((problem) => `<li>${escapeHtml(problem)}</li>`)).join("")}</ul></div>`}
${sections || "<p>No endpoints.</p>"}
</body>
</html>
`
}
