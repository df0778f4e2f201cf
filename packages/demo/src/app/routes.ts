/**
 * The example app's HTTP routes: the probes from Leasehold's readiness helper and one real
 * endpoint over the migrated tables.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { readinessHandler, type ReadinessState } from "leasehold"
import type pg from "pg"
import { countUsers } from "./sql.ts"

const sendJson = (res: ServerResponse, code: number, body: unknown): void => {
  res.writeHead(code, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" })
  res.end(JSON.stringify(body))
}

/**
 * The app's request listener:
 * - `GET /readyz`: 503 until Leasehold says the schema is ready, 200 after (Kubernetes' readinessProbe);
 * - `GET /livez`: 200 while the process runs (livenessProbe; waiting for the schema is not being stuck);
 * - `GET /users`: how many accounts exist, read from the `users` table; 503 before the schema is ready.
 *
 * Gotcha: the app never touches its tables before `state` is ready, so a pod that is still
 * waiting answers 503 instead of failing on a missing column.
 */
export const appHandler = (state: ReadinessState, pool: pg.Pool) => {
  const probes = readinessHandler(state)
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    if (path === "/readyz" || path === "/livez") return probes(req, res)
    if (path === "/users" && (req.method === "GET" || req.method === "HEAD")) {
      if (state.status._tag !== "Ready") return sendJson(res, 503, { error: "the schema is not ready yet" })
      pool.query<{ users: number; with_email_domain: number }>(countUsers).then(
        (result) => {
          const row = result.rows[0]
          sendJson(res, 200, { users: row?.users ?? 0, withEmailDomain: row?.with_email_domain ?? 0 })
        },
        (error: unknown) => sendJson(res, 500, { error: error instanceof Error ? error.message : String(error) })
      )
      return
    }
    sendJson(res, 404, { error: `no route for ${req.method ?? "GET"} ${path}` })
  }
}
