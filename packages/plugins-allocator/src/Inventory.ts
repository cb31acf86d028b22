/**
 * The device inventory: a YAML file of device types (cleaning command, health check)
 * and devices (name, type, labels, connection details). It is read with core's `Yaml`,
 * so a broken file is reported with file, line and key, and the last good inventory
 * keeps serving. Without a configured file the example inventory below is served.
 */
import * as Yaml from "@orch/core/Yaml"
import { ConfigError } from "@orch/core"
import { Effect, Either, Schema } from "effect"
import { typeLabel } from "./Device.js"

const Seconds = Schema.Number.pipe(Schema.positive({ message: () => "must be a positive number of seconds" }))

/** A command as an argv list, or one string run by `/bin/sh -c`. */
export const CommandLine = Schema.Union(
  Schema.String.pipe(Schema.minLength(1)),
  Schema.NonEmptyArray(Schema.String)
)
export type CommandLine = typeof CommandLine.Type

export const Cleaning = Schema.Struct({
  command: CommandLine.annotations({ description: "Run after each lease ends; the device is free again only when it exits 0" }),
  timeoutSeconds: Schema.optionalWith(Seconds, { default: () => 600 })
})

export const HealthCheck = Schema.Struct({
  tcp: Schema.optional(Schema.Struct({
    host: Schema.optional(Schema.String).annotations({ description: "Default: the device's connection.host" }),
    port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))).annotations({
      description: "Default: the device's connection.port"
    })
  })),
  command: Schema.optional(CommandLine),
  intervalSeconds: Schema.optionalWith(Seconds, { default: () => 30 }),
  timeoutSeconds: Schema.optionalWith(Seconds, { default: () => 5 })
}).pipe(Schema.filter((check) => (check.tcp === undefined) !== (check.command === undefined) || "give exactly one of tcp or command"))

export const DeviceType = Schema.Struct({
  description: Schema.optional(Schema.String),
  cleaning: Schema.optional(Cleaning),
  health: Schema.optional(HealthCheck)
})
export type DeviceType = typeof DeviceType.Type

const Name = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, { message: () => "must be letters, digits, and _ . : - (not first)" })
)

export const DeviceEntry = Schema.Struct({
  name: Name,
  type: Name,
  labels: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.String }).pipe(
      Schema.filter((labels) => !(typeLabel in labels) || `"${typeLabel}" is the device's type: set it with the type key`)
    ),
    { default: () => ({}) }
  ),
  connection: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), { default: () => ({}) })
})
export type DeviceEntry = typeof DeviceEntry.Type

export const InventoryFile = Schema.Struct({
  types: Schema.optionalWith(Schema.Record({ key: Name, value: DeviceType }), { default: () => ({}) }),
  devices: Schema.Array(DeviceEntry)
})
export type Inventory = typeof InventoryFile.Type & { readonly source: string }

/** Served when no inventory is configured: two kinds of hardware on this machine, one that is wiped after use. */
export const exampleInventory = `# orch allocator: the example inventory (replace it: see the allocator's README)
types:
  android-phone:
    description: Phones reached over adb
    cleaning:
      command: 'echo "wiping $ORCH_DEVICE_NAME ($ORCH_DEVICE_SERIAL)"; sleep 1'
      timeoutSeconds: 60
  lab-board:
    description: Development boards on the bench
devices:
  - name: phone-1
    type: android-phone
    labels: { os: android-14 }
    connection: { host: 127.0.0.1, port: 5555, serial: emulator-5554 }
  - name: phone-2
    type: android-phone
    labels: { os: android-13 }
    connection: { host: 127.0.0.1, port: 5557, serial: emulator-5556 }
  - name: board-1
    type: lab-board
    labels: { arch: arm64 }
    connection: { host: 127.0.0.1, port: 2201, console: /dev/ttyUSB0 }
  - name: board-2
    type: lab-board
    labels: { arch: riscv64 }
    connection: { host: 127.0.0.1, port: 2202, console: /dev/ttyUSB1 }
`

const exampleSource = "(example inventory)"

/** Checks what a schema cannot: unique device names. */
const checkUnique = (inventory: typeof InventoryFile.Type, document: Yaml.YamlDocument): Either.Either<void, ConfigError> => {
  const seen = new Map<string, number>()
  for (const [index, device] of inventory.devices.entries()) {
    const first = seen.get(device.name)
    if (first !== undefined) {
      const path = ["devices", index, "name"]
      const position = document.locate(path)
      return Either.left(
        new ConfigError({
          file: document.file,
          line: position?.line,
          column: position?.column,
          key: Yaml.formatPath(path),
          message: `device name ${JSON.stringify(device.name)} is already used by devices[${first}]`
        })
      )
    }
    seen.set(device.name, index)
  }
  return Either.void
}

const decodeDocument = (document: Yaml.YamlDocument) =>
  Effect.gen(function*() {
    const substituted = yield* Yaml.substituteEnv(document, process.env)
    const inventory = yield* Yaml.decode(InventoryFile, substituted)
    yield* checkUnique(inventory, substituted)
    return { ...inventory, source: document.file } satisfies Inventory
  })

/** Parses inventory text (for the example and for tests). */
export const parse = (text: string, file: string): Effect.Effect<Inventory, ConfigError> =>
  Effect.flatMap(Yaml.parse(text, file), decodeDocument)

/** Reads and checks an inventory file; every problem is a `ConfigError` with file, line and key. */
export const load = (file: string | undefined): Effect.Effect<Inventory, ConfigError> =>
  file === undefined ? parse(exampleInventory, exampleSource) : Effect.flatMap(Yaml.readFile(file), decodeDocument)
