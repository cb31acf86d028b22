/** The overview: the daemon's health, its loops (failing first) and the queue and resources by plugin, kind and state. */
import { Box, Text } from "ink"
import type { Overview as OverviewData } from "./Api.js"
import { fit } from "./Layout.js"
import { Table } from "./Table.js"

export const Overview = ({ overview, width, height }: { overview: OverviewData; width: number; height: number }) => {
  const loops = [...overview.loops].sort((a, b) => Number(a.running) - Number(b.running) || (b.lastError ? 1 : 0) - (a.lastError ? 1 : 0))
  const failing = overview.loops.filter((l) => !l.running || l.lastError !== undefined).length
  const queued = overview.jobs.reduce((sum, j) => sum + j.count, 0)
  // one line of health, then three tables with a title line each, sharing what is left
  const room = Math.max(0, height - 4)
  const loopsHeight = Math.min(loops.length + 1, Math.max(2, Math.floor(room / 3)))
  const jobsHeight = Math.min(overview.jobs.length + 1, Math.max(2, Math.ceil((room - loopsHeight) / 2)))
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
        rows={loops.map((l) => [l.name, l.running ? "yes" : "no", String(l.restarts), l.lastError ?? "-"])}
      />
      <Text color="cyan" bold>{fit("Queue by plugin, kind and state", width)}</Text>
      <Table
        width={width}
        height={jobsHeight}
        columns={["PLUGIN", "KIND", "STATE", "COUNT"]}
        rows={overview.jobs.map((j) => [j.plugin, j.kind, j.state, String(j.count)])}
      />
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
