/**
 * The scripts and styles the pages load, all from this server: uPlot's build from the installed
 * `uplot` package (read from node_modules at the first request for it, as core serves its API
 * viewer, so the CLI's bundle does not carry it), and the two small scripts of our own.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"

export interface Asset {
  readonly body: Uint8Array | string
  readonly contentType: string
}

const fromUplot = (file: string, contentType: string) => {
  let cached: Asset | undefined
  return (): Asset => {
    // resolved beside this module (or the bundle): the package's own dist folder
    cached ??= { body: fs.readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${file}`)), contentType }
    return cached
  }
}

export const uplotScript = fromUplot("uPlot.iife.min.js", "text/javascript; charset=utf-8")
export const uplotStyle = fromUplot("uPlot.min.css", "text/css; charset=utf-8")

/**
 * The graph page's script: reads the chosen metrics and range from the page's URL, fetches
 * `/bench/api/graph`, aligns the series on commit dates and draws them with uPlot. Dragging
 * zooms (refetching that range), double-click zooms out, a click opens the commit. It records
 * the time from the fetch's start to uPlot's first draw in `window.benchGraph` (the benchmark reads it).
 */
export const graphScript = `"use strict";
(function () {
  var base = "/bench";
  var colors = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#ad1457"];
  var status = document.getElementById("graph-status");
  var root = document.getElementById("plot");
  var params = new URLSearchParams(location.search);
  var metrics = params.getAll("metric");
  var state = window.benchGraph = { fetchStart: 0, fetchedMs: null, drawnMs: null, draws: 0, points: 0 };
  var plot = null;
  var hashAt = new Map();
  var selecting = false;
  if (metrics.length === 0) return;
  if (typeof uPlot === "undefined") { status.textContent = "Cannot draw: uPlot did not load."; return; }

  function load(range) {
    var q = new URLSearchParams();
    metrics.forEach(function (m) { q.append("metric", m); });
    q.set("points", params.get("points") || "1000");
    if (range) {
      q.set("since", String(Math.floor(range[0] * 1000)));
      q.set("until", String(Math.ceil(range[1] * 1000)));
    } else {
      if (params.get("from")) q.set("from", params.get("from"));
      if (params.get("to")) q.set("to", params.get("to"));
    }
    status.textContent = "Loading…";
    state.fetchStart = performance.now();
    state.drawnMs = null;
    state.fetchedMs = null;
    fetch(base + "/api/graph?" + q.toString(), { headers: { accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        state.fetchedMs = performance.now() - state.fetchStart;
        if (!result.ok) { status.textContent = "Cannot draw: " + result.body.error; return; }
        draw(result.body, !!range);
      })
      .catch(function (error) { status.textContent = "Cannot draw: " + error; });
  }

  function draw(body, zoomed) {
    hashAt = new Map();
    var tables = body.metrics.map(function (m) {
      var xs = new Array(m.x.length);
      for (var i = 0; i < m.x.length; i++) { xs[i] = m.x[i] / 1000; hashAt.set(xs[i], m.hash[i]); }
      return [xs, m.y];
    });
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var units = [];
    body.metrics.forEach(function (m) { var u = m.unit || ""; if (units.indexOf(u) < 0) units.push(u); });
    var series = [{ label: "committed" }].concat(body.metrics.map(function (m, i) {
      return {
        label: m.name + (m.unit ? " (" + m.unit + ")" : ""),
        stroke: colors[i % colors.length],
        scale: "u:" + (m.unit || ""),
        spanGaps: true,
        points: { show: data[0].length <= 300 }
      };
    }));
    var axes = [{}, { scale: "u:" + units[0], label: units[0] || undefined }];
    if (units.length > 1) axes.push({ scale: "u:" + units[1], label: units[1] || undefined, side: 1, grid: { show: false } });
    var scales = { x: { time: true } };
    units.forEach(function (u) { scales["u:" + u] = { auto: true }; });
    var options = {
      width: Math.max(320, root.clientWidth),
      height: 420,
      series: series,
      axes: axes,
      scales: scales,
      cursor: { drag: { x: true, y: false } },
      hooks: {
        draw: [function () {
          state.draws++;
          if (state.drawnMs === null) state.drawnMs = performance.now() - state.fetchStart;
        }],
        setSelect: [function (u) {
          if (u.select.width < 2) return;
          selecting = true;
          var range = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          load(range);
        }]
      }
    };
    if (plot) plot.destroy();
    plot = new uPlot(options, data, root);
    plot.over.addEventListener("click", function () {
      if (selecting) { selecting = false; return; }
      var idx = plot.cursor.idx;
      if (idx === null || idx === undefined) return;
      var hash = hashAt.get(plot.data[0][idx]);
      if (hash) location.href = base + "/commit/" + hash + "/";
    });
    plot.over.addEventListener("dblclick", function () { if (zoomed) load(null); });
    var shown = body.metrics.reduce(function (n, m) { return n + m.x.length; }, 0);
    var total = body.metrics.reduce(function (n, m) { return n + m.total; }, 0);
    state.points = shown;
    status.textContent = shown + " point(s) drawn" + (shown < total ? " of " + total + " (downsampled by the server: each bucket's lowest and highest)" : "") +
      (zoomed ? "; zoomed in (double-click to zoom out)" : "") + ".";
  }

  window.addEventListener("resize", function () { if (plot) plot.setSize({ width: Math.max(320, root.clientWidth), height: 420 }); });
  load(null);
})();
`

/**
 * The queue page's actions: set a commit's priority (`POST /bench/api/queue {hash, priority}`)
 * and drop it (`POST /bench/api/queue/drop {hash}`), through the plugin's JSON API (same
 * origin; core's gate wants the JSON content type), then reload the page.
 */
export const queueScript = `"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-action]");
  if (!button) return;
  var hash = button.getAttribute("data-hash");
  var message = document.getElementById("queue-message");
  var url, body;
  if (button.getAttribute("data-action") === "priority") {
    var priority = Number(document.getElementById("priority-" + hash).value);
    if (!Number.isInteger(priority)) { message.textContent = "The priority must be a whole number."; return; }
    url = "/bench/api/queue";
    body = { hash: hash, priority: priority };
  } else {
    url = "/bench/api/queue/drop";
    body = { hash: hash };
  }
  button.disabled = true;
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    .then(function (response) {
      // read the answer before reloading: a reload while it streams aborts the request
      if (response.ok) return response.text().then(function () { location.reload(); });
      return response.json().then(function (answer) { message.textContent = "Not done: " + (answer.error || response.status); });
    })
    .catch(function (error) { message.textContent = "Not done: " + error; })
    .finally(function () { button.disabled = false; });
});
`
