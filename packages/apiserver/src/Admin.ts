/**
 * The admin endpoint under `/_leasehold/`, served only when enabled: tests
 * and tools in other processes read and set faults, rules and the write
 * history over HTTP. It bypasses authentication and faults.
 *
 * - `GET /_leasehold/faults` → the current {@link FaultSpec}
 * - `POST /_leasehold/faults` with a FaultSpec → replaces the faults
 * - `DELETE /_leasehold/faults` → clears every fault
 * - `POST /_leasehold/rules` with `{ token, rules }` → replaces a token's rules
 * - `GET /_leasehold/history?namespace=&name=` → write records (tokens left out)
 */
import type { Auth, PolicyRule } from "./Auth.ts"
import type { FaultSpec, Faults } from "./Faults.ts"
import type { History } from "./History.ts"
import type { Reply } from "./internal/http.ts"
import * as Status from "./Status.ts"

/** The path prefix of the admin endpoint. */
export const prefix = "/_leasehold/"

const parse = (body: string): unknown => {
  try {
    return body.trim().length === 0 ? {} : JSON.parse(body)
  } catch (e) {
    throw Status.badRequest(`invalid JSON: ${(e as Error).message}`)
  }
}

/** Handles one admin request. */
export const handle = async (
  method: string,
  url: URL,
  body: () => Promise<string>,
  parts: { readonly faults: Faults; readonly auth: Auth; readonly history: History }
): Promise<Reply> => {
  const path = url.pathname.slice(prefix.length).replace(/\/+$/, "")
  switch (`${method} ${path}`) {
    case "GET faults":
      return { code: 200, body: parts.faults.snapshot() }
    case "POST faults":
    case "PUT faults":
      try {
        parts.faults.apply(parse(await body()) as FaultSpec)
      } catch (e) {
        if (e instanceof Status.StatusError) throw e
        throw Status.badRequest((e as Error).message)
      }
      return { code: 200, body: parts.faults.snapshot() }
    case "DELETE faults":
      parts.faults.clear()
      return { code: 200, body: parts.faults.snapshot() }
    case "POST rules": {
      const { rules, token } = parse(await body()) as { token?: string; rules?: ReadonlyArray<PolicyRule> }
      if (typeof token !== "string") throw Status.badRequest("token is required")
      try {
        parts.auth.setRules(token, rules)
      } catch (e) {
        throw Status.badRequest((e as Error).message)
      }
      return { code: 200, body: { token: "(set)", rules: rules ?? null } }
    }
    case "GET history": {
      const records = parts.history.list(url.searchParams.get("namespace") ?? undefined, url.searchParams.get("name") ?? undefined)
      return {
        code: 200,
        body: records.map((r) => ({
          ...r,
          client: { user: r.client.user, ...(r.client.userAgent === undefined ? {} : { userAgent: r.client.userAgent }) }
        }))
      }
    }
    default:
      throw Status.pathNotFound()
  }
}
