/**
 * What each key does, as a pure step from one screen state to the next (and, for a quit
 * or a confirmed action, what the app must then do). k9s's keys: `:` view, `/` filter,
 * arrows or j/k, Enter details, Esc back, `?` help, `q` quit; and the view's actions on the
 * selected row (a job's `c`/`r`, a device's drain …), after a `y` when they ask.
 */
import type { RowKey, ViewAction } from "./Api.js"
import { requestOf, subjectOf } from "./Actions.js"

export type Mode =
  | { readonly _tag: "normal" }
  | { readonly _tag: "command"; readonly text: string }
  | { readonly _tag: "filter"; readonly text: string }
  | { readonly _tag: "help" }
  | { readonly _tag: "confirm"; readonly action: ViewAction; readonly row: RowKey }

export interface ScreenState {
  /** `overview`, `jobs`, `resources` or a plugin's `<plugin>/<view>`. */
  readonly view: string
  readonly filter: string
  readonly selected: number
  readonly mode: Mode
  /** The job whose details are shown (jobs view). */
  readonly detail?: number | undefined
  readonly scroll: number
  readonly message?: string | undefined
}

export const initial = (view = "overview"): ScreenState => ({ view, filter: "", selected: 0, mode: { _tag: "normal" }, scroll: 0 })

/** The keys as `useInput` gives them (the subset the TUI reads). */
export interface KeyPress {
  readonly upArrow?: boolean
  readonly downArrow?: boolean
  readonly pageUp?: boolean
  readonly pageDown?: boolean
  readonly return?: boolean
  readonly escape?: boolean
  readonly backspace?: boolean
  readonly delete?: boolean
  readonly tab?: boolean
  readonly ctrl?: boolean
}

export interface Context {
  /** Every view name, for `:` and its completion. */
  readonly names: ReadonlyArray<string>
  readonly rows: number
  /** The selected row's job id, in the jobs view. */
  readonly selectedJob?: number | undefined
  /** The view's actions, and the hidden values of the row they would act on (the job shown, in details). */
  readonly actions?: ReadonlyArray<ViewAction> | undefined
  readonly selectedRow?: RowKey | undefined
  /** Rows a page moves. */
  readonly page: number
}

export type Effect = { readonly _tag: "quit" } | { readonly _tag: "act"; readonly action: ViewAction; readonly row: RowKey }

export interface Step {
  readonly state: ScreenState
  readonly effect?: Effect | undefined
}

/** Names starting with `text` (then those containing it), for `:` completion. */
export const completions = (names: ReadonlyArray<string>, text: string): ReadonlyArray<string> => {
  const t = text.trim().toLowerCase()
  return [...names.filter((n) => n.startsWith(t)), ...names.filter((n) => !n.startsWith(t) && n.includes(t))]
}

/** Every key and what it does, for `?`. */
export const help: ReadonlyArray<readonly [string, string]> = [
  [":", "switch view by name (Tab completes, Enter goes)"],
  ["/", "filter the rows (jobs: plugin=… kind=… state=… ask the daemon)"],
  ["↑ ↓  j k", "move"],
  ["PgUp PgDn", "move a page"],
  ["g G", "first, last row"],
  ["Enter", "details of the selected job"],
  ["Esc", "back: close details, help or the prompt; clear the filter"],
  ["?", "this help"],
  ["q  Ctrl-C", "quit"]
]

/**
 * The keys of a chunk of several characters, one by one: a slow process reads what was typed
 * (or pasted) since its last read as one chunk, Enter and Tab included (`:jobs\r`).
 */
export const keysOfChunk = (chunk: string): ReadonlyArray<readonly [string, KeyPress]> =>
  Array.from(chunk, (char): readonly [string, KeyPress] =>
    char === "\r" || char === "\n" ? ["", { return: true }]
    : char === "\t" ? ["", { tab: true }]
    : char === "\u007f" || char === "\b" ? ["", { backspace: true }]
    : char === "\u001b" ? ["", { escape: true }]
    : [char, {}])

const text = (input: string, key: KeyPress, current: string): string | undefined =>
  key.backspace || key.delete ? current.slice(0, -1) : input !== "" && !key.ctrl && !key.tab ? current + input : undefined

const moved = (state: ScreenState, to: number, rows: number): ScreenState =>
  state.detail !== undefined
    ? { ...state, scroll: Math.max(0, to - state.selected + state.scroll) }
    : { ...state, selected: Math.max(0, Math.min(rows - 1, to)) }

const normal = { _tag: "normal" } as const

export const step = (state: ScreenState, input: string, key: KeyPress, ctx: Context): Step => {
  const mode = state.mode
  if (key.ctrl && input === "c") return { state, effect: { _tag: "quit" } }
  switch (mode._tag) {
    case "help":
      return { state: { ...state, mode: normal } }
    case "confirm":
      if (input === "y" || input === "Y") return { state: { ...state, mode: normal }, effect: { _tag: "act", action: mode.action, row: mode.row } }
      return { state: { ...state, mode: normal, message: `${mode.action.label} ${subjectOf(mode.action, mode.row)}: not done` } }
    case "command": {
      if (key.escape) return { state: { ...state, mode: normal } }
      const matches = completions(ctx.names, mode.text)
      if (key.tab) return { state: { ...state, mode: { _tag: "command", text: matches[0] ?? mode.text } } }
      if (key.return) {
        const name = ctx.names.includes(mode.text.trim()) ? mode.text.trim() : matches[0]
        if (name === undefined) return { state: { ...state, mode: normal, message: `no view "${mode.text}"` } }
        return { state: { ...initial(name), message: undefined } }
      }
      const next = text(input, key, mode.text)
      return { state: next === undefined ? state : { ...state, mode: { _tag: "command", text: next } } }
    }
    case "filter": {
      if (key.escape) return { state: { ...state, mode: normal } }
      if (key.return) return { state: { ...state, mode: normal, filter: mode.text.trim(), selected: 0 } }
      const next = text(input, key, mode.text)
      return { state: next === undefined ? state : { ...state, mode: { _tag: "filter", text: next } } }
    }
    case "normal": {
      if (input === "q") return { state, effect: { _tag: "quit" } }
      if (input === ":") return { state: { ...state, mode: { _tag: "command", text: "" }, message: undefined } }
      if (input === "/") return { state: { ...state, mode: { _tag: "filter", text: state.filter }, message: undefined } }
      if (input === "?") return { state: { ...state, mode: { _tag: "help" } } }
      if (key.escape) {
        if (state.detail !== undefined) return { state: { ...state, detail: undefined, scroll: 0 } }
        return { state: { ...state, filter: "", message: undefined } }
      }
      if (key.upArrow || input === "k") return { state: moved(state, state.selected - 1, ctx.rows) }
      if (key.downArrow || input === "j") return { state: moved(state, state.selected + 1, ctx.rows) }
      if (key.pageUp) return { state: moved(state, state.selected - ctx.page, ctx.rows) }
      if (key.pageDown) return { state: moved(state, state.selected + ctx.page, ctx.rows) }
      if (input === "g") return { state: { ...state, selected: 0, scroll: 0 } }
      if (input === "G") return { state: moved(state, ctx.rows - 1, ctx.rows) }
      const job = state.detail ?? ctx.selectedJob
      if (key.return && state.detail === undefined && job !== undefined) return { state: { ...state, detail: job, scroll: 0 } }
      const action = ctx.actions?.find((a) => a.key === input)
      if (action !== undefined && ctx.selectedRow !== undefined) {
        const row = ctx.selectedRow
        if (requestOf(action, row) === undefined) return { state: { ...state, message: `${action.label}: not for this row` } }
        if (!action.confirm) return { state, effect: { _tag: "act", action, row } }
        return { state: { ...state, mode: { _tag: "confirm", action, row } } }
      }
      return { state }
    }
  }
}
