// Prints one plain closing line, "N passed, N failed, N skipped (<engine> pass)", after vitest's own
// report, so a log reader that knows no vitest still sees what ran.
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest"

const count = (tasks: ReadonlyArray<RunnerTask>, totals = { passed: 0, failed: 0, skipped: 0 }) => {
  for (const task of tasks) {
    if (task.type === "suite") count(task.tasks, totals)
    else if (task.mode === "skip" || task.mode === "todo") totals.skipped++
    else if (task.result?.state === "pass") totals.passed++
    else if (task.result?.state === "fail") totals.failed++
  }
  return totals
}

export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<RunnerTestFile> = [], errors: ReadonlyArray<unknown> = []) {
    const { failed, passed, skipped } = count(files)
    // a file that failed to load has no tests but must count as a failure
    const broken = files.filter((file) => file.result?.state === "fail" && file.tasks.length === 0).length
    const pass = process.env.ORCH_TEST_BACKEND === "postgres" ? "postgres" : "sqlite"
    process.stdout.write(`\n${passed} passed, ${failed + broken + errors.length} failed, ${skipped} skipped (${pass} pass)\n`)
  }
}
