/**
 * A TCP proxy in front of PostgreSQL (or any TCP server) for fault injection: give one pod the
 * proxy's address and its database connections can be cut (reset, as a crashed middlebox or a
 * killed pod's network would) or black-holed (bytes stop flowing both ways while both ends keep
 * their sockets open: the half-open connection a lost network path leaves behind).
 *
 * New connections can also be refused (accepted, then reset at once: a database that is not
 * reachable yet), and `accepted()` counts every connection a client tried, refused ones included.
 *
 * The gotcha: while black-holed, neither the client nor the server notices anything; PostgreSQL
 * keeps the session (and any advisory lock it holds) until the connection is reset — which
 * `heal()` does for the connections that were black-holed, as TCP keepalive eventually would.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net"

/** A running proxy. */
export interface TcpProxy {
  /** The address clients connect to. */
  readonly host: string
  readonly port: number
  /** `url` (a `postgres://` URL of the upstream) rewritten to go through the proxy. */
  readonly urlThrough: (url: string) => string
  /** Connections open now. */
  readonly connections: () => number
  /** Connections accepted since the start, refused ones included: how many times clients tried. */
  readonly accepted: () => number
  /**
   * Resets each of the next `count` new connections as soon as it is accepted (every new one
   * until `heal()` when `count` is left out); open connections are left alone.
   */
  readonly refuse: (count?: number) => void
  /** Resets every open connection (both sides); new connections work as before. */
  readonly cut: () => number
  /**
   * Stops forwarding on every open connection and stalls new ones (accepted, never answered),
   * without closing anything. Returns the number of connections caught.
   */
  readonly blackhole: () => number
  /** Ends a black hole (the stalled connections are reset) or a refusal: new connections flow again. */
  readonly heal: () => void
  readonly close: () => Promise<void>
}

interface Pair {
  readonly client: Socket
  upstream: Socket | undefined
}

/** `url` with its host and port replaced by 127.0.0.1:`port` (a proxy's way to the same database). */
export const loopbackUrl = (url: string, port: number): string => {
  const parsed = new URL(url)
  parsed.hostname = "127.0.0.1"
  parsed.port = String(port)
  return parsed.toString()
}

/** Listens on a free port of 127.0.0.1; returns the port. */
const listenOnLoopback = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP address")
  return address.port
}

/** Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream`. */
export const startTcpProxy = async (upstream: { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  const pairs = new Set<Pair>()
  let holed = false
  let accepted = 0
  let refusing = 0

  const destroy = (pair: Pair) => {
    pairs.delete(pair)
    pair.client.resetAndDestroy()
    pair.upstream?.resetAndDestroy()
  }

  const connectUpstream = (pair: Pair) => {
    const socket = createConnection(upstream)
    pair.upstream = socket
    socket.on("error", () => destroy(pair))
    socket.on("close", () => destroy(pair))
    pair.client.pipe(socket)
    socket.pipe(pair.client)
  }

  const server = createServer((client) => {
    accepted += 1
    if (refusing > 0) {
      refusing -= 1
      client.on("error", () => undefined)
      client.resetAndDestroy()
      return
    }
    const pair: Pair = { client, upstream: undefined }
    pairs.add(pair)
    client.on("error", () => destroy(pair))
    client.on("close", () => destroy(pair))
    if (holed) client.pause()
    else connectUpstream(pair)
  })
  const port = await listenOnLoopback(server)

  return {
    host: "127.0.0.1",
    port,
    urlThrough: (url) => loopbackUrl(url, port),
    connections: () => pairs.size,
    accepted: () => accepted,
    refuse: (count = Number.POSITIVE_INFINITY) => {
      refusing = count
    },
    cut: () => {
      const count = pairs.size
      for (const pair of [...pairs]) destroy(pair)
      return count
    },
    blackhole: () => {
      holed = true
      for (const pair of pairs) {
        pair.client.unpipe()
        pair.upstream?.unpipe()
        pair.client.pause()
        pair.upstream?.pause()
      }
      return pairs.size
    },
    heal: () => {
      refusing = 0
      if (!holed) return
      holed = false
      for (const pair of [...pairs]) destroy(pair)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const pair of [...pairs]) destroy(pair)
        server.close(() => resolve())
      })
  }
}
