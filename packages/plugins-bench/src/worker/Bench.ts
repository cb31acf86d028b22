/**
 * One run, start to end: the commit's tree downloaded and unpacked into a fresh folder, the
 * benchmark run in it with a timeout, its measurements read, and the result as tablejohn's
 * `FinishedRun`. Whatever goes wrong with the benchmark (a missing script, a crash, output that
 * is not measurements, a tree the server refuses) is said in the run's output as an internal line
 * and the run is submitted with exit code -1 (tablejohn's convention), so that the server sees
 * it. Only a server out of reach while the tree is downloaded (retried for about half a minute)
 * abandons the run (`RunAbandoned`): that is not the commit's failure.
 *
 * How a benchmark is invoked (tablejohn left its bench repository unspecified; this follows its
 * predecessor VelCom's convention):
 *
 * - bench repository (`{type: "repo", hash}`): the bench repository's tree at `hash` is unpacked
 *   beside the commit's, and its executable `bench` runs there as `./bench <commit tree>`;
 * - in-repo (`{type: "internal"}`): the configured `command` runs through `sh -c` in the commit's
 *   tree, else the tree's own executable `./bench <commit tree>`, else tablejohn's own internal
 *   method counts the tree's files, lines and TODOs (`Count.ts`).
 *
 * Either way the measurements are what it writes to the file `$ORCH_BENCH_RESULTS` or, when it
 * writes none there, its stdout, in any format `formats/` reads (Bencher's JSON and its superset,
 * Go, hyperfine, Google Benchmark, pytest-benchmark, criterion, github-action-benchmark).
 * `$ORCH_BENCH_RUN_ID`, `$ORCH_BENCH_HASH` and `$ORCH_BENCH_REPO` (the commit's tree) are set too.
 */
import { Data, Duration, Effect, Either, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Measurements } from "../Measurement.js"
import { countTree } from "./Count.js"
import { benchMethodText, type FinishedRun, type Run, Source } from "./Protocol.js"
import { type OutputBuffer, runProcess } from "./Runner.js"
import type { ExtractError, ServerClient, ServerFailure } from "./ServerClient.js"

/** The tree could not be had from the server (down, restarting) for a while: the run is given up, not submitted; the server hands the commit out again. */
export class RunAbandoned extends Data.TaggedError("RunAbandoned")<{ readonly reason: string }> {}

/** Reads a benchmark's measurements from its output text; Left says why they could not be read. */
export type ParseMeasurements = (text: string) => Either.Either<Measurements, string>

export interface BenchSettings {
  /** Where each run's folder is made (a temporary folder when absent). */
  readonly benchDir?: string | undefined
  readonly timeout: Duration.DurationInput
  /** The in-repo method's command (`sh -c`), instead of the tree's `./bench`. */
  readonly command?: string | undefined
  readonly parse: ParseMeasurements
  /** First delay between download attempts (doubling, 6 retries). */
  readonly downloadRetry?: Duration.DurationInput | undefined
}

const isExecutableFile = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** What to run for `run` with the trees in `repoDir` (and `benchRepoDir`), or why nothing can be. */
export const invocation = (
  run: Run,
  repoDir: string,
  benchRepoDir: string | undefined,
  command: string | undefined
): Either.Either<{ readonly command: string; readonly args: ReadonlyArray<string>; readonly cwd: string } | "count", string> => {
  if (run.bench_method.type === "repo") {
    const script = path.join(benchRepoDir!, "bench")
    return isExecutableFile(script)
      ? Either.right({ command: script, args: [repoDir], cwd: benchRepoDir! })
      : Either.left(`the bench repository at ${run.bench_method.hash} has no executable ./bench at its root`)
  }
  if (command !== undefined) return Either.right({ command: "/bin/sh", args: ["-c", command], cwd: repoDir })
  const script = path.join(repoDir, "bench")
  return isExecutableFile(script)
    ? Either.right({ command: script, args: [repoDir], cwd: repoDir })
    : Either.right("count")
}

/** Runs `run` for `server`, its output going into `output` as it comes; ends with what to submit. */
export const performRun = (
  server: ServerClient,
  run: Run,
  output: OutputBuffer,
  settings: BenchSettings
): Effect.Effect<FinishedRun, RunAbandoned> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const parent = settings.benchDir ?? os.tmpdir()
      fs.mkdirSync(parent, { recursive: true })
      return fs.mkdtempSync(path.join(parent, "orch-bench-"))
    }),
    (dir) =>
      Effect.gen(function*() {
        const say = (text: string) => Effect.sync(() => output.add(Source.internal, text))
        const finish = (exitCode: number, measurements: Measurements = {}): FinishedRun => ({
          id: run.id,
          hash: run.hash,
          bench_method: benchMethodText(run.bench_method),
          start: run.start,
          exit_code: exitCode,
          output: output.last(),
          measurements
        })
        const repoDir = path.join(dir, "repo")
        const benchRepoDir = run.bench_method.type === "repo" ? path.join(dir, "bench-repo") : undefined
        yield* say(`run ${run.id}: ${run.hash} (${benchMethodText(run.bench_method)}) for ${server.name}`)
        // a server restarting or out of reach is waited for; a tree it refuses (4xx) or that does not unpack fails the run
        const transient = (error: ServerFailure | ExtractError) => error._tag === "ServerFailure" && (error.status === undefined || error.status >= 500)
        const download = (kind: "repo" | "bench_repo", hash: string, into: string) =>
          server.downloadTree(kind, hash, into).pipe(
            Effect.tapError((error) => transient(error) ? say(`${error.message}; trying again`) : Effect.void),
            Effect.retry({ while: transient, schedule: Schedule.exponential(settings.downloadRetry ?? "500 millis").pipe(Schedule.intersect(Schedule.recurs(6))) })
          )
        const downloaded = yield* Effect.either(Effect.gen(function*() {
          yield* download("repo", run.hash, repoDir)
          if (run.bench_method.type === "repo") yield* download("bench_repo", run.bench_method.hash, benchRepoDir!)
        }))
        if (Either.isLeft(downloaded)) {
          if (transient(downloaded.left)) return yield* new RunAbandoned({ reason: downloaded.left.message })
          yield* say(downloaded.left.message)
          return finish(-1)
        }
        const how = invocation(run, repoDir, benchRepoDir, settings.command)
        if (Either.isLeft(how)) {
          yield* say(how.left)
          return finish(-1)
        }
        if (how.right === "count") {
          yield* say("no ./bench in the commit and no bench.worker.command: counting its files, lines and TODOs (tablejohn's internal method)")
          const counted = yield* countTree(repoDir)
          yield* say(`exit code 0; ${Object.keys(counted).length} measurement(s) counted`)
          return finish(0, counted)
        }
        const resultsFile = path.join(dir, "results")
        yield* say(`running ${[how.right.command, ...how.right.args].join(" ")} (timeout ${Duration.format(settings.timeout)})`)
        const outcome = yield* Effect.either(runProcess({
          command: how.right.command,
          args: how.right.args,
          cwd: how.right.cwd,
          env: { ORCH_BENCH_RESULTS: resultsFile, ORCH_BENCH_RUN_ID: run.id, ORCH_BENCH_HASH: run.hash, ORCH_BENCH_REPO: repoDir },
          timeout: settings.timeout,
          output
        }))
        if (Either.isLeft(outcome)) {
          yield* say(outcome.left.message)
          return finish(-1)
        }
        const { exitCode, timedOut, stdout } = outcome.right
        const fromFile = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, "utf8") : ""
        const text = fromFile.trim() !== "" ? fromFile : stdout
        const where = fromFile.trim() !== "" ? "$ORCH_BENCH_RESULTS" : "stdout"
        const parsed = text.trim() === "" ? Either.left(`no measurements (nothing on ${where})`) : settings.parse(text)
        if (Either.isLeft(parsed)) {
          yield* say(`could not read the measurements on ${where}: ${parsed.left}`)
          // a benchmark that says it succeeded but gave nothing to store did not succeed
          return finish(exitCode === 0 && !timedOut ? -1 : exitCode)
        }
        const count = Object.keys(parsed.right).length
        yield* say(`exit code ${exitCode}${timedOut ? " (timed out)" : ""}; ${count} measurement(s) from ${where}`)
        return finish(timedOut && exitCode === 0 ? -1 : exitCode, parsed.right)
      }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
