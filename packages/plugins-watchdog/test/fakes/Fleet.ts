/**
 * Ties the two doubles together: an instance that boots in the fake Compute Engine
 * starts a simulated agent against the WPT server named in its `wpt_data` metadata, as
 * wptagent does with `--gce`; stopping, resetting or deleting it stops the agent.
 */
import { FakeGce, type FakeInstance } from "./FakeGce.js"
import { type AgentBehavior, FakeWpt, type FakeWptOptions, SimulatedAgent } from "./FakeWpt.js"

export const parseWptData = (text: string): Record<string, string> =>
  Object.fromEntries(text.split(/\s+/).filter((p) => p.includes("=")).map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]))

export interface FleetOptions {
  readonly wpt: FakeWptOptions
  readonly project?: string
  readonly bootMs?: number
  readonly stopMs?: number
  /** The agent's behaviour for a location's n-th boot (1 for the first). */
  readonly behavior?: (location: string, boot: number) => AgentBehavior
  /** false: instances boot without an agent (a test polls getwork itself). */
  readonly agents?: boolean
  readonly waitMs?: number
}

export class Fleet {
  readonly wpt: FakeWpt
  readonly gce: FakeGce
  readonly agents = new Map<string, SimulatedAgent>()
  /** Boots per instance name. */
  readonly boots = new Map<string, number>()
  private readonly stopping = new Set<Promise<void>>()

  constructor(readonly options: FleetOptions) {
    this.wpt = new FakeWpt(options.wpt)
    this.gce = new FakeGce({
      project: options.project ?? "test-project",
      bootMs: options.bootMs,
      stopMs: options.stopMs,
      waitMs: options.waitMs,
      onBoot: (instance) => this.boot(instance),
      onHalt: (instance) => this.halt(instance.name)
    })
  }

  async start(): Promise<this> {
    await this.wpt.start()
    await this.gce.start()
    return this
  }

  private boot(instance: FakeInstance) {
    this.halt(instance.name)
    const data = parseWptData(instance.metadata.wpt_data ?? "")
    const count = (this.boots.get(instance.name) ?? 0) + 1
    this.boots.set(instance.name, count)
    if (!data.wpt_server || !data.wpt_loc || this.options.agents === false) return
    const behavior = this.options.behavior?.(data.wpt_loc, count) ?? {}
    this.agents.set(instance.name, new SimulatedAgent(`http://${data.wpt_server}`, data.wpt_loc, instance.name, instance.id, behavior, data.wpt_key ?? ""))
  }

  private halt(name: string) {
    const agent = this.agents.get(name)
    if (agent === undefined) return
    this.agents.delete(name)
    const stopped = agent.stop()
    this.stopping.add(stopped)
    void stopped.then(() => this.stopping.delete(stopped))
  }

  async close(): Promise<void> {
    for (const name of [...this.agents.keys()]) this.halt(name)
    await Promise.all([...this.stopping])
    await this.gce.close()
    await this.wpt.close()
  }
}
