import { createServer, connect, type Server, type Socket } from "node:net"
import { loopbackUrl } from "@leasehold/testkit"

/** A TCP forwarder in front of PostgreSQL whose link can be cut and restored on the same port. */
export interface TcpProxy {
  readonly port: number
  /** `url` with host and port replaced by the proxy's. */
  readonly through: (url: string) => string
  /** Stops forwarding on the open connections without closing them (a black hole); new ones work. */
  readonly freeze: () => void
  /** Drops every open connection and refuses new ones until `restore`. */
  readonly cut: () => Promise<void>
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const startTcpProxy = async (targetHost: string, targetPort: number): Promise<TcpProxy> => {
  const sockets = new Set<Socket>()
  const pairs = new Set<readonly [Socket, Socket]>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
    socket.on("error", () => socket.destroy())
  }
  const makeServer = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, targetHost)
      track(client)
      track(upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      const pair = [client, upstream] as const
      pairs.add(pair)
      client.once("close", () => pairs.delete(pair))
      client.once("close", () => upstream.destroy())
      upstream.once("close", () => client.destroy())
    })
  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        const address = server.address()
        resolve(typeof address === "object" && address !== null ? address.port : port)
      })
    })
  let server = makeServer()
  const port = await listen(server, 0)
  const stop = () => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy()
    server.close(() => resolve())
  })
  return {
    port,
    through: (url) => loopbackUrl(url, port),
    freeze: () => {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
      pairs.clear()
    },
    cut: stop,
    restore: async () => {
      server = makeServer()
      await listen(server, port)
    },
    close: stop
  }
}
