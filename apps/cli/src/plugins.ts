/**
 * The plugins this build of orch knows: the only list of plugins in the codebase.
 * A plugin joins by being added here; core does not change.
 */
import type { Plugin } from "@orch/core/Plugin"

export const plugins: ReadonlyArray<Plugin> = []
