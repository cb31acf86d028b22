/**
 * What Neubot 0.4's `results.html` reads: `/api/results` (how to draw a test's plots and
 * table, in the recipe language of its `results.js`, as `api_results.py` answered) and
 * Neubot's columns on each `/api/data` row (`table_speedtest.py`'s: the install, the three
 * addresses, the consent given, the platform and versions). `results.js` skips a table
 * cell whose recipe finds no value, so every row carries the columns a table names, or
 * the cells after it shift left.
 */
import type { Descriptor } from "./Descriptor.js"
import * as Settings from "./Settings.js"

/** Neubot's numeric version (utils_version.py): `0.4.15.7` → `"0.004015007"`. */
export const numericVersion = (dotted: string): string => {
  const [major = 0, minor = 0, patch = 0, revision = 0] = dotted.split(".").map(Number)
  return (major + minor / 1e3 + patch / 1e6 + revision / 1e9).toFixed(9)
}

/** The columns orch puts on every stored result, from the install's settings at the time of the run. */
export const stamp = (values: Settings.SettingValues, version: string) => ({
  uuid: String(values.uuid ?? ""),
  privacy_informed: values["privacy.informed"] === 1 ? 1 : 0,
  privacy_can_collect: values["privacy.can_collect"] === 1 ? 1 : 0,
  privacy_can_publish: values["privacy.can_publish"] === 1 ? 1 : 0,
  platform: process.platform,
  neubot_version: numericVersion(version)
})
export type Stamp = ReturnType<typeof stamp>

/** Neubot's columns that a test reports itself; empty (or version 1) when it does not. */
const reported = { internal_address: "", real_address: "", remote_address: "", test_version: 1 }

/**
 * A result as stored: Neubot's columns around what the test printed. orch's stamp wins
 * over the test's (a test does not speak for the install's consent); the addresses and
 * `test_version` are the test's.
 */
export const stored = (result: Readonly<Record<string, unknown>>, now: Stamp): Record<string, unknown> => ({
  ...reported,
  ...result,
  ...now
})

/** A result as `/api/data` shows it: a row stored before orch kept Neubot's columns gets them filled (the stamp of today). */
export const shown = (result: Readonly<Record<string, unknown>>, today: Stamp): Record<string, unknown> => ({
  ...reported,
  ...today,
  ...result
})

// -- /api/results --------------------------------------------------------------

type Recipe = ReadonlyArray<string | number | Recipe>

const select = (field: string): Recipe => ["select", field, "result"]

/** The table's first columns: present on every row (stored ones included), so they never shift. */
const commonColumns = [
  { recipe: ["to-datetime", select("timestamp")], label: "Started" },
  { recipe: select("internal_address"), label: "Local address" },
  { recipe: select("real_address"), label: "Address seen by the server" },
  { recipe: select("remote_address"), label: "Server address" }
]

/** Plots of what a test measures the way Neubot's speedtest did (bytes/s, seconds); empty when it does not. */
const speedAndDelayPlots = [
  {
    title: "Download and upload",
    xlabel: "Time",
    ylabel: "Mbit/s",
    datasets: [
      { recipe: ["to-speed", select("download_speed")], label: "Download", marker: "circle" },
      { recipe: ["to-speed", select("upload_speed")], label: "Upload", marker: "square" }
    ]
  },
  {
    title: "Latency and connect time",
    xlabel: "Time",
    ylabel: "ms",
    datasets: [
      { recipe: ["to-millisecond", select("latency")], label: "Latency", marker: "circle" },
      { recipe: ["to-millisecond", select("connect_time")], label: "Connect time", marker: "square" }
    ]
  }
]

/**
 * How results.html draws `test`: the bundled speed test gets its figures in the table
 * (a failed run's row ends after the addresses); any other test its plots (when it reports
 * speeds and delays) and the columns every row has.
 */
export const description = (test: Descriptor) => ({
  title: `Recent results of ${test.name}`,
  plots: speedAndDelayPlots,
  table: test.name === "speedtest" && test.file === undefined
    ? [
      ...commonColumns,
      { recipe: ["to-millisecond-string", select("connect_time")], label: "Connect time" },
      { recipe: ["to-millisecond-string", select("latency")], label: "Latency" },
      { recipe: ["to-speed-string", select("download_speed")], label: "Download" },
      { recipe: ["to-speed-string", select("upload_speed")], label: "Upload" }
    ]
    : commonColumns
})

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/**
 * `/api/results`' answer for `test`, in api_results.py's order: the drawing, the tests to
 * choose from, the chosen one, its description as HTML, and results.html's knobs.
 */
export const answer = (test: Descriptor, tests: ReadonlyArray<string>, values: Settings.SettingValues) => ({
  ...description(test),
  available_tests: [...tests].sort(),
  selected_test: test.name,
  description: `<p>${escapeHtml(test.description ?? `The test ${test.name}.`)}</p>`,
  ...Object.fromEntries(Settings.wwwFlags.map((name) => [name, Number(values[name] ?? 0)]))
})
