/**
 * The status page of Neubot's spec at `GET /`: version, pid, start time and a text
 * table of the last tests with their download speed, upload speed and latency, plus
 * links to the JSON API.
 */
import { figures } from "./Scheduler.js"

export interface StatusRow {
  readonly test: string
  readonly startedAt: number
  readonly result: Record<string, unknown>
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** A bordered text table in the spec's style; the `right` columns (figures) are right-aligned. */
export const textTable = (
  columns: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  right: ReadonlyArray<number> = []
): string => {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => row[i]?.length ?? 0)))
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+"
  const line = (cells: ReadonlyArray<string>, header: boolean) =>
    "|" + cells.map((cell, i) => ` ${header || !right.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)} `).join("|") + "|"
  return [rule, line(columns, true), rule, ...rows.map((row) => line(row, false)), ...(rows.length > 0 ? [rule] : [])].join("\n")
}

export const tableColumns = ["Test name", "Started (UTC)", "Download speed", "Upload speed", "Latency", "Result"]

export const tableRows = (rows: ReadonlyArray<StatusRow>): ReadonlyArray<ReadonlyArray<string>> =>
  rows.map((row) => {
    const failed = row.result.status === "failed"
    const shown = figures(row.result)
    return [
      row.test,
      new Date(row.startedAt).toISOString().slice(0, 19).replace("T", " "),
      failed ? "---" : shown.download,
      failed ? "---" : shown.upload,
      failed ? "---" : shown.latency,
      failed ? `failed: ${String(row.result.reason ?? "")}` : "ok"
    ]
  })

export const endpoints = [
  "api",
  "api/config",
  "api/config?labels=1",
  "api/data",
  "api/descriptors",
  "api/log",
  "api/state",
  "api/version"
]

export const render = (options: {
  /** Where the API is mounted ("" at the root of the own listener), for the links. */
  readonly prefix: string
  readonly version: string
  readonly pid: number
  readonly startedAt: number
  readonly rows: ReadonlyArray<StatusRow>
  readonly next: ReadonlyArray<{ readonly test: string; readonly nextRunAt: number }>
}): string => {
  const since = new Date(options.startedAt).toISOString().slice(0, 16).replace("T", " @ ") + " UTC"
  const title = `orch scheduler ${options.version} status`
  const table = options.rows.length === 0
    ? "No test has run yet."
    : textTable(tableColumns, tableRows(options.rows), [2, 3, 4])
  const next = options.next.length === 0
    ? ""
    : `    <p>Next runs: ${options.next.map((n) => `${escapeHtml(n.test)} at ${new Date(n.nextRunAt).toISOString()}`).join(", ")}.</p>\n`
  return `<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
  </head>
  <body>
    <h1>${title}</h1>
    <p>The scheduler is running with pid ${options.pid} since ${since}.</p>
${next}    <p>The last tests run are:</p>
    <pre>
${escapeHtml(table)}
    </pre>
    <p>The JSON API (Neubot 0.4's shapes): ${endpoints.map((e) => `<a href="${options.prefix}/${e}">${e}</a>`).join(", ")}.</p>
  </body>
</html>
`
}
