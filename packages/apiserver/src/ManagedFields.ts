/**
 * `metadata.managedFields`: which manager last set which field. Updates take
 * ownership of the fields they change; server-side apply owns exactly the
 * fields of its configuration and conflicts with other managers' fields.
 *
 * Ownership is tracked per leaf: each spec field, each label, each
 * annotation, and `ownerReferences`/`finalizers` as a whole.
 */
import * as Lease from "./Lease.ts"
import * as Status from "./Status.ts"

type Entry = Lease.ManagedFieldsEntry

/** A leaf of a Lease, e.g. `["spec", "holderIdentity"]` or `["metadata", "labels", "app"]`. */
export type Leaf = ReadonlyArray<string>

const leafKey = (leaf: Leaf): string => leaf.join("\u0000")
const keyLeaf = (key: string): Leaf => key.split("\u0000")

/** The leaves a Lease sets, with their values. */
export const leaves = (lease: Lease.Lease | undefined): Map<string, unknown> => {
  const out = new Map<string, unknown>()
  if (lease === undefined) return out
  for (const [k, v] of Object.entries(lease.spec)) out.set(leafKey(["spec", k]), v)
  for (const map of ["labels", "annotations"] as const) {
    for (const [k, v] of Object.entries(lease.metadata[map] ?? {})) out.set(leafKey(["metadata", map, k]), v)
  }
  for (const list of ["ownerReferences", "finalizers"] as const) {
    const value = lease.metadata[list]
    if (value !== undefined && value.length > 0) out.set(leafKey(["metadata", list]), value)
  }
  return out
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

const toFieldsV1 = (keys: Iterable<string>): Record<string, unknown> => {
  const root: Record<string, Record<string, unknown>> = {}
  for (const key of keys) {
    const leaf = keyLeaf(key)
    let node: Record<string, unknown> = root
    leaf.forEach((segment, i) => {
      const f = `f:${segment}`
      node[f] ??= {}
      const child = node[f] as Record<string, unknown>
      if (i === 1 && (segment === "labels" || segment === "annotations") && leaf[0] === "metadata") child["."] = {}
      node = child
    })
  }
  return root
}

const fromFieldsV1 = (fields: Record<string, unknown>, prefix: ReadonlyArray<string> = []): Array<string> => {
  const out: Array<string> = []
  for (const [k, v] of Object.entries(fields)) {
    if (!k.startsWith("f:")) continue
    const path = [...prefix, k.slice(2)]
    const children = fromFieldsV1(v as Record<string, unknown>, path)
    const isContainer = Object.keys(v as object).some((c) => c.startsWith("f:"))
    if (isContainer) out.push(...children)
    else out.push(leafKey(path))
  }
  return out
}

interface Owned {
  readonly manager: string
  readonly operation: "Update" | "Apply"
  time: string
  readonly fields: Set<string>
}

const owned = (lease: Lease.Lease | undefined): Array<Owned> =>
  (lease?.metadata.managedFields ?? []).map((e) => ({
    manager: e.manager,
    operation: e.operation,
    time: e.time,
    fields: new Set(fromFieldsV1(e.fieldsV1))
  }))

const entries = (all: ReadonlyArray<Owned>): ReadonlyArray<Entry> =>
  all
    .filter((o) => o.fields.size > 0)
    .sort((a, b) =>
      a.operation !== b.operation
        ? (a.operation === "Apply" ? -1 : 1)
        : a.time !== b.time
        ? (a.time < b.time ? -1 : 1)
        : a.manager < b.manager
        ? -1
        : a.manager > b.manager
        ? 1
        : 0
    )
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: Lease.apiVersion,
      time: o.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1([...o.fields].sort())
    }))

const entryFor = (all: Array<Owned>, manager: string, operation: "Update" | "Apply", now: string): Owned => {
  let entry = all.find((o) => o.manager === manager && o.operation === operation)
  if (entry === undefined) {
    entry = { manager, operation, time: now, fields: new Set() }
    all.push(entry)
  }
  return entry
}

/**
 * The managedFields after `manager` updated `old` (undefined on create) to
 * `next` with a create/update/patch: it takes ownership of every leaf it
 * changed; removed leaves are dropped from every manager.
 */
export const afterUpdate = (
  old: Lease.Lease | undefined,
  next: Lease.Lease,
  manager: string,
  now: string
): ReadonlyArray<Entry> => {
  const before = leaves(old)
  const after = leaves(next)
  const all = owned(old)
  const changed = [...after].filter(([k, v]) => !before.has(k) || !same(before.get(k), v)).map(([k]) => k)
  const removed = [...before.keys()].filter((k) => !after.has(k))
  for (const o of all) for (const k of [...changed, ...removed]) o.fields.delete(k)
  if (changed.length > 0) {
    const mine = entryFor(all, manager, "Update", now)
    mine.time = now
    for (const k of changed) mine.fields.add(k)
  }
  return entries(all)
}

const setLeaf = (target: Record<string, any>, leaf: Leaf, value: unknown): void => {
  let node = target
  for (const segment of leaf.slice(0, -1)) {
    node[segment] ??= {}
    node = node[segment]
  }
  node[leaf[leaf.length - 1]!] = value
}

const deleteLeaf = (target: Record<string, any>, leaf: Leaf): void => {
  let node = target
  for (const segment of leaf.slice(0, -1)) {
    node = node[segment]
    if (node === undefined) return
  }
  delete node[leaf[leaf.length - 1]!]
}

/** The outcome of a server-side apply: the object to store and its managedFields. */
export interface Applied {
  readonly lease: Lease.Lease
  readonly managedFields: ReadonlyArray<Entry>
}

const fieldPath = (key: string): string => `.${keyLeaf(key).join(".")}`

/**
 * Server-side apply of `config` by `manager` onto `current` (undefined when
 * the apply creates the object). Without `force`, changing a leaf another
 * manager owns fails with kube's 409 apply conflict.
 */
export const apply = (
  current: Lease.Lease | undefined,
  config: Lease.Lease,
  manager: string,
  force: boolean,
  now: string
): Applied => {
  const before = leaves(current)
  const wanted = leaves(config)
  const all = owned(current)
  const others = all.filter((o) => !(o.manager === manager && o.operation === "Apply"))
  const conflicts: Array<{ manager: string; key: string }> = []
  for (const [k, v] of wanted) {
    if (!before.has(k) || same(before.get(k), v)) continue
    for (const o of others) if (o.fields.has(k)) conflicts.push({ manager: o.manager, key: k })
  }
  if (conflicts.length > 0 && !force) throw applyConflict(conflicts, config.metadata.name ?? "")
  const result = structuredClone(current ?? { kind: "Lease", apiVersion: Lease.apiVersion, metadata: config.metadata, spec: {} }) as Record<string, any>
  const mine = entryFor(all, manager, "Apply", now)
  for (const k of mine.fields) {
    if (!wanted.has(k) && !others.some((o) => o.fields.has(k))) deleteLeaf(result, keyLeaf(k))
  }
  for (const [k, v] of wanted) {
    setLeaf(result, keyLeaf(k), v)
    if (before.has(k) && !same(before.get(k), v)) for (const o of others) o.fields.delete(k)
  }
  mine.fields.clear()
  for (const k of wanted.keys()) mine.fields.add(k)
  mine.time = now
  return { lease: result as Lease.Lease, managedFields: entries(all) }
}

const applyConflict = (conflicts: ReadonlyArray<{ manager: string; key: string }>, name: string): Status.StatusError => {
  const who = (manager: string): string => `${JSON.stringify(manager)} using ${Lease.apiVersion}`
  let message: string
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${who(conflicts[0]!.manager)}: ${fieldPath(conflicts[0]!.key)}`
  } else {
    const byManager = new Map<string, Array<string>>()
    for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), fieldPath(c.key)])
    const lines = [...byManager.keys()].sort().flatMap((m) => [
      `conflicts with ${who(m)}:`,
      ...byManager.get(m)!.map((f) => `- ${f}`)
    ])
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`
  }
  const error = Status.conflict(Lease.groupResource, name)
  return new Status.StatusError({
    status: {
      ...error.status,
      message,
      details: {
        causes: conflicts.map((c) => ({
          reason: "FieldManagerConflict",
          message: `conflict with ${who(c.manager)}`,
          field: fieldPath(c.key)
        }))
      }
    }
  })
}
