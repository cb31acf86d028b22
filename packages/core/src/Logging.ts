/**
 * orch's logger: one event per line, readable on a terminal and JSON lines otherwise.
 * JSON lines carry `timestamp`, `severity` and `message` (the fields Google Cloud
 * Logging reads as structured logs) plus the log's annotations. Every secret found in
 * the configuration is blanked out of every line, whatever the format.
 */
import { Cause, Effect, HashMap, Layer, List, Logger, LogLevel } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { LogFormat, LogLevel as ConfigLogLevel } from "./Config.js"

export interface LoggingOptions {
  readonly level: ConfigLogLevel
  readonly format: LogFormat
  /** Also append JSON lines to this file. */
  readonly file?: string | undefined
  readonly secrets?: ReadonlyArray<string> | undefined
  /** Where terminal output goes; stderr by default so stdout stays for command output. */
  readonly stream?: NodeJS.WritableStream & { readonly isTTY?: boolean } | undefined
}

const levels: Record<ConfigLogLevel, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  none: LogLevel.None
}

/** Cloud Logging's severity names for Effect's levels. */
const severity = (level: LogLevel.LogLevel): string => {
  switch (level._tag) {
    case "All":
    case "Trace":
    case "Debug":
      return "DEBUG"
    case "Info":
      return "INFO"
    case "Warning":
      return "WARNING"
    case "Error":
      return "ERROR"
    case "Fatal":
      return "CRITICAL"
    default:
      return "DEFAULT"
  }
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : safeJson(part))).join(" ")
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Replaces every occurrence of each secret; longest first so a secret inside another goes too. */
export const redactor = (secrets: ReadonlyArray<string>): (line: string) => string => {
  const sorted = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)
  if (sorted.length === 0) return (line) => line
  return (line) => {
    let out = line
    for (const secret of sorted) out = out.split(secret).join("[redacted]")
    return out
  }
}

interface Event {
  readonly timestamp: string
  readonly severity: string
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly cause: string | undefined
  readonly spans: Record<string, number>
}

const toEvent = (options: Logger.Logger.Options<unknown>): Event => {
  const annotations: Record<string, unknown> = {}
  for (const [key, value] of HashMap.toEntries(options.annotations)) annotations[key] = value
  const spans: Record<string, number> = {}
  const now = options.date.getTime()
  for (const span of List.toArray(options.spans)) spans[span.label] = now - span.startTime
  return {
    timestamp: options.date.toISOString(),
    severity: severity(options.logLevel),
    message: messageText(options.message),
    annotations,
    cause: Cause.isEmpty(options.cause) ? undefined : Cause.pretty(options.cause, { renderErrorCause: true }),
    spans
  }
}

export const formatJson = (event: Event): string =>
  safeJson({
    timestamp: event.timestamp,
    severity: event.severity,
    message: event.message,
    ...event.annotations,
    ...(Object.keys(event.spans).length > 0 ? { spans: event.spans } : {}),
    ...(event.cause !== undefined ? { cause: event.cause } : {})
  })

const colors: Record<string, string> = { DEBUG: "\x1b[2m", INFO: "\x1b[32m", WARNING: "\x1b[33m", ERROR: "\x1b[31m", CRITICAL: "\x1b[35m" }

/** `16:04:05.123 INFO  message key=value`; multi-line causes are folded onto the line. */
export const formatPretty = (event: Event, color: boolean): string => {
  const time = event.timestamp.slice(11, 23)
  const level = event.severity.padEnd(7)
  const fields = Object.entries(event.annotations)
    .map(([key, value]) => `${key}=${typeof value === "string" && !/\s/.test(value) ? value : safeJson(value)}`)
    .join(" ")
  const cause = event.cause ? ` cause=${safeJson(event.cause)}` : ""
  const text = `${time} ${color ? `${colors[event.severity] ?? ""}${level}\x1b[0m` : level} ${event.message}${fields ? ` ${fields}` : ""}${cause}`
  return text.replace(/\n/g, "\\n")
}

/** Replaces Effect's default logger; also sets the minimum level. */
export const layer = (options: LoggingOptions): Layer.Layer<never> => {
  const stream = options.stream ?? process.stderr
  const redact = redactor(options.secrets ?? [])
  const json = options.format === "json" || (options.format === "auto" && !stream.isTTY)
  const color = !json && stream.isTTY === true && !process.env.NO_COLOR
  const openFile = options.file === undefined
    ? Effect.succeed(undefined)
    : Effect.acquireRelease(
      Effect.sync(() => {
        fs.mkdirSync(path.dirname(path.resolve(options.file!)), { recursive: true })
        return fs.openSync(options.file!, "a")
      }),
      (fd) => Effect.sync(() => fs.closeSync(fd))
    )
  const loggerLayer = Layer.unwrapScoped(Effect.map(openFile, (fileFd) =>
    Logger.replace(
      Logger.defaultLogger,
      Logger.make<unknown, void>((entry) => {
        const event = toEvent(entry)
        stream.write(redact(json ? formatJson(event) : formatPretty(event, color)) + "\n")
        if (fileFd !== undefined) fs.writeSync(fileFd, redact(formatJson(event)) + "\n")
      })
    )))
  return Layer.merge(loggerLayer, Logger.minimumLogLevel(levels[options.level]))
}
