/**
 * Actions on a row, as views declare them (core's on a job are declared here the same
 * way): the request one makes on a row, what it is done to, and how its outcome reads.
 */
import type { ApiError, RowKey, ViewAction } from "./Api.js"
import type { Content } from "./Content.js"

/** Core's actions on a job, declared as plugins declare theirs. */
export const jobActions: ReadonlyArray<ViewAction> = [
  { key: "c", label: "cancel job", method: "POST", path: "/jobs/{id}/cancel", body: { reason: "cancelled from orch tui" }, role: "operate", confirm: true },
  { key: "r", label: "retry job", method: "POST", path: "/jobs/{id}/retry", body: { reason: "retried from orch tui" }, role: "operate", confirm: true }
]

const placeholder = /\{([A-Za-z0-9_-]+)\}/g

/** `template` with each `{x}` replaced by the row's `x` (through `encode`); undefined when the row lacks one. */
const fill = (template: string, row: RowKey, encode: (value: string) => string): string | undefined => {
  let missing = false
  const filled = template.replace(placeholder, (_, name: string) => {
    const value = row[name]
    if (value === undefined) missing = true
    return value === undefined ? "" : encode(value)
  })
  return missing ? undefined : filled
}

const fillBody = (body: unknown, row: RowKey): { readonly ok: boolean; readonly value: unknown } => {
  if (typeof body === "string") {
    const value = fill(body, row, (v) => v)
    return { ok: value !== undefined, value }
  }
  if (Array.isArray(body)) {
    const items = body.map((item) => fillBody(item, row))
    return { ok: items.every((i) => i.ok), value: items.map((i) => i.value) }
  }
  if (typeof body === "object" && body !== null) {
    const entries = Object.entries(body).map(([k, v]) => [k, fillBody(v, row)] as const)
    return { ok: entries.every(([, v]) => v.ok), value: Object.fromEntries(entries.map(([k, v]) => [k, v.value])) }
  }
  return { ok: true, value: body }
}

/** The request an action makes on a row (its path's and body's `{x}` filled), or undefined when the row lacks a value it names. */
export const requestOf = (action: ViewAction, row: RowKey) => {
  const path = fill(action.path, row, encodeURIComponent)
  const body = fillBody(action.body, row)
  return path === undefined || !body.ok ? undefined : { method: action.method, path, body: body.value }
}

/** What an action is done to, as the question and its answer say it: the row's values it names (`job 12`, `device pixel-1`). */
export const subjectOf = (action: ViewAction, row: RowKey): string => {
  const names = [...`${action.path} ${JSON.stringify(action.body ?? "")}`.matchAll(placeholder)].map((m) => m[1]!)
  return [...new Set(names)].map((name) => row[name] ?? "?").join(" ")
}

/** The actions of what is shown, and the row they act on. */
export const actionsOf = (content: Content | undefined, selected: number): { actions: ReadonlyArray<ViewAction>; row: RowKey | undefined } =>
  content?._tag === "table"
    ? { actions: content.actions ?? [], row: content.keys?.[selected] }
    : content?._tag === "detail"
    ? { actions: content.actions ?? [], row: content.key }
    : { actions: [], row: undefined }

/** How an action's outcome reads: done (with the state it left, when the answer says one), not allowed, or refused and why. */
export const outcome = (action: ViewAction, row: RowKey, result: { ok: unknown } | { error: ApiError }): string => {
  const what = `${action.label} ${subjectOf(action, row)}`
  if ("ok" in result) {
    const state = typeof result.ok === "object" && result.ok !== null ? (result.ok as { state?: unknown }).state : undefined
    return `${what}: done${typeof state === "string" ? `, now ${state}` : ""}`
  }
  const { status, reason, message } = result.error
  if (status === 403) return `not allowed: this token may not ${action.label} (403, needs ${action.role}): ${reason ?? message}`
  if (status !== undefined) return `${what}: refused by the daemon (${status}): ${reason ?? message}`
  return `${what} failed: ${message}`
}

