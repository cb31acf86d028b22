/**
 * The bench plugin's SQL. Migration 0001 is the plugin's data model (tablejohn's, with times as
 * epoch milliseconds and what change detection and bisection need):
 *
 * - commits and their parent edges, refs and whether each is tracked (from the `git` binary);
 * - the queue of commits to benchmark, with why each is there;
 * - workers as they last reported themselves, with the secret that pins a name to one process;
 * - runs (one benchmark of one commit by one worker, or one import), their measurements and the
 *   last lines of their output;
 * - metrics with their unit and direction (set once);
 * - alerts: one per commit range, with every metric it moved.
 */
export const migrations = {
  "0001_bench": `
CREATE TABLE bench_commits (
  hash TEXT PRIMARY KEY,
  author TEXT NOT NULL,
  author_date BIGINT NOT NULL,       -- epoch ms
  committer TEXT NOT NULL,
  committer_date BIGINT NOT NULL,    -- epoch ms
  message TEXT NOT NULL,             -- the whole message; its first line is the subject
  reachable INTEGER NOT NULL DEFAULT 0, -- 0: from no ref, 1: from some ref, 2: from a tracked ref (tablejohn's)
  new INTEGER NOT NULL DEFAULT 1,    -- imported and not yet considered for the queue
  seen_at BIGINT NOT NULL            -- when orch first imported it
);
CREATE INDEX bench_commits_committer_date ON bench_commits (committer_date);
CREATE TABLE bench_commit_edges (
  child TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  parent TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  position INTEGER NOT NULL,         -- 0 for the first parent
  PRIMARY KEY (child, parent)
);
CREATE INDEX bench_commit_edges_parent ON bench_commit_edges (parent, child);
CREATE TABLE bench_refs (
  name TEXT PRIMARY KEY,             -- refs/heads/main, refs/tags/v1.0, ...
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  tracked INTEGER NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_queue (
  hash TEXT PRIMARY KEY REFERENCES bench_commits (hash) ON DELETE CASCADE,
  priority INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL,              -- new, manual, suspect (more samples), bisect, import
  queued_at BIGINT NOT NULL
);
-- what a worker asking for work gets: the highest priority, then the newest commit
CREATE INDEX bench_queue_order ON bench_queue (priority DESC, queued_at DESC, hash);
CREATE TABLE bench_workers (
  name TEXT PRIMARY KEY,
  secret TEXT NOT NULL,              -- chosen by the worker; a status with another one is refused while this one is live
  info TEXT,                         -- free-form, as tablejohn's worker sends it
  fingerprint TEXT,                  -- JSON: cpu model, cores, kernel, governor, noise self-test
  status TEXT NOT NULL,              -- JSON: tablejohn's WorkerStatus (idle, busy, working with its run)
  run_id TEXT,                       -- the run it is working on or was handed, for this server
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL
);
CREATE TABLE bench_runs (
  id TEXT PRIMARY KEY,               -- chosen by the server when it hands the run out; idempotency key of the submit
  hash TEXT NOT NULL REFERENCES bench_commits (hash) ON DELETE CASCADE,
  bench_method TEXT NOT NULL,        -- "internal" or "bench repo, hash <hash>" (tablejohn's display form)
  worker_name TEXT,                  -- NULL for an import
  worker_info TEXT,
  fingerprint TEXT,                  -- JSON, copied from the worker at submit: compare checks the two match
  started_at BIGINT NOT NULL,
  ended_at BIGINT NOT NULL,
  exit_code INTEGER NOT NULL,
  source TEXT NOT NULL               -- worker or import
);
CREATE INDEX bench_runs_hash ON bench_runs (hash, ended_at);
CREATE TABLE bench_metrics (
  name TEXT PRIMARY KEY,             -- <benchmark>/<measure>
  unit TEXT,
  direction INTEGER NOT NULL DEFAULT 0 -- -1 less is better, 1 more is better, 0 not known yet; set once
);
CREATE TABLE bench_measurements (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  value DOUBLE PRECISION NOT NULL,
  lower_value DOUBLE PRECISION,
  upper_value DOUBLE PRECISION,
  samples TEXT,                      -- JSON array, when the tool reported them
  PRIMARY KEY (run_id, metric)
);
-- a metric's history (graph, detection) without reading every run
CREATE INDEX bench_measurements_metric ON bench_measurements (metric, run_id);
CREATE TABLE bench_run_output (
  run_id TEXT NOT NULL REFERENCES bench_runs (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  source INTEGER NOT NULL,           -- 1 stdout, 2 stderr (tablejohn's Source)
  text TEXT NOT NULL,
  PRIMARY KEY (run_id, line)
);
CREATE TABLE bench_alerts (
  id INTEGER PRIMARY KEY,
  good_hash TEXT NOT NULL,           -- the last commit before the change that was measured
  bad_hash TEXT NOT NULL,            -- the first commit after it that was measured
  blamed_hash TEXT,                  -- the one commit found by bisection (or the only one in the range)
  state TEXT NOT NULL,               -- bisecting, blamed, dismissed
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE bench_alert_metrics (
  alert_id INTEGER NOT NULL REFERENCES bench_alerts (id) ON DELETE CASCADE,
  metric TEXT NOT NULL REFERENCES bench_metrics (name) ON DELETE CASCADE,
  before_mean DOUBLE PRECISION NOT NULL,
  after_mean DOUBLE PRECISION NOT NULL,
  change DOUBLE PRECISION NOT NULL,  -- relative: (after - before) / before
  p_value DOUBLE PRECISION NOT NULL,
  regression INTEGER NOT NULL,       -- 1 when the change goes the metric's worse way
  PRIMARY KEY (alert_id, metric)
);`
} as const
