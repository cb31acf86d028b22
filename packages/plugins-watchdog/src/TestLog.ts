/**
 * Finding the watchdog's own submissions in WPT's test log, which is all WPT offers to
 * look a test up by its label. Two filters stand between a label and the log:
 *
 * - runtest.php trims the label, then drops every character outside `[A-Za-z0-9_ .-]`
 *   (byte by byte, so any non-ASCII character goes);
 * - testlog.php lowercases its `filter`, drops every character outside
 *   `[a-zA-Z0-9 @/:.()+-]` (an underscore goes: `watchdog_job_72` is looked up as
 *   `watchdogjob72`), and matches what is left case-insensitively anywhere in the log line.
 *
 * So the watchdog's tag uses only characters both keep (`orch-job-72-mio2k9x4-try-1`: the
 * job's id, its creation time in base 36, so that another orch database's job 72 has
 * another tag, and the try), is looked up
 * alone (whatever the user's label holds), and a line counts only when its label column,
 * which runtest.php kept exactly as the watchdog sent it, is the whole label.
 */
import type { LoggedTest } from "./Wpt.js"

/** What runtest.php keeps of a label (runtest.php: `preg_replace('/[^\w\d \-_\.]/', '', trim($label))`). */
export const keptByWpt = (label: string): string => label.trim().replace(/[^A-Za-z0-9_ .-]/g, "")

/** The part of a label unique to one job (of one orch database) and try. */
export const tag = (job: { readonly id: number; readonly createdAt: number }, attempt: number): string =>
  `orch-job-${job.id}-${job.createdAt.toString(36)}-try-${attempt}`

/**
 * The label sent to WPT: the user's label as WPT would keep it, then the tag. It passes
 * runtest.php's filter unchanged, so the test log shows exactly this.
 */
export const label = (userLabel: string | undefined, job: { readonly id: number; readonly createdAt: number }, attempt: number): string => {
  const user = keptByWpt(userLabel ?? "").trim()
  return user === "" ? tag(job, attempt) : `${user} ${tag(job, attempt)}`
}

/** What testlog.php makes of a filter (testlog.php: lowercased, `[^a-zA-Z0-9 \@\/\:\.\(\))\-\+]` dropped, trimmed). */
export const asTestLogReadsIt = (filter: string): string =>
  filter.toLowerCase().replace(/[^a-zA-Z0-9 @/:.()+-]/g, "").trim()

/**
 * The filter to look `sent` up with: its tag; for a label of an older watchdog
 * (`… watchdog_job_72_try_1_`), the longest run of it the test log keeps (`watchdog`),
 * which finds more lines, sorted out by `isSubmission`.
 */
export const filterFor = (sent: string): string => {
  const own = /orch-job-\d+-(?:[0-9a-z]+-)?try-\d+$/.exec(sent)
  if (own !== null) return own[0]
  const runs = sent.split(/[^a-zA-Z0-9 @/:.()+-]+/).map((run) => run.trim())
  return runs.reduce((longest, run) => (run.length > longest.length ? run : longest), "")
}

/**
 * Whether a log line is the submission labelled `sent`: its label column is the whole
 * label (case aside), and it was logged no earlier than `notBefore` (a test of another
 * orch database with the same job id and try, say) when its date reads.
 */
export const isSubmission = (line: LoggedTest, sent: string, notBefore: number): boolean =>
  line.label.trim().toLowerCase() === sent.trim().toLowerCase() &&
  (line.loggedAt === undefined || line.loggedAt >= notBefore)

/**
 * Whether testlog.php leaves the job's test out for the watchdog, as for anyone but WPT's
 * admins: a private test, or one whose URL holds credentials (an `@` before any `?`,
 * which testlog.php takes for private).
 */
export const hiddenFromLog = (test: { readonly url?: string | undefined; readonly options?: Readonly<Record<string, unknown>> | undefined }): boolean => {
  const flag = test.options?.private
  if (flag === true || flag === 1 || flag === "1") return true
  const url = test.url ?? ""
  const at = url.indexOf("@")
  const query = url.indexOf("?")
  return at >= 0 && (query < 0 || query > at)
}

/** Days testlog.php must look back from today (UTC, one log file a day) to reach `since`, one more for clock skew. */
export const daysBack = (since: number, now: number): number =>
  Math.max(0, Math.floor(now / 86_400_000) - Math.floor(since / 86_400_000)) + 1

/** A short account of log lines, for the logs and the submission's record. */
export const describe = (lines: ReadonlyArray<LoggedTest>, limit = 5): string => {
  if (lines.length === 0) return "no line"
  const shown = lines.slice(0, limit).map((line) =>
    `${line.testId} "${line.label}" at ${line.loggedAt === undefined ? "?" : new Date(line.loggedAt).toISOString()}`
  )
  return `${lines.length} line(s): ${shown.join("; ")}${lines.length > limit ? "; …" : ""}`
}
