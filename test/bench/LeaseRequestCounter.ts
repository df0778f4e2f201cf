/**
 * A counting reverse proxy in front of the local API server: every request pods make for a
 * Lease passes through it and is timestamped, so a benchmark can tell how many Lease requests
 * were made in any window, independently of what the pods say about themselves.
 *
 * It runs in the API server's own process (`fixtures/apiserver.ts`), like a cluster's API
 * server runs apart from its pods, and answers two requests of its own:
 * `GET /_bench/lease-requests` (every request so far) and `POST /_bench/reset`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { wallClockMs } from "./internal/clock.ts"

/** One request for a Lease, as the proxy saw it. */
export interface LeaseRequest {
  /** Wall clock (Unix milliseconds) when the request arrived. */
  readonly at: number
  readonly method: string
  readonly path: string
}

/** A running counting proxy. */
export interface LeaseRequestCounter {
  /** `http://host:port` of the proxy: the pods' kubeconfig points here. */
  readonly url: string
  readonly close: () => Promise<void>
}

const leasePath = /^\/apis\/coordination\.k8s\.io\/v1\/(namespaces\/[^/]+\/)?leases(\/|\?|$)/
const controlPrefix = "/_bench/"

/** Starts a proxy forwarding to `target` (the API server's URL); requests are piped as they are. */
export const startLeaseRequestCounter = async (target: string): Promise<LeaseRequestCounter> => {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const seen: Array<LeaseRequest> = []
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/"
    if (path.startsWith(controlPrefix)) {
      if (req.method === "POST" && path === `${controlPrefix}reset`) seen.length = 0
      res.writeHead(200, { "Content-Type": "application/json" })
      res.end(JSON.stringify(path === `${controlPrefix}lease-requests` ? seen : {}))
      return
    }
    if (leasePath.test(path)) seen.push({ at: wallClockMs(), method: req.method ?? "GET", path })
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forward.on("error", () => res.destroy())
    res.on("close", () => forward.destroy())
    req.pipe(forward)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        agent.destroy()
      })
  }
}

/** Every Lease request the proxy at `url` has seen (since its last reset). */
export const fetchLeaseRequests = async (url: string): Promise<ReadonlyArray<LeaseRequest>> => {
  const response = await fetch(`${url}${controlPrefix}lease-requests`)
  return (await response.json()) as ReadonlyArray<LeaseRequest>
}

/** Makes the proxy at `url` forget what it counted. */
export const resetLeaseRequests = async (url: string): Promise<void> => {
  await fetch(`${url}${controlPrefix}reset`, { method: "POST" })
}
