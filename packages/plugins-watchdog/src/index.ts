/** The watchdog plugin (being built; see its issue). */
import { Plugin } from "@orch/core"
import { Schema } from "effect"

export const plugin = Plugin.make({
  name: "watchdog",
  description: "watchdog (not yet built)",
  config: Schema.Struct({})
})
