/**
 * Kubernetes probes for an app that waits for its schema with Leasehold: `/readyz` answers 503
 * until the schema is ready, 200 after, and 503 with the reason once getting ready failed;
 * `/livez` answers 200 all along (waiting is not being stuck).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { ReadyAborted } from "./CoordinatorErrors.ts"
import { exitCodeFor } from "./ExitCode.ts"
import type { ReadyError } from "./ReadyError.ts"
import type { ReadyResult } from "./ReadyResult.ts"

/** Where a pod stands. */
export type ReadinessStatus =
  | { readonly _tag: "Starting" }
  | { readonly _tag: "Ready"; readonly result: ReadyResult }
  | { readonly _tag: "Failed"; readonly error: unknown }

/** A mutable readiness state, set by the app (or by `track`) and read by the handler. */
export interface ReadinessState {
  readonly status: ReadinessStatus
  readonly markReady: (result: ReadyResult) => void
  readonly markFailed: (error: unknown) => void
  /** Marks the state from `promise` (e.g. `ready(...)`) and returns it unchanged. */
  readonly track: (promise: Promise<ReadyResult>) => Promise<ReadyResult>
}

/** A state that starts as `Starting`. */
export const readinessState = (): ReadinessState => {
  let status: ReadinessStatus = { _tag: "Starting" }
  const state: ReadinessState = {
    get status() {
      return status
    },
    markReady: (result) => {
      status = { _tag: "Ready", result }
    },
    markFailed: (error) => {
      status = { _tag: "Failed", error }
    },
    track: (promise) =>
      promise.then(
        (result) => {
          state.markReady(result)
          return result
        },
        (error: unknown) => {
          state.markFailed(error)
          throw error
        }
      )
  }
  return state
}

const isTagged = (error: unknown): error is ReadyError | ReadyAborted =>
  typeof error === "object" && error !== null && typeof (error as { readonly _tag?: unknown })._tag === "string"

/** The JSON body of a failed readiness: the error's tag, its message and the exit code. */
const failureBody = (error: unknown) => {
  if (isTagged(error)) {
    let exitCode: number | undefined
    try {
      exitCode = exitCodeFor(error)
    } catch {
      exitCode = undefined
    }
    return { status: "failed", error: error._tag, message: error.message, ...(exitCode === undefined ? {} : { exitCode }) }
  }
  return { status: "failed", error: "Error", message: error instanceof Error ? error.message : String(error) }
}

const send = (res: ServerResponse, code: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(code, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" })
  res.end(text)
}

/** Options of `readinessHandler`. */
export interface ReadinessHandlerOptions {
  /** The path answered 200 always (liveness). Default `/livez`. */
  readonly livenessPath?: string
}

/**
 * A `node:http` request listener: `livenessPath` (`/livez`) → 200; any other path → the
 * readiness of `state` (503 `{"status":"starting"}`, 200 `{"status":"ready",...}`, or 503
 * `{"status":"failed","error":tag,"message":...,"exitCode":n}`).
 *
 * Use it as the whole server (`http.createServer(readinessHandler(state))`), or mount it on a
 * route: Express `app.get("/readyz", readinessHandler(state))`; Fastify
 * `(request, reply) => { reply.hijack(); readinessHandler(state)(request.raw, reply.raw) }`.
 * Messages never hold a secret (URLs are shown as host:port/database).
 */
export const readinessHandler = (state: ReadinessState, options: ReadinessHandlerOptions = {}) => {
  const livenessPath = options.livenessPath ?? "/livez"
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname
    if (path === livenessPath) return send(res, 200, { status: "alive" })
    const status = state.status
    switch (status._tag) {
      case "Starting":
        return send(res, 503, { status: "starting" })
      case "Ready":
        return send(res, 200, {
          status: "ready",
          version: status.result.version,
          leader: status.result.leader,
          path: status.result.path
        })
      case "Failed":
        return send(res, 503, failureBody(status.error))
    }
  }
}
