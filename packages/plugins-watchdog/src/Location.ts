/**
 * A WPT location id, which is also the name of the Compute Engine instance that hosts
 * its agent: `<zone>--<browser>--<agent>`, e.g. `us-central1-a--tor--agent1`.
 */
import { Schema } from "effect"

export interface Location {
  readonly zone: string
  readonly browser: string
  readonly agent: string
}

export const separator = "--"

/** One part of a location id: what a Compute Engine name allows, without the separator. */
export const Part = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, {
    message: () => "must be lowercase letters, digits and single dashes, starting and ending with a letter or digit"
  }),
  Schema.filter((part) => !part.includes(separator) || `must not contain "${separator}"`)
)

/** The id of a location (and its instance's name). */
export const id = (location: Location): string => [location.zone, location.browser, location.agent].join(separator)

// Compute Engine names: a letter first, at most 63 characters
const instanceName = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/

/** Why `location` cannot name an instance, or undefined when it can. */
export const problem = (location: Location): string | undefined => {
  const name = id(location)
  return instanceName.test(name) ? undefined : `location ${name} is not a valid instance name (a letter first, at most 63 characters)`
}

/** Parses an instance name in the naming scheme; undefined for any other name. */
export const parse = (name: string): Location | undefined => {
  const parts = name.split(separator)
  if (parts.length !== 3 || !instanceName.test(name)) return undefined
  const [zone, browser, agent] = parts as [string, string, string]
  if ([zone, browser, agent].some((part) => !Schema.is(Part)(part))) return undefined
  return { zone, browser, agent }
}
