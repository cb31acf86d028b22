/**
 * The 400 of an HttpApi route whose request did not match its schema (`HttpApiDecodeError`:
 * `issues` and a multi-line `message` tree) gains core's readable pair beside them: `error`,
 * its first issue in one line, and `field`, that issue's path, as every other 400 of orch has.
 * `issues` stay for programs; the OpenAPI document declares the two added fields.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

interface Issue {
  readonly path?: ReadonlyArray<PropertyKey>
  readonly message?: string
}

const decoder = new TextDecoder()

/** The first issue as `{ error, field }`: `jobs.0.location: is unexpected, expected: "zone" | …`. */
export const summary = (issues: ReadonlyArray<Issue>): { error: string; field?: string } => {
  const first = issues[0]
  const field = first?.path !== undefined && first.path.length > 0 ? first.path.map(String).join(".") : undefined
  const message = (first?.message ?? "the request does not match its schema").replace(/\s+/g, " ").trim()
  return field === undefined ? { error: message } : { error: `${field}: ${message}`, field }
}

/** `response` with `error` and `field` added when it is an HttpApi decode error; else itself. */
export const readable = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  if (response.status !== 400 || response.body._tag !== "Uint8Array" || !response.body.contentType.startsWith("application/json")) {
    return response
  }
  let body: { _tag?: unknown; issues?: unknown }
  try {
    body = JSON.parse(decoder.decode(response.body.body))
  } catch {
    return response
  }
  if (body?._tag !== "HttpApiDecodeError" || !Array.isArray(body.issues)) return response
  return HttpServerResponse.unsafeJson({ ...summary(body.issues), ...body }, { status: 400, headers: response.headers })
}

/** The OpenAPI document with the two fields on its `HttpApiDecodeError` schema. */
export const documented = <Spec extends { readonly components?: { readonly schemas?: Record<string, any> } }>(spec: Spec): Spec => {
  const schema = spec.components?.schemas?.HttpApiDecodeError
  if (schema === undefined) return spec
  return {
    ...spec,
    components: {
      ...spec.components,
      schemas: {
        ...spec.components!.schemas,
        HttpApiDecodeError: {
          ...schema,
          required: ["error", ...(schema.required ?? [])],
          properties: {
            error: { type: "string", description: "The first issue in one line, its field first" },
            field: { type: "string", description: "The first issue's path, dot-separated (absent for the whole body)" },
            ...schema.properties
          }
        }
      }
    }
  }
}
