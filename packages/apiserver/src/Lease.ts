/**
 * The coordination.k8s.io/v1 Lease as it goes over the wire, and the names
 * under which the API serves it.
 */
import type { GroupKind, GroupResource } from "./Status.ts"

/** The API group of Leases. */
export const group = "coordination.k8s.io"
/** The only served version. */
export const version = "v1"
/** `group/version`, the `apiVersion` of every Lease. */
export const apiVersion = `${group}/${version}`
/** The plural resource name. */
export const resource = "leases"
/** `leases.coordination.k8s.io`, used in NotFound/Conflict/Forbidden messages. */
export const groupResource: GroupResource = { group, resource }
/** `Lease.coordination.k8s.io`, used in Invalid messages. */
export const groupKind: GroupKind = { group, kind: "Lease" }

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  readonly manager: string
  readonly operation: "Update" | "Apply"
  readonly apiVersion: string
  readonly time: string
  readonly fieldsType: "FieldsV1"
  readonly fieldsV1: Record<string, unknown>
  readonly subresource?: string
}

/** An owner reference, kept as given. */
export interface OwnerReference {
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
  readonly uid: string
  readonly controller?: boolean
  readonly blockOwnerDeletion?: boolean
}

/** metav1.ObjectMeta, the parts a Lease uses. */
export interface ObjectMeta {
  readonly name?: string
  readonly generateName?: string
  readonly namespace?: string
  readonly uid?: string
  readonly resourceVersion?: string
  readonly generation?: number
  readonly creationTimestamp?: string
  readonly deletionTimestamp?: string
  readonly deletionGracePeriodSeconds?: number
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
  readonly ownerReferences?: ReadonlyArray<OwnerReference>
  readonly finalizers?: ReadonlyArray<string>
  readonly managedFields?: ReadonlyArray<ManagedFieldsEntry>
}

/** coordination/v1 LeaseSpec. Times are MicroTime strings with exactly six fractional digits. */
export interface LeaseSpec {
  readonly holderIdentity?: string
  readonly leaseDurationSeconds?: number
  readonly acquireTime?: string
  readonly renewTime?: string
  readonly leaseTransitions?: number
}

/** A Lease object. */
export interface Lease {
  readonly kind: "Lease"
  readonly apiVersion: typeof apiVersion
  readonly metadata: ObjectMeta
  readonly spec: LeaseSpec
}

/** A list of Leases, as LIST and deletecollection return it. */
export interface LeaseList {
  readonly kind: "LeaseList"
  readonly apiVersion: typeof apiVersion
  readonly metadata: { readonly resourceVersion: string; readonly continue?: string; readonly remainingItemCount?: number }
  readonly items: ReadonlyArray<Lease>
}

/** The storage key of a Lease: `namespace/name`. */
export const key = (namespace: string, name: string): string => `${namespace}/${name}`

const metaOrder: ReadonlyArray<keyof ObjectMeta> = [
  "name",
  "generateName",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields"
]

const specOrder: ReadonlyArray<keyof LeaseSpec> = [
  "holderIdentity",
  "leaseDurationSeconds",
  "acquireTime",
  "renewTime",
  "leaseTransitions"
]

const ordered = <A extends object>(value: A, order: ReadonlyArray<keyof A>): A => {
  const out: Partial<A> = {}
  for (const k of order) if (value[k] !== undefined) out[k] = value[k]
  return out as A
}

const sortedMap = (map: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined =>
  map === undefined ? undefined : Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/**
 * The Lease with its fields in the order kube serializes them: struct
 * fields in Go declaration order, map keys sorted.
 */
export const canonical = (lease: Lease): Lease => {
  const metadata = ordered(lease.metadata, metaOrder)
  const labels = sortedMap(metadata.labels)
  const annotations = sortedMap(metadata.annotations)
  return {
    kind: "Lease",
    apiVersion,
    metadata: {
      ...metadata,
      ...(labels === undefined ? {} : { labels }),
      ...(annotations === undefined ? {} : { annotations })
    },
    spec: ordered(lease.spec, specOrder)
  }
}
