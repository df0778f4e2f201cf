/**
 * Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`)
 * with kube's Lease columns NAME, HOLDER, AGE, so `kubectl get leases`
 * prints what it prints against a cluster.
 */
import type * as Lease from "./Lease.ts"

/** How much of each object a row carries (`includeObject`). */
export type IncludeObject = "None" | "Metadata" | "Object"

const columnDefinitions = [
  {
    name: "Name",
    type: "string",
    format: "name",
    description:
      "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    priority: 0
  },
  {
    name: "Holder",
    type: "string",
    format: "",
    description:
      "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
    priority: 0
  },
  {
    name: "Age",
    type: "string",
    format: "",
    description:
      "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    priority: 0
  }
]

/** kube's `duration.HumanDuration`: `45s`, `3m20s`, `15m`, `5h3m`, `3d4h`, `2y30d` ... */
export const humanDuration = (ms: number): string => {
  const seconds = Math.floor(ms / 1000)
  if (seconds < -1) return "<invalid>"
  if (seconds < 0) return "0s"
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(seconds / 3600)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365
    const years = Math.floor(hours / 24 / 365)
    return days === 0 ? `${years}y` : `${years}y${days}d`
  }
  return `${Math.floor(hours / 24 / 365)}y`
}

const rowObject = (lease: Lease.Lease, include: IncludeObject): unknown =>
  include === "Object"
    ? lease
    : include === "Metadata"
    ? { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: lease.metadata }
    : undefined

/** The row of one Lease: name, holder (empty when none), age. */
export const row = (lease: Lease.Lease, include: IncludeObject, now: number = Date.now()) => {
  const created = Date.parse(lease.metadata.creationTimestamp ?? "")
  const age = Number.isNaN(created) ? "<unknown>" : humanDuration(now - created)
  const object = rowObject(lease, include)
  return {
    cells: [lease.metadata.name ?? "", lease.spec.holderIdentity ?? "", age],
    ...(object === undefined ? {} : { object })
  }
}

/** A metav1 Table of Leases. */
export const table = (
  leases: ReadonlyArray<Lease.Lease>,
  meta: { readonly resourceVersion: string; readonly continue?: string },
  include: IncludeObject
) => ({
  kind: "Table",
  apiVersion: "meta.k8s.io/v1",
  metadata: meta,
  columnDefinitions,
  rows: leases.map((l) => row(l, include))
})

/** Whether an Accept header asks for a Table. */
export const wantsTable = (accept: string | undefined): boolean =>
  (accept ?? "").split(",").some((part) => /;\s*as=Table/.test(part) && /g=meta\.k8s\.io/.test(part))

/** The `includeObject` query value, defaulting to Metadata as kube does. */
export const includeObject = (value: string | null): IncludeObject =>
  value === "None" || value === "Object" ? value : "Metadata"
