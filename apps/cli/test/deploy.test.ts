/**
 * The ways orch is deployed, checked here without the machines they run on: the systemd unit
 * by `systemd-analyze verify` (no warning either), the Dockerfile by a Dockerfile linter
 * (no Docker engine answers on this machine kind), the compose file by docker-compose's own
 * check (Debian's docker-compose, which needs no engine for it) and its config by `orch config check`.
 */
import * as Yaml from "@orch/core/Yaml"
import { debianTool, orchBin, run, tempDir } from "@orch/testing"
import { validate } from "dockerfile-utils"
import { Either } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const repo = fileURLToPath(new URL("../../..", import.meta.url))
const read = (file: string) => fs.readFileSync(path.join(repo, file), "utf8")

/** `Key=value` lines of a unit file's sections, every value a key has. */
const unitKeys = (text: string) => {
  const keys = new Map<string, Array<string>>()
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (match) keys.set(match[1]!, [...(keys.get(match[1]!) ?? []), match[2]!])
  }
  return keys
}

describe("deploy/orch.service", () => {
  const unit = read("deploy/orch.service")

  it("passes systemd-analyze verify with nothing to say", async () => {
    const analyze = debianTool("systemd-analyze", "systemd")
    if (analyze === undefined) return
    // verify checks that ExecStart's program exists: point it at one that does
    const dir = tempDir("orch-unit-")
    fs.writeFileSync(path.join(dir, "orch.service"), unit.replaceAll("/usr/local/bin/orch", process.execPath))
    const { stdout, stderr } = await promisify(execFile)(analyze, ["verify", path.join(dir, "orch.service")])
    expect(stdout + stderr).toBe("")
  })

  it("runs as its own user, hardened, restarted on failure, reloaded by SIGHUP, stopped past the grace", () => {
    const keys = unitKeys(unit)
    expect(keys.get("DynamicUser")).toEqual(["yes"])
    expect(keys.get("User")).toEqual(["orch"])
    expect(keys.get("StateDirectory")).toEqual(["orch"])
    expect(keys.get("ExecStart")![0]).toContain("--data-dir ${STATE_DIRECTORY}")
    for (const [key, value] of [["ProtectSystem", "strict"], ["NoNewPrivileges", "yes"], ["ProtectHome", "yes"], ["PrivateTmp", "yes"]]) {
      expect(keys.get(key!), key).toEqual([value])
    }
    expect(keys.get("CapabilityBoundingSet")).toEqual([""])
    expect(keys.get("Restart")).toEqual(["on-failure"])
    expect(keys.get("ExecReload")).toEqual(["/bin/kill -HUP $MAINPID"])
    expect(keys.get("KillSignal")).toEqual(["SIGTERM"])
    // systemd's SIGKILL must come after core.shutdownGraceSeconds (10 s by default)
    expect(Number(keys.get("TimeoutStopSec")![0])).toBeGreaterThan(10)
  })
})

describe("Dockerfile", () => {
  const dockerfile = read("Dockerfile")

  it("has no problem a Dockerfile linter finds", () => {
    expect(validate(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([])
    // the linter finds problems when there are some
    expect(validate("FROM debian\nRUNN true\n")).not.toEqual([])
  })

  it("builds the single executable and ships it alone, as a user of its own, with a health check and a data volume", () => {
    const stages = dockerfile.split("\n").filter((l) => l.startsWith("FROM "))
    expect(stages).toHaveLength(2)
    expect(dockerfile).toContain("RUN npm run build:binary")
    expect(dockerfile).toContain("COPY --from=build /src/dist/orch /usr/local/bin/orch")
    const user = /^USER (\S+)$/m.exec(dockerfile)?.[1]
    expect(user).toBeDefined()
    expect(user).not.toMatch(/^(root|0)$/)
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD \["orch", "health"/m)
    expect(dockerfile).toMatch(/^VOLUME \["\/var\/lib\/orch"\]$/m)
    expect(dockerfile).toMatch(/^ENV ORCH_DATA_DIR=\/var\/lib\/orch$/m)
    // every file the build stage copies by name is in the repository
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) {
      if (source !== ".") expect(fs.existsSync(path.join(repo, source!)), source).toBe(true)
    }
  })
})

describe("compose.yaml", () => {
  it("is a valid Compose file to docker-compose", async () => {
    const compose = debianTool("docker-compose", "docker-compose")
    if (compose === undefined) return
    // `config` checks the file against the Compose schema without a Docker engine
    const { stdout } = await promisify(execFile)(compose, ["-f", path.join(repo, "compose.yaml"), "config"])
    expect(stdout).toContain("/var/lib/orch")
    // and refuses what is not Compose
    const bad = path.join(tempDir("orch-compose-"), "compose.yaml")
    fs.writeFileSync(bad, "services:\n  orch:\n    imagee: orch\n")
    await expect(promisify(execFile)(compose, ["-f", bad, "config"])).rejects.toThrow(/imagee/)
  })

  it("runs the image with its data in a volume and the config that orch config check accepts", async () => {
    const compose = Either.getOrThrow(Yaml.parse(read("compose.yaml"), "compose.yaml")).value as any
    const service = compose.services.orch
    expect(service.build).toBe(".")
    expect(service.volumes).toContain("orch-data:/var/lib/orch")
    const mount = (service.volumes as Array<string>).find((v) => v.endsWith(":/etc/orch/orch.yaml:ro"))!
    const config = path.join(repo, mount.split(":")[0]!)
    expect(fs.existsSync(config)).toBe(true)
    const check = await run(orchBin, ["config", "check", "--config", config], { cwd: tempDir("orch-compose-") })
    expect(check).toMatchObject({ code: 0 })
    expect(check.stdout).toContain("is valid")
  })
})

describe("deploy/compose.cluster.yaml", () => {
  it("runs three nodes on one PostgreSQL, each with the database URL, and wants the database password given", async () => {
    const compose = debianTool("docker-compose", "docker-compose")
    if (compose === undefined) return
    const file = path.join(repo, "deploy", "compose.cluster.yaml")
    const { stdout } = await promisify(execFile)(compose, ["-f", file, "config"], {
      env: { ...process.env, ORCH_DB_PASSWORD: "s3cret" }
    })
    const config = Either.getOrThrow(Yaml.parse(stdout, "compose config")).value as any
    const nodes = Object.keys(config.services).filter((name) => name.startsWith("orch-")).sort()
    expect(nodes).toEqual(["orch-1", "orch-2", "orch-3"])
    for (const node of nodes) {
      expect(config.services[node].environment.ORCH_DATABASE_URL).toBe("postgres://orch:s3cret@postgres:5432/orch")
      expect(Object.keys(config.services[node].depends_on)).toEqual(["postgres"])
    }
    // without the password Compose refuses, naming it
    const { ORCH_DB_PASSWORD: _, ...env } = process.env
    await expect(promisify(execFile)(compose, ["-f", file, "config"], { env })).rejects.toThrow(/ORCH_DB_PASSWORD/)
  })
})
