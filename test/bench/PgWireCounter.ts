/**
 * A TCP proxy in front of PostgreSQL that reads the frontend protocol and counts what clients
 * send: connections, simple queries (`Q`), extended-protocol executions (`E`) and round trips
 * (`Q` or `Sync`). It checks a pod's own account of its queries from the wire.
 */
import * as net from "node:net"
import { Effect, type Scope } from "effect"

/** What went through the proxy since the last reset. */
export interface WireCounts {
  readonly connections: number
  /** Statements: simple queries plus extended-protocol executions. */
  readonly statements: number
  /** Client waits for the server: simple queries plus `Sync` messages. */
  readonly roundTrips: number
}

/** A running counting proxy. */
export interface PgWireCounter {
  /** `url` with host and port replaced by the proxy's. */
  readonly urlFor: (url: string) => string
  readonly counts: () => WireCounts
  readonly reset: () => void
}

/** SSLRequest and GSSENCRequest codes: answered by one byte, then the real startup follows. */
const negotiationCodes = new Set([80877103, 80877104])

/**
 * Starts a proxy to `host:port` for the life of the scope. Connections through it are not
 * encrypted (the benchmarks talk to a local server without TLS).
 */
export const pgWireCounter = (host: string, port: number): Effect.Effect<PgWireCounter, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let connections = 0
      let statements = 0
      let roundTrips = 0
      const sockets = new Set<net.Socket>()
      const server = net.createServer((client) => {
        connections++
        const upstream = net.connect({ host, port })
        sockets.add(client)
        sockets.add(upstream)
        let pending: Buffer = Buffer.alloc(0)
        let startup = true
        client.on("data", (chunk: Buffer) => {
          pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
          for (;;) {
            if (startup) {
              if (pending.length < 8) break
              const length = pending.readInt32BE(0)
              if (pending.length < length) break
              if (!negotiationCodes.has(pending.readInt32BE(4))) startup = false
              pending = pending.subarray(length)
              continue
            }
            if (pending.length < 5) break
            const length = pending.readInt32BE(1)
            if (pending.length < length + 1) break
            const type = String.fromCharCode(pending[0]!)
            if (type === "Q") {
              statements++
              roundTrips++
            } else if (type === "E") statements++
            else if (type === "S") roundTrips++
            pending = pending.subarray(length + 1)
          }
          upstream.write(chunk)
        })
        upstream.on("data", (chunk: Buffer) => client.write(chunk))
        const close = () => {
          client.destroy()
          upstream.destroy()
          sockets.delete(client)
          sockets.delete(upstream)
        }
        client.on("close", close)
        upstream.on("close", close)
        client.on("error", close)
        upstream.on("error", close)
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const proxyPort = (server.address() as net.AddressInfo).port
      const counter: PgWireCounter = {
        urlFor: (url) => {
          const parsed = new URL(url)
          parsed.hostname = "127.0.0.1"
          parsed.port = String(proxyPort)
          return parsed.toString()
        },
        counts: () => ({ connections, statements, roundTrips }),
        reset: () => {
          connections = 0
          statements = 0
          roundTrips = 0
        }
      }
      return { server, sockets, counter }
    }),
    ({ server, sockets }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ counter }) => counter))
