/**
 * WPT's test log, kept as the real server keeps it and read back as testlog.php reads it
 * (none of WPT's code is here):
 *
 * - runtest.php LogTest appends one line per test to `logs/<UTC Ymd>.log`, as common_lib.inc
 *   makeLogLine writes it: 18 tab-separated columns (tabs dropped from values), the date as
 *   gmdate("Y-m-d G:i:s");
 * - testlog.php with f=csv, as an API client without a WPT user or admin rights sees it: the
 *   filter is lowercased and loses every character outside `[a-zA-Z0-9 @/:.()+-]`, then
 *   matches case-insensitively anywhere in a line (grep -i -F, then stristr); an empty one
 *   matches every line. `days` (default 7) reads today's file and that many before, newest
 *   line first; `all` is needed to see anything without a user; private tests (and URLs with
 *   credentials: an `@` before any `?`) are left out; past 100 lines it stops unless
 *   `nolimit`. The date is strftime('%x %X') in the C locale, UTC; the label and location go
 *   out unescaped, the URL with its quotes doubled.
 */
const pad = (n: number) => String(n).padStart(2, "0")
const dayOf = (at: Date) => `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`
/** PHP's empty(): unset, "" and "0" are empty. */
const given = (value: string | null) => value !== null && value !== "" && value !== "0"

export class FakeTestLog {
  /** Lines per UTC day (`Ymd`). */
  readonly days = new Map<string, Array<string>>()

  /** One line: the columns after the date, IP and two zeros (guid, url, location, private, uid, user, video, label, …). */
  append(now: number, columns: ReadonlyArray<string>) {
    const at = new Date(now)
    const date = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())} ${at.getUTCHours()}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())}`
    const lines = this.days.get(dayOf(at)) ?? []
    lines.push([date, "127.0.0.1", "0", "0", ...columns].map((c) => c.replace(/\t/g, "")).join("\t"))
    this.days.set(dayOf(at), lines)
  }

  /** testlog.php's CSV for these request parameters. */
  csv(params: URLSearchParams, now: number): string {
    const rawFilter = params.get("filter")
    const filter = given(rawFilter)
      ? rawFilter!.toLowerCase().replace(/[^a-zA-Z0-9 @/:.()+-]/g, "").replace(/["'\\]/g, "").trim()
      : ""
    const days = Number.parseInt(params.get("days") ?? "7", 10) || 0
    const all = given(params.get("all"))
    const nolimit = given(params.get("nolimit"))
    const rows: Array<string> = []
    for (let offset = 0; offset <= days && (nolimit || rows.length <= 100); offset++) {
      const lines = this.days.get(dayOf(new Date(now - offset * 86_400_000))) ?? []
      for (const line of [...lines].reverse()) {
        if (filter !== "" && !line.toLowerCase().includes(filter)) continue
        const c = line.split("\t").map((token) => token.trim())
        const [date, , , , guid, url, location, privateFlag] = c
        if (!date || !guid || !url) continue
        const withCredentials = url.includes("@") && (!url.includes("?") || url.indexOf("?") > url.indexOf("@"))
        if (privateFlag === "1" || withCredentials || !all) continue
        const logged = new Date(`${date.replace(" ", "T")}Z`.replace(/T(\d):/, "T0$1:"))
        const shown = `${pad(logged.getUTCMonth() + 1)}/${pad(logged.getUTCDate())}/${String(logged.getUTCFullYear()).slice(2)} ${pad(logged.getUTCHours())}:${pad(logged.getUTCMinutes())}:${pad(logged.getUTCSeconds())}`
        rows.push(`"${shown}","${location ?? ""}","${guid}","${url.replace(/"/g, "\"\"")}","${c[11] ?? ""}"`)
        if (!nolimit && rows.length > 100) break
      }
    }
    return `"Date/Time","Location","Test ID","URL","Label"\r\n${rows.map((l) => `${l}\r\n`).join("")}`
  }
}
