/**
 * The plugins this build of orch knows: the only list of plugins in the codebase.
 * A plugin joins by being added here; core does not change.
 */
import type { Plugin } from "@orch/core/Plugin"
import { plugin as allocator } from "@orch/plugins-allocator"
import { plugin as bench } from "@orch/plugins-bench"
import { plugin as scheduler } from "@orch/plugins-scheduler"
import { plugin as watchdog } from "@orch/plugins-watchdog"
import { plugin as watcher } from "@orch/plugins-watcher"

export const plugins: ReadonlyArray<Plugin> = [watchdog, scheduler, allocator, watcher, bench]
