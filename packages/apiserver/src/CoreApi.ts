/**
 * The few core (`/api/v1`) reads kubectl makes around Leases: a Namespace
 * object for any name (every namespace exists), the list of namespaces in
 * use, and an always-empty EventList for `kubectl describe`.
 */
import { createHash } from "node:crypto"
import type { Reply } from "./internal/http.ts"
import type { RequestInfo } from "./internal/requestInfo.ts"
import * as Status from "./Status.ts"
import type { Store } from "./Store.ts"
import * as Validation from "./Validation.ts"

/** A uid that stays the same for a namespace name across requests and restarts. */
const stableUid = (name: string): string => {
  const hex = createHash("sha256").update(`namespace/${name}`).digest("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

const namespaceObject = (name: string, createdAt: string) => ({
  kind: "Namespace",
  apiVersion: "v1",
  metadata: {
    name,
    uid: stableUid(name),
    resourceVersion: "1",
    creationTimestamp: createdAt,
    labels: { "kubernetes.io/metadata.name": name }
  },
  spec: { finalizers: ["kubernetes"] },
  status: { phase: "Active" }
})

const namespacesGr = { group: "", resource: "namespaces" }

/** Handles a core request, or returns undefined when the path is not one it serves. */
export const handle = (store: Store, info: RequestInfo, startedAt: string): Reply | undefined => {
  if (info.prefix !== "api" || info.apiVersion !== "v1" || !info.isResourceRequest) return undefined
  if (info.verb !== "get" && info.verb !== "list") return undefined
  if (info.resource === "namespaces" && info.verb === "get") {
    if (Validation.dns1123LabelErrors(info.name).length > 0) throw Status.notFound(namespacesGr, info.name)
    return { code: 200, body: namespaceObject(info.name, startedAt) }
  }
  if (info.resource === "namespaces" && info.namespace === "") {
    const names = new Set(["default", "kube-node-lease", "kube-public", "kube-system", ...store.namespaces()])
    return {
      code: 200,
      body: {
        kind: "NamespaceList",
        apiVersion: "v1",
        metadata: { resourceVersion: String(store.resourceVersion) },
        items: [...names].sort().map((n) => namespaceObject(n, startedAt))
      }
    }
  }
  if (info.resource === "events" && info.verb === "list") {
    return {
      code: 200,
      body: { kind: "EventList", apiVersion: "v1", metadata: { resourceVersion: String(store.resourceVersion) }, items: [] }
    }
  }
  return undefined
}
