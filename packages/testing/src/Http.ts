/** One HTTP request to a daemon as tests make it, and its answer read once. */

export interface Answer {
  readonly status: number
  readonly headers: Headers
  /** Parsed JSON when the body is JSON, else its text. */
  readonly body: any
}

export interface SendOptions {
  readonly method?: string | undefined
  /** A string goes as it is, anything else as JSON; either way with `content-type: application/json` unless `headers` says otherwise. */
  readonly body?: unknown
  /** Sent as `Authorization: Bearer …`. */
  readonly token?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export const send = async (url: string, options: SendOptions = {}): Promise<Answer> => {
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body)
  const response = await fetch(url, {
    method: options.method ?? "GET",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers
    },
    ...(body === undefined ? {} : { body })
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // a text body (metrics, a page)
  }
  return { status: response.status, headers: response.headers, body: parsed }
}
