/**
 * The environment a device's commands see (cleaning, health checks, `orch allocator run`):
 * its name, type, labels and every connection detail, as `ORCH_DEVICE_*` variables.
 */
import type { DeviceInfo } from "./Device.js"

const envName = (key: string) => key.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_+|_+$/g, "").toUpperCase()

const envValue = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value))

/** ORCH_DEVICE_NAME, _TYPE, _LABELS and _CONNECTION (JSON), _LABEL_<KEY>, and _<KEY> per connection detail. */
export const deviceEnvironment = (device: DeviceInfo): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(device.connection)) {
    if (value !== undefined && value !== null && envName(key) !== "") env[`ORCH_DEVICE_${envName(key)}`] = envValue(value)
  }
  for (const [key, value] of Object.entries(device.labels)) {
    if (envName(key) !== "") env[`ORCH_DEVICE_LABEL_${envName(key)}`] = value
  }
  env.ORCH_DEVICE_NAME = device.name
  env.ORCH_DEVICE_TYPE = device.type
  env.ORCH_DEVICE_LABELS = JSON.stringify(device.labels)
  env.ORCH_DEVICE_CONNECTION = JSON.stringify(device.connection)
  return env
}
