/** The watchdog's counters, exported at /metrics with core's. */
import { Effect, Metric } from "effect"

export const submissions = Metric.counter("orch_watchdog_submissions_total", {
  description: "Submissions to WPT by outcome (accepted, rejected, key_rejected, unreachable, recovered)",
  incremental: true
})

/** 1 while WPT rejects the API key (job_starter submits nothing but one probe a round), else 0. */
export const submissionPaused = Metric.gauge("orch_watchdog_submission_paused", {
  description: "1 while WPT rejects the API key and job_starter's submissions are paused"
})

export const results = Metric.counter("orch_watchdog_results_total", {
  description: "Jobs the finisher resolved, by final state",
  incremental: true
})

export const checks = Metric.counter("orch_watchdog_checks_total", {
  description: "Status checks of submitted jobs, by WPT's answer (running, queued, unreachable …)",
  incremental: true
})

export const decisions = Metric.counter("orch_watchdog_instance_decisions_total", {
  description: "instance_controller decisions by decision (create, start, stop, delete, reset, recreate) and outcome",
  incremental: true
})

export const count = (counter: typeof submissions, tags: Record<string, string>, by = 1) =>
  Metric.incrementBy(
    Object.entries(tags).reduce((metric, [key, value]) => Metric.tagged(metric, key, value), counter),
    by
  ).pipe(Effect.asVoid)
