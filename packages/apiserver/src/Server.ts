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
import * as Query from "./Query.ts"
import * as Status from "./Status.ts"
import { Store } from "./Store.ts"
import * as Watch from "./Watch.ts"

const healthPaths = new Set(["/healthz", "/livez", "/readyz"])

const acceptsJson = (accept: string | undefined): boolean =>
  accept === undefined || accept.trim() === "" ||
  accept.split(",").some((p) => /^\s*(application\/json|application\/\*|\*\/\*)\s*(;|$)/.test(p))

/** What the requests of one server share. */
interface ServerState {
  readonly options: ApiServerOptions
  readonly history: History
  readonly store: Store
  readonly auth: Auth
  readonly faults: Faults
  readonly watches: Set<Watch.ActiveWatch>
  readonly sockets: Set<Socket>
  readonly startedAt: string
  readonly bookmarkIntervalMs: number
  /** Set by `close()`: requests from then on get their connection cut. */
  closing: boolean
  /** `host:port` once the server listens, for discovery documents. */
  serverAddress: string
}

const makeState = (options: ApiServerOptions): ServerState => {
  const history = new History()
  return {
    options,
    history,
    store: new Store(history, options.watchCacheSize === undefined ? {} : { watchCacheSize: options.watchCacheSize }),
    auth: new Auth(options.auth),
    faults: new Faults(),
    watches: new Set(),
    sockets: new Set(),
    startedAt: GoTime.nowSeconds(),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    closing: false,
    serverAddress: ""
  }
}

/** A partition mutes the open watches of the clients it covers (hang), or cuts them (reset, heal). */
const partitionWatches = (state: ServerState): void => {
  state.faults.onPartition((partition, healed) => {
    for (const w of [...state.watches]) {
      if (!partitions(partition, w.client)) continue
      if (healed || partition.mode === "reset") w.destroy()
      else w.mute()
    }
  })
}

const answerHealth = (res: http.ServerResponse): undefined => {
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" })
  res.end("ok")
  return undefined
}

/**
 * The injected fault for a request: `"cut"` when its connection is to be cut (a reset, or
 * the server is closing), a reply for an injected failure, `undefined` to go on.
 */
const injectedFault = async (
  state: ServerState,
  req: http.IncomingMessage,
  info: RequestInfo.RequestInfo
): Promise<"cut" | Http.Reply | undefined> => {
  const userAgent = req.headers["user-agent"]
  const token = bearer(req.headers.authorization)
  const decision = await state.faults.decide({
    client: { ...(token === undefined ? {} : { token }), ...(userAgent === undefined ? {} : { userAgent }) },
    verb: info.verb
  })
  if (state.closing || decision._tag === "Reset") return "cut"
  if (decision._tag === "Fail") {
    return Http.statusReply(
      decision.error,
      decision.retryAfterSeconds === undefined ? undefined : { "Retry-After": String(decision.retryAfterSeconds) }
    )
  }
  return undefined
}

/** A non-resource path: a discovery or an OpenAPI document. */
const documentReply = (state: ServerState, method: string, url: URL, accept: string | undefined): Http.Reply => {
  const discovery = Discovery.document(url.pathname, state.serverAddress)
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

const isLeaseRequest = (info: RequestInfo.RequestInfo): boolean =>
  info.apiGroup === Lease.group && info.apiVersion === Lease.version && info.resource === Lease.resource

/** A Lease request: a watch streams its events on `res` (no reply), anything else is answered. */
const leaseReply = (
  state: ServerState,
  res: http.ServerResponse,
  request: LeaseApi.LeaseRequest
): Promise<Http.Reply> | undefined => {
  if (!request.info.watch) return LeaseApi.handle(state.store, request)
  const watch = Watch.serve(res, state.store, LeaseApi.watchRequest(request), request.client, {
    bookmarkIntervalMs: state.bookmarkIntervalMs,
    onEnd: (w) => state.watches.delete(w)
  })
  if (!res.writableEnded) state.watches.add(watch)
  return undefined
}

/**
 * The request pipeline: admin endpoint, health, faults, authentication, authorization, then
 * documents, Leases or the core API. `undefined` when the response was already written.
 */
const route = async (
  state: ServerState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL
): Promise<Http.Reply | undefined> => {
  const method = req.method ?? "GET"
  const body = () => Http.readBody(req)
  if (state.options.adminEndpoint === true && url.pathname.startsWith(Admin.prefix)) {
    return Admin.handle(method, url, body, { faults: state.faults, auth: state.auth, history: state.history })
  }
  if (healthPaths.has(url.pathname)) return answerHealth(res)
  const info = RequestInfo.parse(method, url)
  const fault = await injectedFault(state, req, info)
  if (fault === "cut") {
    req.socket.destroy()
    return undefined
  }
  if (fault !== undefined) return fault
  const client = state.auth.authenticate(req.headers.authorization, req.headers["user-agent"])
  state.auth.authorize(client, info)

  if (!info.isResourceRequest) return documentReply(state, method, url, req.headers.accept)
  if (isLeaseRequest(info)) return leaseReply(state, res, { info, url, client, headers: req.headers, body })
  const core = CoreApi.handle(state.store, info, state.startedAt)
  if (core !== undefined) return core
  throw Status.pathNotFound()
}

/** The node:http server over {@link route}, keeping track of its open sockets. */
const createServer = (state: ServerState): http.Server => {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    const pretty = Query.pretty(url.searchParams, req.headers["user-agent"])
    route(state, req, res, url).then(
      (reply) => {
        if (reply !== undefined) Http.send(res, reply, pretty)
      },
      (e: unknown) => Http.send(res, Http.errorReply(e), pretty)
    )
  })
  server.on("connection", (socket) => {
    state.sockets.add(socket)
    socket.on("close", () => state.sockets.delete(socket))
  })
  return server
}

const listen = async (server: http.Server, options: ApiServerOptions): Promise<AddressInfo> => {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  return server.address() as AddressInfo
}

/** Stops listening, releases held requests, ends watches and cuts connections; idempotent. */
const closer = (state: ServerState, server: http.Server): () => Promise<void> => {
  let closed: Promise<void> | undefined
  return () => {
    closed ??= new Promise<void>((resolve) => {
      state.closing = true
      server.close(() => resolve())
      state.faults.releaseAll()
      for (const w of [...state.watches]) w.destroy()
      server.closeAllConnections()
      for (const s of state.sockets) s.destroy()
    })
    return closed
  }
}

const handleOf = (state: ServerState, address: AddressInfo, close: () => Promise<void>): ApiServer => {
  const { auth, history } = state
  const url = `http://${state.serverAddress}`
  return {
    url,
    port: address.port,
    host: address.address,
    faults: state.faults,
    setRules: (token, rules) => auth.setRules(token, rules),
    setToken: (token, entry) => auth.setToken(token, entry),
    history: (namespace, name) => history.list(namespace, name),
    clearHistory: () => history.clear(),
    kubeconfigYaml: (kubeconfigOptions) => Kubeconfig.kubeconfigYaml(url, kubeconfigOptions),
    writeKubeconfig: (file, kubeconfigOptions) => writeFile(file, Kubeconfig.kubeconfigYaml(url, kubeconfigOptions), { mode: 0o600 }),
    close
  }
}

/** Starts a server and resolves once it listens. Close it with `close()`. */
export const startApiServer = async (options: ApiServerOptions = {}): Promise<ApiServer> => {
  const state = makeState(options)
  partitionWatches(state)
  const server = createServer(state)
  const address = await listen(server, options)
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address
  state.serverAddress = `${host}:${address.port}`
  return handleOf(state, address, closer(state, server))
}
