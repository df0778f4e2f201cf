/**
 * The REST handlers of `/apis/coordination.k8s.io/v1/.../leases`: get, list,
 * create, update, patch, delete and deletecollection, with kube's status
 * codes and bodies. Watches are started by the server through {@link watchRequest}.
 */
import type { IncomingHttpHeaders } from "node:http"
import type { ClientInfo } from "./Client.ts"
import { managerFromUserAgent } from "./Client.ts"
import type { WriteVerb } from "./History.ts"
import { type Reply, warnings } from "./internal/http.ts"
import type { RequestInfo } from "./internal/requestInfo.ts"
import * as Lease from "./Lease.ts"
import * as LeaseCodec from "./LeaseCodec.ts"
import * as Patch from "./Patch.ts"
import * as Query from "./Query.ts"
import * as Selector from "./Selector.ts"
import * as Status from "./Status.ts"
import type { Store, WriteContext } from "./Store.ts"
import * as Table from "./Table.ts"
import type { WatchRequest } from "./Watch.ts"

/** One request to the Lease API. */
export interface LeaseRequest {
  readonly info: RequestInfo
  readonly url: URL
  readonly client: ClientInfo
  readonly headers: IncomingHttpHeaders
  readonly body: () => Promise<string>
}

const jsonTypes = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf", "application/cbor"]

const params = (req: LeaseRequest): URLSearchParams => req.url.searchParams

const tableMode = (req: LeaseRequest): Table.IncludeObject | undefined =>
  Table.wantsTable(req.headers.accept) ? Table.includeObject(params(req).get("includeObject")) : undefined

const writeContext = (req: LeaseRequest, verb: WriteVerb, options: { readonly dryRun: boolean; readonly fieldManager?: string }): WriteContext => ({
  client: req.client,
  manager: options.fieldManager !== undefined && options.fieldManager !== ""
    ? options.fieldManager
    : managerFromUserAgent(req.client.userAgent),
  verb,
  dryRun: options.dryRun
})

/** Checks the dropped fields against `fieldValidation`; returns the warnings to send. */
const checkUnknownFields = (options: Query.WriteOptions, decoded: LeaseCodec.Decoded): ReadonlyArray<string> => {
  const mode = options.fieldValidation
  if (decoded.unknownFields.length === 0 || mode === "Ignore") return []
  if (mode === "Strict") throw LeaseCodec.strictError(decoded.unknownFields)
  return LeaseCodec.unknownFieldWarnings(decoded.unknownFields)
}

const isJsonBody = (req: LeaseRequest): boolean => {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase()
  return type === "application/json" || type === "" || type === "*/*"
}

const readLease = async (req: LeaseRequest): Promise<LeaseCodec.Decoded> => {
  if (!isJsonBody(req)) throw Status.unsupportedMediaType(jsonTypes)
  return LeaseCodec.decode(await req.body())
}

/** `EnsureObjectNamespaceMatchesRequestNamespace`: fills in or checks the body's namespace. */
const inNamespace = (lease: Lease.Lease, namespace: string): Lease.Lease => {
  const own = lease.metadata.namespace ?? ""
  if (own !== "" && own !== namespace) {
    throw Status.badRequest("the namespace of the provided object does not match the namespace sent on the request")
  }
  return { ...lease, metadata: { ...lease.metadata, namespace } }
}

/** `checkName`: the body must name the object of the URL (and not another namespace). */
const checkName = (lease: Lease.Lease, name: string, namespace: string): void => {
  const own = lease.metadata.name ?? ""
  if (own !== name) {
    throw Status.badRequest(`the name of the object (${own}) does not match the name on the URL (${name})`)
  }
  const ns = lease.metadata.namespace ?? ""
  if (ns !== "" && ns !== namespace) {
    throw Status.badRequest(`the namespace of the object (${ns}) does not match the namespace on the request (${namespace})`)
  }
}

const objectReply = (req: LeaseRequest, code: number, lease: Lease.Lease, warn: ReadonlyArray<string> = []): Reply => {
  const table = tableMode(req)
  return {
    code,
    body: table === undefined ? lease : Table.table([lease], { resourceVersion: "" }, table),
    headers: warnings(warn)
  }
}

interface ContinueToken {
  readonly v: string
  readonly rv: number
  readonly start: string
}

const encodeContinue = (rv: number, start: string): string =>
  Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start } satisfies ContinueToken)).toString("base64url")

const decodeContinue = (token: string): ContinueToken => {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as ContinueToken
    if (parsed.v !== "meta.k8s.io/v1" || typeof parsed.start !== "string") throw new Error("bad version")
    return parsed
  } catch {
    throw Status.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
  }
}

const namespaceOf = (req: LeaseRequest): string | undefined =>
  req.info.namespace.length > 0 ? req.info.namespace : undefined

const list = (store: Store, req: LeaseRequest): Reply => {
  const options = Query.listOptions(params(req))
  const { fieldSelector: fields, labelSelector: labels, limit } = options
  const namespace = namespaceOf(req)
  let items = store.list(namespace).filter((l) =>
    Selector.matchesFields(fields, l.metadata) && Selector.matchesLabels(labels, l.metadata.labels)
  )
  const token = options.continue
  if (token.length > 0) {
    const { start } = decodeContinue(token)
    items = items.filter((l) => Lease.key(l.metadata.namespace!, l.metadata.name!) >= start)
  }
  const resourceVersion = String(store.resourceVersion)
  let meta: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion }
  if (limit > 0 && items.length > limit) {
    const last = items[limit - 1]!
    meta = {
      resourceVersion,
      continue: encodeContinue(store.resourceVersion, `${Lease.key(last.metadata.namespace!, last.metadata.name!)}\u0000`),
      remainingItemCount: items.length - limit
    }
    items = items.slice(0, limit)
  }
  const table = tableMode(req)
  if (table !== undefined) return { code: 200, body: Table.table(items, meta, table) }
  const body: Lease.LeaseList = { kind: "LeaseList", apiVersion: Lease.apiVersion, metadata: meta, items }
  return { code: 200, body }
}

const create = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const options = Query.writeOptions(params(req), "CreateOptions")
  const decoded = await readLease(req)
  const warn = checkUnknownFields(options, decoded)
  const lease = store.create(inNamespace(decoded.lease, req.info.namespace), writeContext(req, "create", options))
  return objectReply(req, 201, lease, warn)
}

const update = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const options = Query.writeOptions(params(req), "UpdateOptions")
  const decoded = await readLease(req)
  const warn = checkUnknownFields(options, decoded)
  const lease = inNamespace(decoded.lease, req.info.namespace)
  checkName(lease, req.info.name, req.info.namespace)
  const result = store.replace(req.info.namespace, req.info.name, lease, writeContext(req, "update", options))
  return objectReply(req, result.created ? 201 : 200, result.lease, warn)
}

const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body)
  } catch (e) {
    throw Status.badRequest(`error decoding patch: ${(e as Error).message}`)
  }
}

const patch = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const type = Patch.patchType(req.headers["content-type"])
  if (type === undefined) throw Status.unsupportedMediaType(Object.keys(Patch.contentTypes))
  const options = Query.writeOptions(params(req), "PatchOptions", type === "apply")
  const body = parseJson(await req.body())
  const { name, namespace } = req.info
  const ctx = writeContext(req, "patch", options)
  if (type === "apply") {
    const decoded = LeaseCodec.decodeValue(body)
    const warn = checkUnknownFields(options, decoded)
    checkName(decoded.lease, name, namespace)
    const config = inNamespace(decoded.lease, namespace)
    const result = store.apply(namespace, name, config, options.force ?? false, ctx)
    return objectReply(req, result.created ? 201 : 200, result.lease, warn)
  }
  const operations = type === "json" ? Patch.parseJsonPatch(body) : undefined
  let warn: ReadonlyArray<string> = []
  const lease = store.patch(namespace, name, (current) => {
    const patched = operations !== undefined
      ? Patch.jsonPatch(current, operations)
      : type === "strategic"
      ? Patch.strategicMergePatch(current, body)
      : Patch.mergePatch(current, body)
    const decoded = LeaseCodec.decodeValue(patched)
    warn = checkUnknownFields(options, decoded)
    checkName(decoded.lease, name, namespace)
    return inNamespace(decoded.lease, namespace)
  }, ctx)
  return objectReply(req, 200, lease, warn)
}

/** DeleteOptions from the body when one is sent, else from the query (kube's DeleteResource). */
const deleteOptions = async (req: LeaseRequest): Promise<Query.DeleteOptions> => {
  const text = (await req.body()).trim()
  const body = text.length === 0 ? undefined : (parseJson(text) ?? {}) as Parameters<typeof Query.deleteOptions>[1]
  return Query.deleteOptions(params(req), body)
}

const remove = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const options = await deleteOptions(req)
  const { deleted, lease } = store.delete(req.info.namespace, req.info.name, options.preconditions, writeContext(req, "delete", options))
  if (!deleted) return { code: 202, body: lease }
  return {
    code: 200,
    body: Status.success({ name: lease.metadata.name!, group: Lease.group, kind: Lease.resource, uid: lease.metadata.uid! })
  }
}

const removeCollection = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const options = await deleteOptions(req)
  const { fieldSelector: fields, labelSelector: labels } = Query.listOptions(params(req))
  const resourceVersion = String(store.resourceVersion)
  const items = store.deleteCollection(
    namespaceOf(req),
    (l) => Selector.matchesFields(fields, l.metadata) && Selector.matchesLabels(labels, l.metadata.labels),
    writeContext(req, "deletecollection", options)
  )
  const body: Lease.LeaseList = { kind: "LeaseList", apiVersion: Lease.apiVersion, metadata: { resourceVersion }, items }
  return { code: 200, body }
}

/** Handles one non-watch Lease request and returns the reply (errors are thrown as StatusError). */
export const handle = async (store: Store, req: LeaseRequest): Promise<Reply> => {
  const { info } = req
  if (info.subresource.length > 0) throw Status.pathNotFound()
  const namespaced = info.namespace.length > 0
  switch (info.verb) {
    case "get":
      if (!namespaced) throw Status.pathNotFound()
      return objectReply(req, 200, store.get(info.namespace, info.name))
    case "list":
      return list(store, req)
    case "create":
      if (!namespaced || info.name.length > 0) throw Status.methodNotAllowed()
      return create(store, req)
    case "update":
      if (!namespaced || info.name.length === 0) throw Status.methodNotAllowed()
      return update(store, req)
    case "patch":
      if (!namespaced || info.name.length === 0) throw Status.methodNotAllowed()
      return patch(store, req)
    case "delete":
      if (!namespaced) throw Status.methodNotAllowed()
      return remove(store, req)
    case "deletecollection":
      if (!namespaced) throw Status.methodNotAllowed()
      return removeCollection(store, req)
    default:
      throw Status.methodNotAllowed()
  }
}

/** The watch parameters of a request (selectors, resourceVersion, bookmarks, timeout, table). */
export const watchRequest = (req: LeaseRequest): WatchRequest => {
  const options = Query.listOptions(params(req), true)
  const namespace = namespaceOf(req)
  const table = tableMode(req)
  const nameOnPath = req.info.name.length > 0 && !params(req).has("fieldSelector")
  return {
    ...(namespace === undefined ? {} : { namespace }),
    labelSelector: options.labelSelector,
    fieldSelector: nameOnPath
      ? { terms: [{ field: "metadata.name", equals: true, value: req.info.name }] }
      : options.fieldSelector,
    resourceVersion: options.resourceVersion,
    allowWatchBookmarks: options.allowWatchBookmarks,
    ...(options.sendInitialEvents === undefined ? {} : { sendInitialEvents: options.sendInitialEvents }),
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
    ...(table === undefined ? {} : { table })
  }
}
