/** How orch prints a command's failure: one line. Shared by the full CLI and the TUI's light entry. */
import { Cause } from "effect"

/** A failure as one line: tagged errors carry their own message (config errors their location). */
export const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { _tag?: string; message?: string; toString?: () => string }
  if (error && typeof error === "object" && error._tag === "ConfigError") return String(error)
  if (error && typeof error === "object" && typeof error.message === "string" && error.message !== "") {
    return error._tag && !error.message.includes(error._tag) ? `${error.message}` : error.message
  }
  return Cause.pretty(cause)
}
