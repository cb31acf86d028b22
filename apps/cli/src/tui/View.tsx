/** The TUI's one screen: the daemon, the job queue, resources, and each plugin's panels. */
import { Box, Text, useApp, useInput } from "ink"
import type { Snapshot } from "./Snapshot.js"

const Table = ({ columns, rows }: { columns: ReadonlyArray<string>; rows: ReadonlyArray<ReadonlyArray<string>> }) => {
  const widths = columns.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ")
  return (
    <Box flexDirection="column">
      <Text bold>{line(columns)}</Text>
      {rows.length === 0 ? <Text dimColor>(none)</Text> : rows.map((row, i) => <Text key={i}>{line(row)}</Text>)}
    </Box>
  )
}

const Section = ({ title, children }: { title: string; children: React.ReactNode }) => (
  <Box flexDirection="column" marginTop={1}>
    <Text color="cyan" bold>{title}</Text>
    {children}
  </Box>
)

export const View = ({ snapshot }: { snapshot: Snapshot }) => (
  <Box flexDirection="column">
    <Text>
      <Text bold>orch</Text> daemon {snapshot.daemon.url}{" "}
      <Text color={snapshot.daemon.status === "ready" ? "green" : "yellow"}>{snapshot.daemon.status}</Text>
      <Text dimColor> · {new Date(snapshot.at).toISOString().slice(11, 19)}</Text>
    </Text>
    <Section title="Jobs">
      <Table
        columns={["PLUGIN", "KIND", "STATE", "COUNT"]}
        rows={snapshot.jobs.map((j) => [j.plugin, j.kind, j.state, String(j.count)])}
      />
    </Section>
    <Section title="Resources">
      <Table
        columns={["PLUGIN", "KIND", "STATE", "COUNT", "LEASED"]}
        rows={snapshot.resources.map((r) => [r.plugin, r.kind, r.state, String(r.count), String(r.leased)])}
      />
    </Section>
    {snapshot.daemon.loops.length > 0 && (
      <Section title="Loops">
        <Table
          columns={["LOOP", "RUNNING", "RESTARTS", "LAST ERROR"]}
          rows={snapshot.daemon.loops.map((l) => [l.name, l.running ? "yes" : "no", String(l.restarts), l.lastError ?? "-"])}
        />
      </Section>
    )}
    {snapshot.plugins.flatMap((plugin) =>
      plugin.panels.map((panel) => (
        <Section key={`${plugin.name}:${panel.title}`} title={`${plugin.name}: ${panel.title}`}>
          <Table columns={panel.columns} rows={panel.rows} />
        </Section>
      ))
    )}
  </Box>
)

/** The interactive screen: q or Ctrl-C quits. */
export const App = ({ snapshot }: { snapshot: Snapshot }) => {
  const { exit } = useApp()
  useInput((input) => {
    if (input === "q") exit()
  })
  return (
    <Box flexDirection="column">
      <View snapshot={snapshot} />
      <Text dimColor>q to quit · refreshes every second</Text>
    </Box>
  )
}
