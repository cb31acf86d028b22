/**
 * `orch bench compare A B [--json] [--fail-on-regression]`: two runs (each a run id, or a
 * commit, ref or branch standing for its newest run) compared metric by metric by the running
 * daemon (`GET /bench/api/compare/<a>/<b>`), printed as a table or as the daemon's JSON.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Cli from "@orch/core/Cli"
import { DaemonClient } from "@orch/core/DaemonClient"
import { Effect } from "effect"
import type { Comparison, Verdict } from "./pages/Compare.js"
import { number, percent } from "./pages/Html.js"

/** The daemon's compare of `a` and `b` (each sent as one path segment). */
export const fetchComparison = (a: string, b: string) =>
  Effect.flatMap(DaemonClient, (daemon) => daemon.get<Comparison>(`/bench/api/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`))

const verdicts: ReadonlyArray<Verdict> = ["regression", "improvement", "changed", "added", "removed", "no significant change", "not judged"]

/** The compare as a person reads it: the two runs, the environment, a row per metric, the counts. */
export const formatComparison = (c: Comparison): string => {
  const environment = c.environment.unknown
    ? "unknown (a run has no fingerprint)"
    : c.environment.match
    ? "the fingerprints match"
    : `differs in ${c.environment.differing.map((d) => `${d.key} (${JSON.stringify(d.a)} → ${JSON.stringify(d.b)})`).join(", ")}`
  const rows = [...c.metrics]
    .sort((x, y) => verdicts.indexOf(x.verdict) - verdicts.indexOf(y.verdict) || (x.metric < y.metric ? -1 : 1))
    .map((m) => [
      m.metric,
      number(m.before),
      number(m.after),
      m.unit ?? "",
      percent(m.change),
      m.effectSize === null ? "-" : number(m.effectSize),
      m.ci === null ? "-" : `${number(m.ci.lower)} … ${number(m.ci.upper)}`,
      m.verdict
    ])
  const counts = verdicts.filter((v) => c.counts[v] > 0).map((v) => `${c.counts[v]} ${v}`).join(", ")
  return [
    `a: run ${c.a.id} of ${c.a.hash.slice(0, 12)} (${c.a.worker ?? "import"}, ${Cli.time(c.a.endedAt)})`,
    `b: run ${c.b.id} of ${c.b.hash.slice(0, 12)} (${c.b.worker ?? "import"}, ${Cli.time(c.b.endedAt)})`,
    `environment: ${environment}`,
    Cli.table(["METRIC", "BEFORE", "AFTER", "UNIT", "CHANGE", "EFFECT (d)", "95% CI OF DIFFERENCE", "VERDICT"], rows),
    `${c.metrics.length} metric(s)${counts === "" ? "" : `: ${counts}`}`
  ].join("\n")
}

export const compareCommand = Cli.command("compare", {
  a: Args.text({ name: "A" }).pipe(Args.withDescription("The run before: a run id, or a commit, ref or branch (its newest run)")),
  b: Args.text({ name: "B" }).pipe(Args.withDescription("The run after, likewise")),
  json: Options.boolean("json").pipe(Options.withDescription("Print the daemon's JSON as it is")),
  failOnRegression: Options.boolean("fail-on-regression").pipe(
    Options.withDescription("Exit 1 when a metric regressed (its 95% interval excludes no change, the worse way)")
  )
}, ({ a, b, failOnRegression, json }) =>
  Effect.gen(function*() {
    const comparison = yield* fetchComparison(a, b)
    yield* Cli.print(json ? JSON.stringify(comparison, null, 2) : formatComparison(comparison))
    if (failOnRegression && comparison.counts.regression > 0) process.exitCode = 1
  })).pipe(Command.withDescription("Compare two runs metric by metric: change, effect size, 95% interval, verdict, environment"))
