/**
 * The node:http server: the request pipeline (admin endpoint, faults,
 * authentication, routing, authorization, handlers, watches) and
 * {@link startApiServer}, which returns the {@link ApiServer} handle.
 */
import { writeFile } from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as Admin from "./Admin.ts"
import type { ApiServer, ApiServerOptions } from "./ApiServer.ts"
import { Auth, bearer } from "./Auth.ts"
import * as CoreApi from "./CoreApi.ts"
import * as Discovery from "./Discovery.ts"
import { Faults, partitions } from "./Faults.ts"
import { History } from "./History.ts"
import * as GoTime from "./internal/goTime.ts"
import * as Http from "./internal/http.ts"
import * as RequestInfo from "./internal/requestInfo.ts"
import * as Kubeconfig from "./Kubeconfig.ts"
import * as Lease from "./Lease.ts"
import * as LeaseApi from "./LeaseApi.ts"
import * as OpenApi from "./OpenApi.ts"
import * as Status from "./Status.ts"
import { Store } from "./Store.ts"
import * as Watch from "./Watch.ts"

const healthPaths = new Set(["/healthz", "/livez", "/readyz"])

const acceptsJson = (accept: string | undefined): boolean =>
  accept === undefined || accept.trim() === "" ||
  accept.split(",").some((p) => /^\s*(application\/json|application\/\*|\*\/\*)\s*(;|$)/.test(p))

/** Starts a server and resolves once it listens. Close it with `close()`. */
export const startApiServer = async (options: ApiServerOptions = {}): Promise<ApiServer> => {
  const history = new History()
  const store = new Store(history, options.watchCacheSize === undefined ? {} : { watchCacheSize: options.watchCacheSize })
  const auth = new Auth(options.auth)
  const faults = new Faults()
  const watches = new Set<Watch.ActiveWatch>()
  const sockets = new Set<Socket>()
  const startedAt = GoTime.nowSeconds()
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000
  let closing = false
  let serverAddress = ""

  faults.onPartition((partition, healed) => {
    for (const w of [...watches]) {
      if (!partitions(partition, w.client)) continue
      if (healed || partition.mode === "reset") w.destroy()
      else w.mute()
    }
  })

  const route = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<Http.Reply | undefined> => {
    const method = req.method ?? "GET"
    const body = () => Http.readBody(req)
    if (options.adminEndpoint === true && url.pathname.startsWith(Admin.prefix)) {
      return Admin.handle(method, url, body, { faults, auth, history })
    }
    if (healthPaths.has(url.pathname)) {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" })
      res.end("ok")
      return undefined
    }
    const info = RequestInfo.parse(method, url)
    const userAgent = req.headers["user-agent"]
    const token = bearer(req.headers.authorization)
    const decision = await faults.decide({
      client: { ...(token === undefined ? {} : { token }), ...(userAgent === undefined ? {} : { userAgent }) },
      verb: info.verb
    })
    if (closing || decision._tag === "Reset") {
      req.socket.destroy()
      return undefined
    }
    if (decision._tag === "Fail") {
      return Http.statusReply(
        decision.error,
        decision.retryAfterSeconds === undefined ? undefined : { "Retry-After": String(decision.retryAfterSeconds) }
      )
    }
    const client = auth.authenticate(req.headers.authorization, userAgent)
    auth.authorize(client, info)

    if (!info.isResourceRequest) {
      const accept = req.headers.accept
      const discovery = Discovery.document(url.pathname, serverAddress)
      const openapi = discovery === undefined ? OpenApi.document(url.pathname) : undefined
      if (discovery === undefined && openapi === undefined) throw Status.pathNotFound()
      if (method !== "GET" && method !== "HEAD") throw Status.methodNotAllowed()
      if (discovery !== undefined) {
        if (Discovery.onlyAggregated(accept)) throw Status.notAcceptable(["application/json"])
        return { code: 200, body: discovery }
      }
      if (!acceptsJson(accept)) throw Status.notAcceptable(["application/json"])
      return { code: 200, body: openapi }
    }
    if (info.apiGroup === Lease.group && info.apiVersion === Lease.version && info.resource === Lease.resource) {
      const request: LeaseApi.LeaseRequest = { info, url, client, headers: req.headers, body }
      if (info.watch) {
        const watch = Watch.serve(res, store, LeaseApi.watchRequest(request), client, {
          bookmarkIntervalMs,
          onEnd: (w) => watches.delete(w)
        })
        if (!res.writableEnded) watches.add(watch)
        return undefined
      }
      return LeaseApi.handle(store, request)
    }
    const core = CoreApi.handle(store, info, startedAt)
    if (core !== undefined) return core
    throw Status.pathNotFound()
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    route(req, res, url).then(
      (reply) => {
        if (reply !== undefined) Http.send(res, reply)
      },
      (e: unknown) => Http.send(res, Http.errorReply(e))
    )
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  serverAddress = `${host}:${address.port}`
  const url = `http://${serverAddress}`

  let closed: Promise<void> | undefined
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true
      server.close(() => resolve())
      faults.releaseAll()
      for (const w of [...watches]) w.destroy()
      server.closeAllConnections()
      for (const s of sockets) s.destroy()
    })
    return closed
  }

  return {
    url,
    port: address.port,
    host: address.address,
    faults,
    setRules: (token, rules) => auth.setRules(token, rules),
    setToken: (token, entry) => auth.setToken(token, entry),
    history: (namespace, name) => history.list(namespace, name),
    clearHistory: () => history.clear(),
    kubeconfigYaml: (kubeconfigOptions) => Kubeconfig.kubeconfigYaml(url, kubeconfigOptions),
    writeKubeconfig: (file, kubeconfigOptions) => writeFile(file, Kubeconfig.kubeconfigYaml(url, kubeconfigOptions), { mode: 0o600 }),
    close
  }
}
