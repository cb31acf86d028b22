/** The `bench:` section of orch.yaml. Every key has a default, so `{}` is valid. */
import * as Config from "@orch/core/Config"
import { Schema } from "effect"
import { defaultWorkerSection, WorkerSection } from "./worker/WorkerConfig.js"

const PositiveSeconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))

export const BenchConfig = Schema.Struct({
  repo: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description: "The repository whose commits are benchmarked (a path; cloned bare from `remote` when missing). " +
      "Without it (and without `remote`), the git repository orch runs in, if it runs in one"
  }),
  remote: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description: "URL (or path) the repository is cloned from and fetched from every fetchSeconds"
  }),
  fetchSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 60 }).annotations({
    description: "How often the remote is fetched and the repository's refs and commits imported"
  }),
  trackedRefs: Schema.optional(Schema.Array(Schema.String.pipe(Schema.minLength(1)))).annotations({
    description: "Refs whose new commits are queued (globs: * within a path segment, ** across); " +
      "default: refs/heads/main, refs/heads/master and the branch HEAD names at the first import. A ref tracked or untracked by hand keeps that choice"
  }),
  firstImportQueue: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1 }).annotations({
    description: "On the first import of a repository, how many of the newest commits of each tracked ref are queued (not its whole history)"
  }),
  benchRepo: Schema.optional(Schema.String.pipe(Schema.minLength(1))).annotations({
    description: "A bench repository whose script runs the benchmark (tablejohn's bench method `repo`); its HEAD is handed to workers",
    [Config.ExistingPathId]: "folder"
  }),
  token: Schema.optional(Schema.Redacted(Schema.String.pipe(
    Schema.minLength(16, { message: () => "the worker token must be at least 16 characters" })
  ))).annotations({
    description: "The password workers send (HTTP Basic, user = worker name); use ${ENV}. Without it, a random one known only to this process"
  }),
  workerTimeoutSeconds: Schema.optionalWith(PositiveSeconds, { default: () => 60 }).annotations({
    description: "A worker unseen this long is gone: the commit it was handed goes back to the other workers, its name and secret are free"
  }),
  workerKeepDays: Schema.optionalWith(PositiveSeconds, { default: () => 30 }).annotations({
    description: "Workers unseen this many days are forgotten (their runs stay)"
  }),
  localWorker: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Run a worker in this process too, against this server (tablejohn's --local-runner); it runs the queued commits' benchmarks"
  }),
  worker: Schema.optionalWith(WorkerSection, { default: () => defaultWorkerSection }).annotations({
    description: "The worker's settings: for `orch bench worker`, and for the local worker"
  })
})
export type BenchConfig = typeof BenchConfig.Type
