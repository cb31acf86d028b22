/**
 * The interactive TUI: a header always on top, the view's body, and a footer with the
 * prompt or the keys. Reloads the view when the daemon says something changed (`/events`),
 * when the view or filter changes, or after an action; draws again only when what it
 * loaded differs. Sized to the terminal (resize redraws), one line short of its height so
 * Ink never clears the screen.
 */
import { Box, Text, useApp, useInput, useStdout } from "ink"
import { useEffect, useRef, useState } from "react"
import { actionsOf, outcome, requestOf, subjectOf } from "./Actions.js"
import type { ApiError, TuiApi, ViewAction } from "./Api.js"
import { type Content, coreViews, counted, load, ticks } from "./Content.js"
import { completions, help, initial, type KeyPress, keysOfChunk, type Mode, type ScreenState, step } from "./Keys.js"
import { fit } from "./Layout.js"
import { Overview } from "./Overview.js"
import { Table } from "./Table.js"

export type Live = { readonly _tag: "connecting" } | { readonly _tag: "live" } | { readonly _tag: "down"; readonly reason: string }

export interface AppProps {
  readonly api: TuiApi
  readonly view?: string | undefined
  readonly now?: (() => number) | undefined
}

const useSize = () => {
  const { stdout } = useStdout()
  const read = () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 })
  const [size, setSize] = useState(read)
  useEffect(() => {
    const onResize = () => setSize(read())
    stdout.on("resize", onResize)
    return () => void stdout.off("resize", onResize)
  }, [stdout])
  return size
}

const footer = (mode: Mode, names: ReadonlyArray<string>, actions: ReadonlyArray<ViewAction>) => {
  switch (mode._tag) {
    case "command":
      return `:${mode.text}▏  ${completions(names, mode.text).slice(0, 6).join("  ")}`
    case "filter":
      return `/${mode.text}▏  (Enter applies, Esc leaves)`
    case "confirm":
      return `${mode.action.label} ${subjectOf(mode.action, mode.row)}? y to confirm, any other key not to`
    default:
      return `? help  : view  / filter  Enter details  ${actions.map((a) => `${a.key} ${a.label}  `).join("")}Esc back  q quit`
  }
}

const liveText = (live: Live) =>
  live._tag === "live" ? "● live" : live._tag === "connecting" ? "○ connecting" : `✕ daemon unreachable, reconnecting (${live.reason})`

export const Body = ({ content, state, width, height }: { content: Content | undefined; state: ScreenState; width: number; height: number }) => {
  if (state.mode._tag === "help") {
    const actions = actionsOf(content, state.selected).actions.map((a): readonly [string, string] => [
      a.key,
      `${a.label} (selected row; needs ${a.role}${a.confirm ? ", asks y/n" : ""}): ${a.method} ${a.path}`
    ])
    return (
      <Box flexDirection="column">
        {[...help, ...actions].slice(0, height).map(([keys, what]) => <Text key={keys}>{fit(`${keys.padEnd(12)}${what}`, width)}</Text>)}
      </Box>
    )
  }
  if (content === undefined) return <Text dimColor>{fit("loading…", width)}</Text>
  switch (content._tag) {
    case "overview":
      return <Overview overview={content.overview} width={width} height={height} />
    case "table":
      return <Table columns={content.columns} rows={content.rows} width={width} height={height} selected={state.selected} />
    case "detail": {
      const start = Math.min(state.scroll, Math.max(0, content.lines.length - height))
      return (
        <Box flexDirection="column">
          {content.lines.slice(start, start + height).map((line, i) => <Text key={start + i}>{fit(line, width) || " "}</Text>)}
        </Box>
      )
    }
  }
}

const title = (content: Content | undefined, state: ScreenState) =>
  content === undefined || content._tag === "overview" ? state.view : content.title

export const App = ({ api, view, now = Date.now }: AppProps) => {
  const { exit } = useApp()
  const { columns, rows } = useSize()
  const [state, setState] = useState(() => initial(view))
  // keys may come faster than React draws (a paste, a quick typist): each reads the state the last one left
  const latest = useRef(state)
  const update = (change: (s: ScreenState) => ScreenState) => {
    latest.current = change(latest.current)
    setState(latest.current)
  }
  const [content, setContent] = useState<Content | undefined>(undefined)
  const [live, setLive] = useState<Live>({ _tag: "connecting" })
  const [tick, setTick] = useState(0)
  const [names, setNames] = useState<ReadonlyArray<string>>(coreViews)
  // the clock of a countdown (a lease's expiry): it ticks each second only while such a view shows
  const [clock, setClock] = useState(now)
  const ticking = ticks(content)
  const [health, setHealth] = useState("")
  // why the view could not be loaded, until it can
  const [problem, setProblem] = useState<string | undefined>(undefined)
  const shown = useRef("")
  // what the key handler reads: Ink may deliver a key before React re-subscribes the handler of the last draw
  const shownContent = useRef<Content | undefined>(undefined)
  const viewNames = useRef(names)
  viewNames.current = names
  const show = (next: Content | undefined) => {
    shownContent.current = next
    setContent(next)
  }

  useEffect(() =>
    api.watch((event) => {
      if (event._tag === "down") setLive({ _tag: "down", reason: event.reason })
      else setLive((current) => (current._tag === "live" ? current : { _tag: "live" }))
      setTick((t) => t + 1)
    }), [api])
  useEffect(() => {
    if (live._tag !== "live") return
    api.views().then((views) => setNames([...coreViews, ...views.map((v) => `${v.plugin}/${v.name}`)]), () => undefined)
  }, [api, live._tag])
  // the overview brings the health with it: one request fewer on each change there
  useEffect(() => {
    if (state.view !== "overview") api.health().then(setHealth, () => setHealth(""))
  }, [api, tick, state.view])
  useEffect(() => {
    let current = true
    load(api, state, now).then(
      (next) => {
        if (current) setProblem(undefined)
        const text = JSON.stringify(next)
        if (current && text !== shown.current) {
          shown.current = text
          show(next)
        }
      },
      (error: Error) => current && setProblem(error.message)
    )
    return () => void (current = false)
  }, [api, state.view, state.filter, state.detail, tick])

  useEffect(() => {
    if (!ticking) return
    setClock(now())
    const timer = setInterval(() => setClock(now()), 1000)
    return () => clearInterval(timer)
  }, [ticking])

  const bodyHeight = Math.max(1, rows - 4)
  const onKey = (input: string, key: KeyPress) => {
    const before = latest.current
    const now = shownContent.current
    const rowCount = now?._tag === "table" ? now.rows.length : now?._tag === "detail" ? now.lines.length : 0
    const { actions, row } = actionsOf(now, before.selected)
    const selectedJob = before.view === "jobs" && now?._tag === "table" && row?.id !== undefined ? Number(row.id) : undefined
    const next = step(before, input, key, {
      names: viewNames.current,
      rows: rowCount,
      selectedJob,
      actions,
      selectedRow: row,
      page: Math.max(1, bodyHeight - 1)
    })
    if (next.state.view !== before.view) {
      show(undefined)
      shown.current = ""
    }
    // a message (an action's outcome, an error) stays until the next key
    update(() => (next.state.message === before.message ? { ...next.state, message: undefined } : next.state))
    const effect = next.effect
    if (effect?._tag === "quit") exit()
    if (effect?._tag === "act") {
      const { action, row } = effect
      const request = requestOf(action, row)
      if (request !== undefined) {
        api.perform(request).then(
          (ok) => update((s) => ({ ...s, message: outcome(action, row, { ok }) })),
          (error: ApiError) => update((s) => ({ ...s, message: outcome(action, row, { error }) }))
        ).finally(() => setTick((t) => t + 1))
      }
    }
  }
  // keys that arrive together (typed fast, pasted, sent by tmux) come as one string: each is a key
  useInput((input, key) => {
    if (input.length > 1 && !key.ctrl && !key.meta) for (const [char, charKey] of keysOfChunk(input)) onKey(char, charKey)
    else onKey(input, key)
  })

  const width = Math.max(20, columns)
  const shownHealth = state.view === "overview" && content?._tag === "overview" ? content.overview.status : health
  const header = `orch  ${api.url}  ${live._tag === "down" ? "" : shownHealth}  ${liveText(live)}`
  return (
    <Box flexDirection="column" width={width}>
      <Text bold inverse>{fit(header, width).padEnd(width)}</Text>
      <Text color={state.message || problem ? "yellow" : "cyan"}>{fit(state.message ?? problem ?? title(content, state), width)}</Text>
      <Box flexDirection="column" height={bodyHeight} overflow="hidden">
        <Body content={counted(content, clock)} state={state} width={width} height={bodyHeight} />
      </Box>
      <Text dimColor={state.mode._tag === "normal"}>{fit(footer(state.mode, names, actionsOf(content, state.selected).actions), width)}</Text>
    </Box>
  )
}
