/** A PostgreSQL URL as it may be shown, and the secret in it. */

/**
 * Scheme, user, host, port and database, never the password or the query (which may
 * hold one). Undefined when it is not a URL at all.
 */
export const describeUrl = (url: string): string | undefined => {
  try {
    const parsed = new URL(url)
    const user = parsed.username === "" ? "" : `${decodeURIComponent(parsed.username)}@`
    return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`
  } catch {
    return undefined
  }
}

/** The URL's password, or "" when it has none (or does not parse). */
export const passwordOf = (url: string): string => {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ""
  }
}
