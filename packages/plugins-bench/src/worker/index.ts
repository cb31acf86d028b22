/**
 * The bench worker (`orch bench worker`, and the local worker of `orch run --plugins=bench`):
 * tablejohn's worker side of the protocol, finished. What the plugin wires:
 *
 * - `workerCommand` under `orch bench` (`commands: [...commands, workerCommand]`);
 * - `WorkerSection` as `bench.worker` of the plugin's config
 *   (`worker: Schema.optionalWith(WorkerSection, { default: () => defaultWorkerSection })`);
 * - `localWorkerLoop(bench.token)` as a `{ daemon }` loop when a local worker is wanted.
 */
export { makeCommand, resolveSection, workerCommand } from "./Command.js"
export { Fingerprint, NoiseTest, WorkerInfo } from "./Fingerprint.js"
export { localWorker, localWorkerLoop, run, runWithFetch, type WorkerOptions } from "./Worker.js"
export { defaultWorkerSection, ServerEntry, WorkerSection } from "./WorkerConfig.js"
