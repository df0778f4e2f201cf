/**
 * The example app: a small HTTP service whose pods get their schema ready with Leasehold
 * before they serve. Run one process per pod; every pod runs the same code.
 *
 * Environment (as a Deployment would set it): `DATABASE_URL`, `KUBECONFIG` (outside a
 * cluster; in a pod the service account is used), `LEASEHOLD_IDENTITY` (or `POD_NAME`),
 * `LEASEHOLD_MIGRATIONS` (default `./migrations`), `PORT` (default 8080; 0 picks a free port),
 * and any other `LEASEHOLD_*` variable of the configuration table.
 *
 * Stdout: one JSON line per Leasehold progress event (see `eventLine.ts`). Exit codes: 0 after
 * a graceful shutdown; Leasehold's exit code when getting the schema ready failed (3 a
 * migration failed, 4 timed out, 5 unreachable, ...), so the pod fails loudly instead of serving.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ready, readinessState, type ReadyRejection } from "leasehold"
import pg from "pg"
import { type EventLine, progressLine } from "./eventLine.ts"
import { appHandler } from "./routes.ts"

const print = (line: string): void => {
  process.stdout.write(`${line}\n`)
}
const printLine = (line: EventLine): void => print(JSON.stringify(line))

const state = readinessState()
const pool = new pg.Pool({ connectionString: process.env["DATABASE_URL"], max: 4 })
pool.on("error", () => undefined) // an idle client lost its server: the next query reconnects
const server = createServer(appHandler(state, pool))
server.listen(Number(process.env["PORT"] ?? "8080"), () => {
  printLine({ _tag: "Listening", at: Date.now(), port: (server.address() as AddressInfo).port })
})

// Get the schema ready (every other setting comes from the environment); `track` marks the
// readiness state, so /readyz answers 200 once it resolves.
const shutdown = new AbortController()
const pending = state.track(ready({ signal: shutdown.signal, onEvent: (event) => print(progressLine(event)) }))

// SIGTERM (a rollout, a scale-down): stop waiting for the schema (a migration in flight here
// is rolled back and the Lease released), stop serving, exit.
let stopping = false
const stop = (signal: string): void => {
  if (stopping) return
  stopping = true
  printLine({ _tag: "Stopping", at: Date.now(), reason: signal })
  shutdown.abort(signal)
  server.close()
  server.closeAllConnections()
  // Exit once `ready` has settled (it releases the fence and the Lease first) and the pool is closed.
  void pending.catch(() => undefined).then(() => pool.end()).finally(() => process.exit(0))
}
process.once("SIGTERM", () => stop("SIGTERM"))
process.once("SIGINT", () => stop("SIGINT"))

try {
  await pending
} catch (error) {
  if (!stopping) {
    // The `Failed` event already said why; fail the pod with Leasehold's exit code.
    server.close()
    server.closeAllConnections()
    await pool.end()
    process.exit((error as Partial<ReadyRejection>).exitCode ?? 1)
  }
}
