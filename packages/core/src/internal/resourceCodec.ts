/**
 * Rows of the resource tables to `Resource`s and `Lease`s, and the checks and encodings
 * of what callers pass in.
 */
import { Effect } from "effect"
import { ResourceNotFound, UnknownResourceState } from "../ResourceErrors.js"
import type { ResourceKind } from "../ResourceKind.js"
import type { Lease, Resource } from "../Resources.js"
import type * as Sql from "../sql/resources.js"

export const keyOf = (kind: ResourceKind, name: string): Sql.ResourceKey => ({ plugin: kind.plugin, kind: kind.name, name })

export const describe = (key: Sql.ResourceKey) => `${key.plugin}/${key.kind} ${JSON.stringify(key.name)}`

export const notFound = (key: Sql.ResourceKey) =>
  new ResourceNotFound({ ...key, message: `no resource ${describe(key)}` })

/** Labels as stored: keys sorted, so equal label sets compare equal as text. */
export const encodeLabels = (labels: Readonly<Record<string, string>>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))

export const checkLabels = (labels: Readonly<Record<string, string>>): Effect.Effect<void> => {
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.length === 0 || typeof value !== "string") {
      return Effect.dieMessage(`resource labels must map non-empty keys to strings, got ${JSON.stringify(key)}: ${JSON.stringify(value)}`)
    }
  }
  return Effect.void
}

export const checkTtl = (ttlMs: number): Effect.Effect<number> =>
  Number.isFinite(ttlMs) && ttlMs > 0
    ? Effect.succeed(Math.ceil(ttlMs))
    : Effect.dieMessage(`a lease's ttlMs must be a positive number of milliseconds, got ${ttlMs}`)

export const checkState = <S extends string>(kind: ResourceKind<S>, state: string): Effect.Effect<void, UnknownResourceState> =>
  (kind.states as ReadonlyArray<string>).includes(state)
    ? Effect.void
    : Effect.fail(
      new UnknownResourceState({
        plugin: kind.plugin,
        kind: kind.name,
        state,
        message: `resource kind ${kind.plugin}/${kind.name} has no state ${JSON.stringify(state)} (its states: ${kind.states.join(", ")})`
      })
    )

export const toResource = <S extends string>(row: Sql.ResourceRow): Resource<S> => ({
  plugin: row.plugin,
  kind: row.kind,
  name: row.name,
  state: row.state as S,
  labels: JSON.parse(row.labels),
  data: row.data === null ? undefined : JSON.parse(row.data),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  stateChangedAt: row.state_changed_at,
  lastSeenAt: row.last_seen_at ?? undefined,
  lastReleasedAt: row.last_released_at ?? undefined,
  retiredAt: row.retired_at ?? undefined,
  lease: row.open_id === null ? undefined : {
    id: row.open_id,
    holder: row.open_holder!,
    token: row.open_token!,
    grantedAt: row.open_granted_at!,
    expiresAt: row.open_expires_at!
  }
})

export const toLease = <S extends string>(row: Sql.LeaseWithResourceRow): Lease<S> => ({
  id: row.lease_id,
  plugin: row.plugin,
  kind: row.kind,
  holder: row.lease_holder,
  token: row.lease_token,
  grantedAt: row.lease_granted_at,
  expiresAt: row.lease_expires_at,
  endedAt: row.lease_ended_at ?? undefined,
  endReason: row.lease_end_reason ?? undefined,
  resource: toResource<S>(row)
})

export const kindFilter = (plugin: string | undefined, kind: string | ResourceKind | undefined) =>
  typeof kind === "object" ? { plugin: kind.plugin, kind: kind.name } : { plugin, kind }
