/**
 * What a view shows, loaded over the API for the screen's state: the overview, a table
 * (jobs, resources, a plugin's view) or a job's details. Pure shaping of the API's answers,
 * so components only draw.
 */
import { jobActions } from "./Actions.js"
import type { Job, JobFilter, JobHistoryEntry, Overview, PluginView, Resource, RowKey, TuiApi, ViewAction } from "./Api.js"
import type { ScreenState } from "./Keys.js"
import { relative, shortTime } from "./Layout.js"

export type Content =
  | { readonly _tag: "overview"; readonly overview: Overview }
  | {
    readonly _tag: "table"
    readonly title: string
    readonly columns: ReadonlyArray<string>
    readonly rows: ReadonlyArray<ReadonlyArray<string>>
    /** Each row's hidden values (a job's id, a device's name), for the actions. */
    readonly keys?: ReadonlyArray<RowKey> | undefined
    readonly actions?: ReadonlyArray<ViewAction> | undefined
    /** A column that counts down to each row's time (a lease's expiry): drawn by `counted` as the clock ticks. */
    readonly countdown?: Countdown | undefined
  }
  | {
    readonly _tag: "detail"
    readonly title: string
    readonly lines: ReadonlyArray<string>
    /** What is shown, and what may be done to it. */
    readonly key?: RowKey | undefined
    readonly actions?: ReadonlyArray<ViewAction> | undefined
  }

export interface Countdown {
  readonly column: number
  /** Each row's time, epoch ms; undefined: the row has none ("-"). */
  readonly at: ReadonlyArray<number | undefined>
}

export const coreViews = ["overview", "jobs", "resources"] as const

/** Whether `content` has a time counting down, so the screen should tick each second while it shows. */
export const ticks = (content: Content | undefined): boolean =>
  content?._tag === "table" && (content.countdown?.at.some((at) => at !== undefined) ?? false)

/** `content` with its countdown column's cells as of `now` ("in 12s", "3s ago"). */
export const counted = (content: Content | undefined, now: number): Content | undefined => {
  if (content?._tag !== "table" || content.countdown === undefined) return content
  const { column, at } = content.countdown
  return {
    ...content,
    rows: content.rows.map((row, i) => {
      const time = at[i]
      return row.map((cell, c) => (c === column ? (time === undefined ? "-" : relative(time, now)) : cell))
    })
  }
}

/** `plugin=… kind=… state=…` of a filter, asked of the daemon; the other words match rows here. */
export const parseFilter = (filter: string): { readonly query: JobFilter; readonly words: ReadonlyArray<string> } => {
  const query: Record<string, string> = {}
  const words: Array<string> = []
  for (const token of filter.split(/\s+/).filter((t) => t !== "")) {
    const match = /^(plugin|kind|state)=(.+)$/.exec(token)
    if (match) query[match[1]!] = match[2]!
    else words.push(token.toLowerCase())
  }
  return { query, words }
}

const matches = (words: ReadonlyArray<string>) => (row: ReadonlyArray<string>) => {
  const text = row.join(" ").toLowerCase()
  return words.every((w) => text.includes(w))
}

const filtered = (filter: string, columns: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const { words } = parseFilter(filter)
  return { columns, rows: words.length === 0 ? rows : rows.filter(matches(words)) }
}

export const jobsTable = (jobs: ReadonlyArray<Job>, filter: string, now: number): Content => {
  const { words } = parseFilter(filter)
  const shaped = jobs.map((job) => ({
    id: job.id,
    row: [
      String(job.id), job.plugin, job.kind, job.state, `${job.attempts}/${job.maxAttempts}`, shortTime(job.updatedAt, now), job.lastError ?? ""
    ]
  })).filter(({ row }) => matches(words)(row))
  return {
    _tag: "table",
    title: `jobs${filter === "" ? "" : ` /${filter}`} (${shaped.length}${jobs.length >= 1000 ? "+, newest 1000" : ""})`,
    columns: ["ID", "PLUGIN", "KIND", "STATE", "TRIES", "UPDATED", "LAST ERROR"],
    rows: shaped.map((s) => s.row),
    keys: shaped.map((s) => ({ id: String(s.id) })),
    actions: jobActions
  }
}

/** Resources, a lease's expiry counting down (`counted`): its cell is left empty here, so a reload finds the same content. */
export const resourcesTable = (resources: ReadonlyArray<Resource>, filter: string): Content => {
  const { words } = parseFilter(filter)
  const shaped = resources.map((r) => ({
    at: r.lease?.expiresAt,
    row: [
      r.plugin, r.kind, r.name, r.state, r.lease?.holder ?? "-", "",
      Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(",")
    ]
  })).filter(({ row }) => matches(words)(row))
  return {
    _tag: "table",
    title: `resources${filter === "" ? "" : ` /${filter}`} (${shaped.length})`,
    columns: ["PLUGIN", "KIND", "NAME", "STATE", "HOLDER", "EXPIRES", "LABELS"],
    rows: shaped.map((s) => s.row),
    countdown: { column: 5, at: shaped.map((s) => s.at) }
  }
}

export const pluginTable = (view: PluginView, filter: string): Content => {
  const table = filtered(filter, view.columns.length > 0 ? view.columns : [""], view.rows)
  const shown = new Set(table.rows)
  const keys = view.keys.length === view.rows.length ? view.rows.flatMap((row, i) => (shown.has(row) ? [view.keys[i]!] : [])) : undefined
  return { _tag: "table", title: `${view.plugin}/${view.name}: ${view.title}${filter === "" ? "" : ` /${filter}`}`, ...table, keys, actions: view.actions }
}

const json = (value: unknown) => (value === undefined ? "-" : JSON.stringify(value, null, 2))

export const jobDetail = (job: Job, history: ReadonlyArray<JobHistoryEntry>, now: number): Content => ({
  _tag: "detail",
  key: { id: String(job.id) },
  actions: jobActions,
  title: `job ${job.id}: ${job.plugin}/${job.kind} ${job.state}`,
  lines: [
    `state      ${job.state}`,
    `attempts   ${job.attempts} of ${job.maxAttempts}`,
    `run at     ${new Date(job.runAt).toISOString()} (${relative(job.runAt, now)})`,
    `created    ${new Date(job.createdAt).toISOString()}`,
    `updated    ${new Date(job.updatedAt).toISOString()}`,
    ...(job.leaseOwner === undefined ? [] : [`lease      ${job.leaseOwner} token ${job.token ?? "-"}`]),
    `last error ${job.lastError ?? "-"}`,
    "",
    "payload",
    ...json(job.payload).split("\n").map((l) => `  ${l}`),
    "result",
    ...json(job.result).split("\n").map((l) => `  ${l}`),
    "",
    `history (${history.length})`,
    ...history.map((h) =>
      `  ${new Date(h.at).toISOString().slice(0, 19)}  ${h.from ?? "∅"} → ${h.to}  ${h.reason}${h.owner === undefined ? "" : `  (${h.owner})`}`
    )
  ]
})

/** The content of `state`'s view, read from the daemon. */
export const load = async (api: TuiApi, state: ScreenState, now: () => number): Promise<Content> => {
  if (state.view === "jobs" && state.detail !== undefined) {
    const { job, history } = await api.job(state.detail)
    return jobDetail(job, history, now())
  }
  switch (state.view) {
    case "overview":
      return { _tag: "overview", overview: await api.overview() }
    case "jobs":
      return jobsTable(await api.jobs(parseFilter(state.filter).query), state.filter, now())
    case "resources":
      return resourcesTable(await api.resources(), state.filter)
    default: {
      const [plugin, name] = state.view.split("/")
      return pluginTable(await api.view(plugin ?? "", name ?? ""), state.filter)
    }
  }
}
