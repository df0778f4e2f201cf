/**
 * The daemon's HTTP endpoints on `LEASEHOLD_HTTP_PORT`: `/readyz` (503 until the schema is
 * ready, 200 after, 503 with the reason after a failure — the library's `readinessHandler`),
 * `/livez` (200 while the process runs) and `/metrics` (Prometheus text format).
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"
import { readinessHandler, type ReadinessState } from "leasehold"
import { snapshotNow } from "./Metrics.ts"
import { contentType, renderPrometheus } from "./Prometheus.ts"

/** A listening server. */
export interface Listening {
  readonly port: number
}

/** Could not listen on the port (taken, or not permitted). */
export const describeListenError = (port: number, error: unknown): string =>
  `cannot listen on port ${port} (LEASEHOLD_HTTP_PORT): ${error instanceof Error ? error.message : String(error)}`

/** Serves the endpoints on `port` (all interfaces) for the life of the scope. */
export const serveHttp = (port: number, state: ReadinessState): Effect.Effect<Listening, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<never>()
    const readiness = readinessHandler(state, { livenessPath: "/livez" })
    const server: Server = createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname
      if (path === "/metrics") {
        res.writeHead(200, { "Content-Type": contentType, "Cache-Control": "no-store" })
        res.end(renderPrometheus(snapshotNow(context)))
        return
      }
      if (path === "/readyz" || path === "/livez") return readiness(req, res)
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" })
      res.end("not found: try /readyz, /livez or /metrics\n")
    })
    return yield* Effect.acquireRelease(
      Effect.callback<Listening, Error>((resume) => {
        server.once("error", (error) => resume(Effect.fail(new Error(describeListenError(port, error)))))
        server.listen(port, () => resume(Effect.succeed({ port: (server.address() as AddressInfo).port })))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
  })
