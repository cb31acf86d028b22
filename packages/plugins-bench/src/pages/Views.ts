/**
 * The bench pages as HTML, from the views `ReadApi` reads: the refs and alerts (`/`), a
 * commit, a run, a compare of two runs, the queue with its workers, and the graph's frame.
 * Server-rendered and readable without JavaScript; only the graph and the queue's actions
 * use a script (served by `Pages.ts`, same origin, nothing from elsewhere).
 */
import type { Effect } from "effect"
import type * as ReadApi from "../ReadApi.js"
import type * as Compare from "./Compare.js"
import {
  base,
  commitLink,
  directionName,
  html,
  number,
  page,
  percent,
  raw,
  type Raw,
  runLink,
  short,
  time
} from "./Html.js"

type Success<F extends (...args: any) => Effect.Effect<any, any, any>> = Effect.Effect.Success<ReturnType<F>>
type Refs = Effect.Effect.Success<typeof ReadApi.refsView>
type Alerts = Success<typeof ReadApi.alertsView>
type Commit = Success<typeof ReadApi.commitView>
type Run = Success<typeof ReadApi.runDetails>

const verdictClass: Record<Compare.Verdict, string> = {
  regression: "regression",
  improvement: "improvement",
  changed: "changed",
  "no significant change": "neutral",
  "not judged": "neutral",
  added: "changed",
  removed: "changed"
}

const verdictBadge = (verdict: Compare.Verdict) => html`<span class="badge ${verdictClass[verdict]}">${verdict}</span>`

const compareForm = (a = "", b = "") =>
  html`<form method="get" action="${base}/compare">
  Compare <input name="a" value="${a}" placeholder="run, commit or branch" required>
  with <input name="b" value="${b}" placeholder="run, commit or branch" required>
  <button type="submit">Compare</button></form>`

const alertsTable = (alerts: Alerts): Raw =>
  alerts.length === 0 ? html`<p class="muted">No alerts.</p>` : html`<table>
<thead><tr><th>Alert</th><th>State</th><th>Range</th><th>Blamed</th><th>Metrics moved</th><th>Updated</th></tr></thead>
<tbody>${
    alerts.map((alert) =>
      html`<tr><td>#${alert.id}</td><td>${alert.state}</td>
<td>${commitLink(alert.goodHash)} → ${commitLink(alert.badHash)}<br><a href="${base}/compare/${alert.goodHash}/${alert.badHash}/">compare</a></td>
<td>${alert.blamedHash === null ? html`<span class="muted">${alert.state === "bisecting" ? "bisecting…" : "–"}</span>` : commitLink(alert.blamedHash)}</td>
<td>${
        alert.metrics.map((m) =>
          html`<span class="badge ${m.regression ? "regression" : "improvement"}">${m.metric} ${percent(m.change)}</span> <small>p=${
            m.pValue.toPrecision(2)
          }</small><br>`
        )
      }</td><td>${time(alert.updatedAt)}</td></tr>`
    )
  }</tbody></table>`

export const indexPage = (refs: Refs, alerts: Alerts, queued: number, runs: ReadonlyArray<{ id: string; hash: string; subject: string; endedAt: number; worker: string | null; exitCode: number }>) => {
  const tracked = refs.filter((r) => r.tracked)
  const body = html`<h1>Refs</h1>
<p>${refs.length} ref(s), ${tracked.length} tracked · ${queued} commit(s) in the <a href="${base}/queue/">queue</a> · <a href="${base}/api/refs">JSON</a></p>
${
    refs.length === 0 ? html`<p class="muted">No refs imported yet.</p>` : html`<table>
<thead><tr><th>Ref</th><th>Tracked</th><th>Commit</th><th>Committed</th><th>Newest run</th></tr></thead>
<tbody>${
      refs.map((ref) =>
        html`<tr><td><code>${ref.name}</code></td><td>${ref.tracked ? html`<span class="badge tracked">tracked</span>` : html`<span class="muted">no</span>`}</td>
<td>${commitLink(ref.hash, ref.subject)}</td><td>${time(ref.committerDate)}</td><td>${ref.newestRun === null ? html`<span class="muted">none</span>` : runLink(ref.newestRun)}</td></tr>`
      )
    }</tbody></table>`
  }
<h2>Recent alerts</h2>
${alertsTable(alerts)}
<h2>Recent runs</h2>
${
    runs.length === 0 ? html`<p class="muted">No runs yet.</p>` : html`<table>
<thead><tr><th>Run</th><th>Commit</th><th>Worker</th><th>Ended</th><th>Exit</th></tr></thead>
<tbody>${
      runs.map((run) =>
        html`<tr><td>${runLink(run.id)}</td><td>${commitLink(run.hash, run.subject)}</td><td>${run.worker ?? "import"}</td><td>${time(run.endedAt)}</td><td>${run.exitCode}</td></tr>`
      )
    }</tbody></table>`
  }
<h2>Compare</h2>
${compareForm()}`
  return page({ title: "refs", tab: "index", body, live: true })
}

const fingerprintTable = (fingerprint: unknown): Raw => {
  if (fingerprint === null || fingerprint === undefined) return html`<p class="muted">No environment fingerprint.</p>`
  if (typeof fingerprint !== "object" || Array.isArray(fingerprint)) return html`<pre>${JSON.stringify(fingerprint)}</pre>`
  return html`<table><tbody>${
    Object.entries(fingerprint as Record<string, unknown>).map(([key, value]) =>
      html`<tr><th>${key}</th><td>${typeof value === "string" ? value : JSON.stringify(value)}</td></tr>`
    )
  }</tbody></table>`
}

export const commitPage = (commit: Commit) => {
  const [subject = "", ...rest] = commit.message.split("\n")
  const firstParent = commit.parents[0]
  const body = html`<h1>${commitLink(commit.hash)} ${subject}</h1>
${rest.join("\n").trim() === "" ? "" : html`<pre>${rest.join("\n").trim()}</pre>`}
<table><tbody>
<tr><th>Hash</th><td><code>${commit.hash}</code></td></tr>
<tr><th>Author</th><td>${commit.author} · ${time(commit.authorDate)}</td></tr>
<tr><th>Committer</th><td>${commit.committer} · ${time(commit.committerDate)}</td></tr>
<tr><th>Reachable</th><td>${commit.reachable}</td></tr>
<tr><th>Refs</th><td>${commit.refs.length === 0 ? "–" : commit.refs.map((r) => html`<code>${r.name}</code>${r.tracked ? html` <span class="badge tracked">tracked</span>` : ""}<br>`)}</td></tr>
<tr><th>Parents</th><td>${commit.parents.length === 0 ? "none" : commit.parents.map((p) => html`${commitLink(p.hash, p.subject)}<br>`)}</td></tr>
<tr><th>Children</th><td>${commit.children.length === 0 ? "none" : commit.children.map((c) => html`${commitLink(c.hash, c.subject)}<br>`)}</td></tr>
<tr><th>Queue</th><td>${commit.queue === null ? "not queued" : html`queued (${commit.queue.reason}, priority ${commit.queue.priority}) since ${time(commit.queue.queuedAt)}`}</td></tr>
</tbody></table>
<h2>Runs</h2>
${
    commit.runs.length === 0 ? html`<p class="muted">No runs of this commit yet.</p>` : html`<table>
<thead><tr><th>Run</th><th>Method</th><th>Worker</th><th>Started</th><th>Ended</th><th>Exit</th><th></th></tr></thead>
<tbody>${
      commit.runs.map((run) =>
        html`<tr><td>${runLink(run.id)}</td><td>${run.benchMethod}</td><td>${run.worker ?? "import"}</td><td>${time(run.startedAt)}</td><td>${time(run.endedAt)}</td><td>${run.exitCode}</td>
<td>${firstParent === undefined ? "" : html`<a href="${base}/compare/${firstParent.hash}/${encodeURIComponent(run.id)}/">compare with the parent</a>`}</td></tr>`
      )
    }</tbody></table>`
  }
<p><a href="${base}/api/commit/${commit.hash}">JSON</a></p>`
  return page({ title: `${short(commit.hash)} ${subject}`, tab: "other", body, live: true })
}

export const runPage = (run: Run, parent: string | undefined) => {
  const body = html`<h1>Run ${run.id}</h1>
<p>of ${commitLink(run.hash, run.subject)}${parent === undefined ? "" : html` · <a href="${base}/compare/${parent}/${encodeURIComponent(run.id)}/">compare with the parent commit</a>`}</p>
<table><tbody>
<tr><th>Method</th><td>${run.benchMethod}</td></tr>
<tr><th>Worker</th><td>${run.worker ?? "none (imported)"}${run.workerInfo === null ? "" : html` <small>${run.workerInfo}</small>`}</td></tr>
<tr><th>Started</th><td>${time(run.startedAt)}</td></tr>
<tr><th>Ended</th><td>${time(run.endedAt)} (${number((run.endedAt - run.startedAt) / 1000)} s)</td></tr>
<tr><th>Exit code</th><td>${run.exitCode}</td></tr>
<tr><th>Source</th><td>${run.source}</td></tr>
</tbody></table>
<h2>Environment</h2>
${fingerprintTable(run.fingerprint)}
<h2>Measurements</h2>
${
    run.measurements.length === 0 ? html`<p class="muted">No measurements.</p>` : html`<table>
<thead><tr><th>Metric</th><th class="num">Value</th><th>Unit</th><th class="num">Lower</th><th class="num">Upper</th><th class="num">Samples</th><th>Direction</th></tr></thead>
<tbody>${
      run.measurements.map((m) =>
        html`<tr><td><a href="${base}/graph/?metric=${encodeURIComponent(m.metric)}">${m.metric}</a></td><td class="num">${number(m.value)}</td><td>${m.unit ?? ""}</td>
<td class="num">${number(m.lowerValue)}</td><td class="num">${number(m.upperValue)}</td><td class="num">${Array.isArray(m.samples) ? m.samples.length : "–"}</td><td>${directionName(m.direction)}</td></tr>`
      )
    }</tbody></table>`
  }
<h2>Output</h2>
${
    run.output.length === 0 ? html`<p class="muted">No output kept.</p>` : html`<pre class="output">${
      run.output.map((o) => o.source === "stderr" ? html`<span class="stderr">${o.text}</span>\n` : html`${o.text}\n`)
    }</pre>`
  }
<p><a href="${base}/api/run/${encodeURIComponent(run.id)}">JSON</a></p>`
  return page({ title: `run ${run.id}`, tab: "other", body, live: true })
}

const verdictOrder: ReadonlyArray<Compare.Verdict> = ["regression", "improvement", "changed", "added", "removed", "no significant change", "not judged"]

const ciText = (m: Compare.MetricComparison) => {
  if (m.ci === null) return m.basis === "single" ? html`<small>single values</small>` : html`–`
  const relative = m.before !== null && m.before !== 0
    ? html`<br><small>${percent(m.ci.lower / Math.abs(m.before))} … ${percent(m.ci.upper / Math.abs(m.before))}</small>`
    : ""
  return html`${number(m.ci.lower)} … ${number(m.ci.upper)}${relative}`
}

export const comparePage = (comparison: Compare.Comparison, subjects: { readonly a: string; readonly b: string }) => {
  const { a, b, environment } = comparison
  const sorted = [...comparison.metrics].sort((x, y) =>
    verdictOrder.indexOf(x.verdict) - verdictOrder.indexOf(y.verdict) || Math.abs(y.change ?? 0) - Math.abs(x.change ?? 0) ||
    (x.metric < y.metric ? -1 : 1)
  )
  const counts = verdictOrder.filter((v) => comparison.counts[v] > 0).map((v) => html`${verdictBadge(v)} ${comparison.counts[v]} `)
  const body = html`<h1>Compare</h1>
<table><tbody>
<tr><th>Before (a)</th><td>${runLink(a.id)} of ${commitLink(a.hash, subjects.a)} · ${a.worker ?? "import"} · ${time(a.endedAt)}</td></tr>
<tr><th>After (b)</th><td>${runLink(b.id)} of ${commitLink(b.hash, subjects.b)} · ${b.worker ?? "import"} · ${time(b.endedAt)}</td></tr>
</tbody></table>
${
    environment.unknown
      ? html`<div class="box warn" id="environment">Environment: unknown (a run has no fingerprint, as an import has none).</div>`
      : environment.match
      ? html`<div class="box" id="environment">Environment: the two runs' fingerprints match.</div>`
      : html`<div class="box warn" id="environment">Environment: the fingerprints differ in ${environment.differing.length} key(s); the change may be the machine's.
<table><thead><tr><th>Key</th><th>a</th><th>b</th></tr></thead><tbody>${
        environment.differing.map((d) => html`<tr><td><code>${d.key}</code></td><td>${JSON.stringify(d.a)}</td><td>${JSON.stringify(d.b)}</td></tr>`)
      }</tbody></table></div>`
  }
<p>${comparison.metrics.length} metric(s): ${counts} · <a href="${base}/compare/${b.hash}/${a.hash}/">swap</a> · <a href="${base}/api/compare/${encodeURIComponent(a.id)}/${
    encodeURIComponent(b.id)
  }">JSON</a></p>
<p><small>Change: (after − before) / before. Interval: 95% of after − before, from both runs' samples (Welch), else from lower/upper values read as
95% intervals; effect size: Cohen's d, from samples only. A change is a regression or an improvement by the metric's direction only when its interval excludes 0.</small></p>
<table id="metrics">
<thead><tr><th>Metric</th><th class="num">Before</th><th class="num">After</th><th>Unit</th><th class="num">Change</th><th class="num">Effect size (d)</th><th class="num">95% interval of the difference</th><th>Verdict</th></tr></thead>
<tbody>${
    sorted.map((m) =>
      html`<tr><td><a href="${base}/graph/?metric=${encodeURIComponent(m.metric)}">${m.metric}</a><br><small>${directionName(m.direction)}</small></td>
<td class="num">${number(m.before)}</td><td class="num">${number(m.after)}</td><td>${m.unit ?? ""}</td><td class="num">${percent(m.change)}</td>
<td class="num">${number(m.effectSize)}</td><td class="num">${ciText(m)}</td><td>${verdictBadge(m.verdict)}</td></tr>`
    )
  }</tbody></table>
<h2>Another compare</h2>
${compareForm(a.id, b.id)}`
  return page({ title: `compare ${short(a.hash)}…${short(b.hash)}`, tab: "other", body })
}

export interface WorkerView {
  readonly name: string
  readonly info: string | null
  readonly fingerprint: unknown
  readonly status: { readonly type: string; readonly id?: string; readonly hash?: string; readonly start?: unknown; readonly last_output?: ReadonlyArray<readonly [unknown, string]> }
  readonly lastSeen: number
  readonly firstSeen: number
}

export interface QueueView {
  readonly hash: string
  readonly priority: number
  readonly reason: string
  readonly queuedAt: number
  readonly subject: string
  readonly worker: string | null
}

const startText = (start: unknown) => typeof start === "number" ? time(start) : typeof start === "string" ? start : "–"

const workerState = (w: WorkerView): Raw =>
  w.status.type === "working"
    ? html`<span class="badge changed">working</span> on ${w.status.id === undefined ? "a run" : html`run <code>${w.status.id}</code>`}${
      w.status.hash === undefined ? "" : html` of ${commitLink(w.status.hash)}`
    } since ${startText(w.status.start)}`
    : html`<span class="badge neutral">${w.status.type}</span>`

export const queuePage = (workers: ReadonlyArray<WorkerView>, queue: ReadonlyArray<QueueView>, total: number, now: number) => {
  const working = workers.filter((w) => w.status.type === "working")
  const body = html`<h1>Queue</h1>
<h2>Workers</h2>
${
    workers.length === 0 ? html`<p class="muted">No worker has reported yet.</p>` : html`<table>
<thead><tr><th>Worker</th><th>State</th><th>Last seen</th><th>Environment</th></tr></thead>
<tbody>${
      workers.map((w) =>
        html`<tr><td><strong>${w.name}</strong>${w.info === null ? "" : html`<br><small>${w.info}</small>`}</td><td>${workerState(w)}</td>
<td>${time(w.lastSeen)}<br><small>${number((now - w.lastSeen) / 1000)} s ago</small></td><td>${fingerprintTable(w.fingerprint)}</td></tr>`
      )
    }</tbody></table>`
  }
<h2>Unfinished runs</h2>
${
    working.length === 0 ? html`<p class="muted">No run in progress.</p>` : working.map((w) =>
      html`<div class="box"><strong>${w.status.id ?? "run"}</strong> of ${w.status.hash === undefined ? "?" : commitLink(w.status.hash)} on ${w.name}, since ${startText(w.status.start)}
${
        (w.status.last_output ?? []).length === 0 ? "" : html`<pre class="output">${
          (w.status.last_output ?? []).map(([source, text]) => source === 2 || source === "stderr" ? html`<span class="stderr">${text}</span>\n` : html`${text}\n`)
        }</pre>`
      }</div>`
    )
  }
<h2>Queued commits</h2>
<p>${total} queued${total > queue.length ? html`, the first ${queue.length} shown` : ""}, in the order workers get them (priority, then newest).</p>
<p id="queue-message" class="muted" role="status"></p>
${
    queue.length === 0 ? html`<p class="muted">The queue is empty.</p>` : html`<table id="queue">
<thead><tr><th>Commit</th><th class="num">Priority</th><th>Reason</th><th>Queued</th><th>Handed to</th><th>Actions</th></tr></thead>
<tbody>${
      queue.map((q) =>
        html`<tr><td>${commitLink(q.hash, q.subject)}</td><td class="num">${q.priority}</td><td>${q.reason}</td><td>${time(q.queuedAt)}</td>
<td>${q.worker ?? html`<span class="muted">–</span>`}</td>
<td><input type="number" id="priority-${q.hash}" value="${q.priority + 1}" step="1" style="width:5em" aria-label="new priority">
<button type="button" data-action="priority" data-hash="${q.hash}">set priority</button>
<button type="button" data-action="drop" data-hash="${q.hash}">drop</button></td></tr>`
      )
    }</tbody></table>`
  }`
  return page({ title: "queue", tab: "queue", head: html`<script src="${base}/static/queue.js" defer></script>`, body, live: true })
}

const shortRef = (name: string) => name.replace(/^refs\/(heads|tags)\//, "")

export const graphPage = (
  metrics: ReadonlyArray<{ readonly name: string; readonly unit: string | null }>,
  refs: ReadonlyArray<string>,
  chosen: ReadonlyArray<string>,
  params: { readonly from: string; readonly to: string; readonly points: number }
) => {
  const selected = new Set(chosen)
  const body = html`<h1>Graph</h1>
<form method="get" action="${base}/graph/" id="graph-form">
<div class="metrics-list" id="metrics">${
    metrics.length === 0
      ? html`<span class="muted">No metrics yet.</span>`
      : metrics.map((m) =>
        html`<label><input type="checkbox" name="metric" value="${m.name}"${raw(selected.has(m.name) ? " checked" : "")}> ${m.name}${
          m.unit === null ? "" : html` <small>(${m.unit})</small>`
        }</label>`
      )
  }</div>
From <input name="from" value="${params.from}" placeholder="oldest (commit or branch)" list="refs">
to <input name="to" value="${params.to}" placeholder="newest (commit or branch)" list="refs">
<datalist id="refs">${refs.map((r) => html`<option value="${shortRef(r)}">`)}</datalist>
points <input name="points" type="number" min="2" max="20000" value="${params.points}" style="width:6em">
<button type="submit">Draw</button>
</form>
<p id="graph-status" role="status">${chosen.length === 0 ? "Choose one or more metrics and draw." : "Loading…"}</p>
<noscript><p>The graph needs JavaScript; its data is at <a href="${base}/api/graph">${base}/api/graph</a>.</p></noscript>
<div id="plot"></div>
<p><small>Drag across the graph to zoom in (the server sends the range in more detail); double-click to zoom out; click a point to open its commit.
Each point is a commit (the mean of its runs); with more commits than points, the server keeps each bucket's lowest and highest.</small></p>`
  return page({
    title: "graph",
    tab: "graph",
    head: html`<link rel="stylesheet" href="${base}/static/uPlot.min.css">
<script src="${base}/static/uPlot.iife.min.js" defer></script>
<script src="${base}/static/graph.js" defer></script>`,
    body
  })
}

