/**
 * A Compute Engine double: the REST shapes `@google-cloud/compute` speaks for zone
 * instances (get, list, insert, start, stop, reset, resume, delete) and zone operations (get,
 * wait), on 127.0.0.1. Instances move through PROVISIONING/STAGING to RUNNING and
 * STOPPING to TERMINATED after `bootMs`/`stopMs` (0: at once, within the call); `onBoot`
 * and `onHalt` let a test start and stop the agent "inside" an instance.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface FakeInstance {
  name: string
  zone: string
  id: string
  status: string
  metadata: Record<string, string>
  machineType: string
  boots: number
  creationTimestamp: string
  body: Record<string, unknown>
}

interface Operation {
  id: string
  name: string
  zone: string
  operationType: string
  targetLink: string
  status: "PENDING" | "RUNNING" | "DONE"
  error?: { errors: Array<{ code: string; message: string }> }
  done: Promise<void>
  finish: () => void
}

export interface FakeGceOptions {
  readonly project: string
  readonly bootMs?: number | undefined
  readonly stopMs?: number | undefined
  /** How long operations/wait holds an operation that is not done (the real one: about two minutes). */
  readonly waitMs?: number | undefined
  readonly onBoot?: (instance: FakeInstance) => void
  readonly onHalt?: (instance: FakeInstance) => void
}

export interface GceCall {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
  readonly verb: string
  readonly instance: string | undefined
  readonly zone: string
}

export class FakeGce {
  readonly instances = new Map<string, FakeInstance>()
  readonly operations = new Map<string, Operation>()
  /** Every call received, in order. */
  readonly calls: Array<GceCall> = []
  /** Calls (by verb: list, get, insert, start, stop, reset, delete) answered with an HTTP error next. */
  readonly failNext = new Map<string, number>()
  /** While true, operations stay RUNNING and instances in their transitional state. */
  holdOperations = false
  private held: Array<() => void> = []
  private server: http.Server | undefined
  private nextId = 1000
  private timers = new Set<NodeJS.Timeout>()
  port = 0

  constructor(readonly options: FakeGceOptions) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer)
    for (const op of this.operations.values()) op.finish()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }

  /** Puts an instance in place directly (an instance that existed before the test). */
  seed(instance: { name: string; zone: string; status: string; metadata?: Record<string, string> }): FakeInstance {
    const created: FakeInstance = {
      ...instance,
      id: String(this.nextId++),
      metadata: instance.metadata ?? {},
      machineType: "n1-standard-2",
      boots: 0,
      creationTimestamp: new Date().toISOString(),
      body: {}
    }
    this.instances.set(`${instance.zone}/${instance.name}`, created)
    if (created.status === "RUNNING") this.boot(created)
    return created
  }

  /** Lets held operations complete. */
  release() {
    this.holdOperations = false
    for (const finish of this.held.splice(0)) finish()
  }

  callsOf(verb: string, instance?: string) {
    return this.calls.filter((c) => c.verb === verb && (instance === undefined || c.instance === instance))
  }

  private later(ms: number, f: () => void) {
    if (ms <= 0 && !this.holdOperations) return f()
    if (this.holdOperations) return void this.held.push(f)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      f()
    }, ms)
    this.timers.add(timer)
  }

  private boot(instance: FakeInstance) {
    instance.boots++
    this.options.onBoot?.(instance)
  }

  private operation(zone: string, type: string, target: string): Operation {
    const id = String(this.nextId++)
    let finish!: () => void
    const done = new Promise<void>((resolve) => (finish = resolve))
    const op: Operation = {
      id,
      name: `operation-${id}`,
      zone: `https://www.googleapis.com/compute/v1/projects/${this.options.project}/zones/${zone}`,
      operationType: type,
      targetLink: target,
      status: "RUNNING",
      done,
      finish: () => {
        op.status = "DONE"
        finish()
      }
    }
    this.operations.set(op.name, op)
    return op
  }

  private view(op: Operation) {
    return {
      kind: "compute#operation",
      id: op.id,
      name: op.name,
      zone: op.zone,
      operationType: op.operationType,
      targetLink: op.targetLink,
      status: op.status,
      progress: op.status === "DONE" ? 100 : 0,
      ...(op.error ? { error: op.error } : {})
    }
  }

  private instanceView(instance: FakeInstance) {
    return {
      ...instance.body,
      kind: "compute#instance",
      id: instance.id,
      name: instance.name,
      zone: `https://www.googleapis.com/compute/v1/projects/${this.options.project}/zones/${instance.zone}`,
      status: instance.status,
      machineType: instance.machineType,
      creationTimestamp: instance.creationTimestamp,
      metadata: { kind: "compute#metadata", items: Object.entries(instance.metadata).map(([key, value]) => ({ key, value })) }
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const body = await new Promise<string>((resolve) => {
      let text = ""
      req.on("data", (c) => (text += c))
      req.on("end", () => resolve(text))
    })
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json; charset=UTF-8" })
      res.end(JSON.stringify(value))
    }
    const error = (status: number, reason: string, message: string) =>
      send(status, { error: { code: status, message, errors: [{ message, domain: "global", reason }] } })
    const path = new URL(req.url ?? "/", "http://fake").pathname
    const match = /^\/compute\/v1\/projects\/([^/]+)\/zones\/([^/]+)\/(instances|operations)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(path)
    if (match === null) return error(404, "notFound", `The requested URL ${path} was not found on this server.`)
    const [, project, zone, collection, name, action] = match as unknown as [string, string, string, string, string | undefined, string | undefined]
    if (project !== this.options.project) return error(404, "notFound", `The resource 'projects/${project}' was not found`)
    const method = req.method ?? "GET"
    const verb = collection === "operations"
      ? action === "wait" ? "wait" : "operation"
      : name === undefined ? (method === "POST" ? "insert" : "list") : method === "DELETE" ? "delete" : action ?? "get"
    const inserted = verb === "insert" ? String((JSON.parse(body || "{}") as { name?: string }).name ?? "") : undefined
    const headers = {
      authorization: req.headers.authorization,
      "content-type": req.headers["content-type"],
      "x-goog-api-client": req.headers["x-goog-api-client"] as string | undefined
    }
    this.calls.push({ method, path, headers, body, verb, instance: collection === "instances" ? name ?? inserted : undefined, zone })
    const failures = this.failNext.get(verb) ?? 0
    if (failures > 0) {
      this.failNext.set(verb, failures - 1)
      return error(503, "backendError", "Internal error. Please try again or contact Google Support.")
    }
    const link = (n: string) => `https://www.googleapis.com/compute/v1/projects/${project}/zones/${zone}/instances/${n}`

    if (collection === "operations") {
      const op = name === undefined ? undefined : this.operations.get(name)
      if (op === undefined) return error(404, "notFound", `The resource 'projects/${project}/zones/${zone}/operations/${name}' was not found`)
      if (verb === "wait") {
        await Promise.race([op.done, new Promise((r) => setTimeout(r, this.options.waitMs ?? 2000))])
      }
      return send(200, this.view(op))
    }

    const key = `${zone}/${name}`
    const instance = name === undefined ? undefined : this.instances.get(key)
    if (verb === "list") {
      const items = [...this.instances.values()].filter((i) => i.zone === zone).map((i) => this.instanceView(i))
      return send(200, { kind: "compute#instanceList", id: `projects/${project}/zones/${zone}/instances`, ...(items.length > 0 ? { items } : {}) })
    }
    if (verb === "insert") {
      const resource = JSON.parse(body || "{}") as Record<string, any>
      const newName = String(resource.name ?? "")
      if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(newName)) return error(400, "invalid", `Invalid value for field 'resource.name': '${newName}'.`)
      if (this.instances.has(`${zone}/${newName}`)) return error(409, "alreadyExists", `The resource 'projects/${project}/zones/${zone}/instances/${newName}' already exists`)
      const metadata: Record<string, string> = {}
      for (const item of resource.metadata?.items ?? []) metadata[item.key] = item.value
      const created: FakeInstance = {
        name: newName,
        zone,
        id: String(this.nextId++),
        status: "PROVISIONING",
        metadata,
        machineType: String(resource.machineType ?? ""),
        boots: 0,
        creationTimestamp: new Date().toISOString(),
        body: resource
      }
      this.instances.set(`${zone}/${newName}`, created)
      const op = this.operation(zone, "insert", link(newName))
      this.later(this.options.bootMs ?? 0, () => {
        if (this.instances.get(`${zone}/${newName}`) !== created) return op.finish()
        created.status = "RUNNING"
        this.boot(created)
        op.finish()
      })
      if (op.status !== "DONE") created.status = "STAGING"
      return send(200, this.view(op))
    }
    if (instance === undefined) return error(404, "notFound", `The resource 'projects/${project}/zones/${zone}/instances/${name}' was not found`)
    const op = this.operation(zone, verb, link(instance.name))
    switch (verb) {
      case "get":
        this.operations.delete(op.name)
        return send(200, this.instanceView(instance))
      case "start": {
        if (instance.status === "TERMINATED") {
          instance.status = "STAGING"
          this.later(this.options.bootMs ?? 0, () => {
            instance.status = "RUNNING"
            this.boot(instance)
            op.finish()
          })
        } else op.finish()
        return send(200, this.view(op))
      }
      case "stop": {
        if (instance.status === "RUNNING" || instance.status === "STAGING") {
          instance.status = "STOPPING"
          this.options.onHalt?.(instance)
          this.later(this.options.stopMs ?? 0, () => {
            instance.status = "TERMINATED"
            op.finish()
          })
        } else op.finish()
        return send(200, this.view(op))
      }
      case "resume": {
        if (instance.status === "SUSPENDED") {
          instance.status = "STAGING"
          this.later(this.options.bootMs ?? 0, () => {
            instance.status = "RUNNING"
            this.boot(instance)
            op.finish()
          })
        } else {
          op.error = { errors: [{ code: "UNSUPPORTED_OPERATION", message: `The instance '${instance.name}' is not suspended.` }] }
          op.finish()
        }
        return send(200, this.view(op))
      }
      case "reset": {
        if (instance.status !== "RUNNING") {
          op.error = { errors: [{ code: "UNSUPPORTED_OPERATION", message: `The instance '${instance.name}' is not running.` }] }
          op.finish()
          return send(200, this.view(op))
        }
        this.options.onHalt?.(instance)
        this.later(this.options.bootMs ?? 0, () => {
          this.boot(instance)
          op.finish()
        })
        return send(200, this.view(op))
      }
      case "delete": {
        instance.status = "STOPPING"
        this.options.onHalt?.(instance)
        this.later(this.options.stopMs ?? 0, () => {
          this.instances.delete(key)
          op.finish()
        })
        return send(200, this.view(op))
      }
      default:
        this.operations.delete(op.name)
        return error(400, "invalid", `unsupported action ${action}`)
    }
  }
}
