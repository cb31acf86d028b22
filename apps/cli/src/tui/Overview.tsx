/** The overview: the daemon's health, its loops (failing first) and the queue and resources by plugin, kind and state. */
import { lastValues, sparkline } from "@orch/core/Sparkline"
import { Box, Text } from "ink"
import type { Overview as OverviewData } from "./Api.js"
import { columnWidths, fit } from "./Layout.js"
import { Table } from "./Table.js"

type Rate = OverviewData["rates"][number]

/** Jobs a minute: one decimal while small. */
export const perMinute = (rate: number) => (rate < 10 ? rate.toFixed(1) : rate.toFixed(0))

const queueColumns = ["PLUGIN", "KIND", "STATE", "COUNT", "DONE/MIN"]
const sparkTitle = (minutes: number) => `LAST ${minutes} MIN`

/**
 * The queue's rows: a plugin, kind and state with its count; a kind's first row also has
 * its rate of finished jobs and their sparkline, the newest minute on the right, as many
 * minutes as the width leaves room for (none below 5). A kind that only finished jobs
 * (none kept) still shows, with state "-".
 */
export const queueTable = (overview: Pick<OverviewData, "jobs" | "rates">, width: number) => {
  const rates = new Map(overview.rates.map((r) => [`${r.plugin}\u0000${r.kind}`, r]))
  const kinds = new Set(overview.jobs.map((j) => `${j.plugin}\u0000${j.kind}`))
  const entries: Array<{ cells: Array<string>; rate: Rate | undefined }> = []
  const seen = new Set<string>()
  const all = [
    ...overview.jobs,
    ...overview.rates.filter((r) => !kinds.has(`${r.plugin}\u0000${r.kind}`)).map((r) => ({ plugin: r.plugin, kind: r.kind, state: "-", count: 0 }))
  ].sort((a, b) => a.plugin.localeCompare(b.plugin) || a.kind.localeCompare(b.kind))
  for (const job of all) {
    const key = `${job.plugin}\u0000${job.kind}`
    const rate = seen.has(key) ? undefined : rates.get(key)
    seen.add(key)
    entries.push({ cells: [job.plugin, job.kind, job.state, String(job.count), rate === undefined ? "" : perMinute(rate.perMinute)], rate })
  }
  const widths = columnWidths(queueColumns, entries.map((e) => e.cells), width)
  const room = width - widths.reduce((sum, w) => sum + w, 0) - 2 * widths.length
  const minutes = Math.min(30, room)
  if (minutes < 5) return { columns: queueColumns, rows: entries.map((e) => e.cells) }
  return {
    columns: [...queueColumns, sparkTitle(minutes)],
    rows: entries.map((e) => [...e.cells, e.rate === undefined ? "" : sparkline(lastValues(e.rate.minutes, minutes))])
  }
}

export const Overview = ({ overview, width, height }: { overview: OverviewData; width: number; height: number }) => {
  const loops = [...overview.loops].sort((a, b) => Number(a.running) - Number(b.running) || (b.lastError ? 1 : 0) - (a.lastError ? 1 : 0))
  const failing = overview.loops.filter((l) => !l.running || l.lastError !== undefined).length
  const queued = overview.jobs.reduce((sum, j) => sum + j.count, 0)
  const queue = queueTable(overview, width)
  // one line of health, then three tables with a title line each, sharing what is left
  const room = Math.max(0, height - 4)
  const loopsHeight = Math.min(loops.length + 1, Math.max(2, Math.floor(room / 3)))
  const jobsHeight = Math.min(queue.rows.length + 1, Math.max(2, Math.ceil((room - loopsHeight) / 2)))
  const resourcesHeight = Math.max(0, room - loopsHeight - jobsHeight)
  return (
    <Box flexDirection="column">
      <Text>
        {fit(`health ${overview.status} · ${overview.loops.length} loops, ${failing} failing · ${queued} jobs kept`, width)}
      </Text>
      <Text color="cyan" bold>{fit("Loops", width)}</Text>
      <Table
        width={width}
        height={loopsHeight}
        columns={["LOOP", "RUNNING", "RESTARTS", "LAST ERROR"]}
        rows={loops.map((l) => [l.name, !l.running ? "no" : l.singleton === undefined || l.singleton.leader ? "yes" : `standby (${l.singleton.holder ?? "?"})`, String(l.restarts), l.lastError ?? "-"])}
      />
      <Text color="cyan" bold>{fit("Queue by plugin, kind and state; jobs finished a minute", width)}</Text>
      <Table width={width} height={jobsHeight} columns={queue.columns} rows={queue.rows} />
      {resourcesHeight > 1 && <Text color="cyan" bold>{fit("Resources", width)}</Text>}
      {resourcesHeight > 1 && (
        <Table
          width={width}
          height={resourcesHeight - 1}
          columns={["PLUGIN", "KIND", "STATE", "COUNT", "LEASED"]}
          rows={overview.resources.map((r) => [r.plugin, r.kind, r.state, String(r.count), String(r.leased)])}
        />
      )}
    </Box>
  )
}
