/**
 * @orch/core: the runtime every plugin shares. Each module is re-exported as a
 * namespace named for the concept it holds (`Jobs.JobQueue`, `Plugin.make` …).
 * `Runtime` (the daemon's composition) and `PluginRuntime` (a plugin inside it) are
 * reached as `@orch/core/Runtime` and `@orch/core/PluginRuntime` so that commands which
 * do not need them never load them.
 */
export * as Access from "./Access.js"
export * as Auth from "./Auth.js"
export * as Cli from "./Cli.js"
export * as Config from "./Config.js"
export * as ConfigInit from "./ConfigInit.js"
export * as Database from "./Database.js"
export * as GroupCommit from "./GroupCommit.js"
export { ConfigError, type ConfigProblem, DatabaseError, HttpListenError, MigrationError, PluginError } from "./Errors.js"
export * as HotRoutes from "./HotRoutes.js"
export * as Http from "./Http.js"
export * as Jobs from "./Jobs.js"
export * as JobWorker from "./JobWorker.js"
export * as Logging from "./Logging.js"
export * as Metrics from "./Metrics.js"
export * as Migrations from "./Migrations.js"
export * as Notifications from "./Notifications.js"
export * as Plugin from "./Plugin.js"
export * as Resources from "./Resources.js"
export * as Retention from "./Retention.js"
export * as RetentionPolicy from "./RetentionPolicy.js"
export * as Schedules from "./Schedules.js"
export * as Singletons from "./Singletons.js"
export * as Sparkline from "./Sparkline.js"
export * as Supervisor from "./Supervisor.js"
export * as Yaml from "./Yaml.js"
