/**
 * Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`,
 * `/apis/coordination.k8s.io` and `/apis/coordination.k8s.io/v1`. Only the
 * legacy (unaggregated) format is served; clients asking for aggregated
 * discovery with a JSON fallback, as kubectl does, fall back to it.
 */
import * as Lease from "./Lease.ts"

/** The Kubernetes version the server reports. */
export const kubernetesVersion = { major: "1", minor: "32", gitVersion: "v1.32.0" }

const leaseVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

const platform = (): string => {
  const arch = process.arch === "x64" ? "amd64" : process.arch
  return `${process.platform}/${arch}`
}

/** `/version`. */
export const version = () => ({
  major: kubernetesVersion.major,
  minor: kubernetesVersion.minor,
  gitVersion: kubernetesVersion.gitVersion,
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-12-11T00:00:00Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: platform()
})

/** `/api`: the core group's versions. */
export const coreVersions = (serverAddress: string) => ({
  kind: "APIVersions",
  versions: ["v1"],
  serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }]
})

/** `/api/v1`: the core resources served (namespaces and events, read-only). */
export const coreResources = () => ({
  kind: "APIResourceList",
  groupVersion: "v1",
  resources: [
    { name: "events", singularName: "event", namespaced: true, kind: "Event", verbs: ["get", "list"], shortNames: ["ev"] },
    { name: "namespaces", singularName: "namespace", namespaced: false, kind: "Namespace", verbs: ["get", "list"], shortNames: ["ns"] }
  ]
})

const coordinationGroup = () => ({
  name: Lease.group,
  versions: [{ groupVersion: Lease.apiVersion, version: Lease.version }],
  preferredVersion: { groupVersion: Lease.apiVersion, version: Lease.version }
})

/** `/apis`: the API groups. */
export const groups = () => ({ kind: "APIGroupList", apiVersion: "v1", groups: [coordinationGroup()] })

/** `/apis/coordination.k8s.io`. */
export const coordination = () => ({ kind: "APIGroup", apiVersion: "v1", ...coordinationGroup() })

/** `/apis/coordination.k8s.io/v1`: the Lease resource. */
export const coordinationResources = () => ({
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: Lease.apiVersion,
  resources: [
    {
      name: Lease.resource,
      singularName: "lease",
      namespaced: true,
      kind: "Lease",
      verbs: leaseVerbs,
      storageVersionHash: "gqkMMb/YqFM="
    }
  ]
})

/**
 * Whether an Accept header insists on aggregated discovery with no plain
 * JSON fallback; such a request is answered 406 so the client falls back.
 */
export const onlyAggregated = (accept: string | undefined): boolean => {
  const parts = (accept ?? "").split(",").map((p) => p.trim()).filter((p) => p.length > 0)
  if (parts.length === 0) return false
  return parts.every((p) => /as=APIGroupDiscoveryList/.test(p))
}

/** The discovery document of a path, or undefined when the path is not a discovery path. */
export const document = (path: string, serverAddress: string): unknown => {
  switch (path.replace(/\/+$/, "")) {
    case "/version":
      return version()
    case "/api":
      return coreVersions(serverAddress)
    case "/api/v1":
      return coreResources()
    case "/apis":
      return groups()
    case `/apis/${Lease.group}`:
      return coordination()
    case `/apis/${Lease.apiVersion}`:
      return coordinationResources()
    default:
      return undefined
  }
}
