/**
 * The Lease store: objects keyed by namespace/name, one global
 * resourceVersion counter, optimistic concurrency, kube's create/update/delete
 * semantics, a bounded window of change events for watch replay, and the
 * write history.
 */
import type { ClientInfo } from "./Client.ts"
import * as History from "./History.ts"
import * as GoTime from "./internal/goTime.ts"
import * as Names from "./internal/names.ts"
import * as Lease from "./Lease.ts"
import * as ManagedFields from "./ManagedFields.ts"
import * as FieldError from "./FieldError.ts"
import * as Status from "./Status.ts"
import * as Validation from "./Validation.ts"

/** The kind of change a watch event reports. */
export type EventType = "ADDED" | "MODIFIED" | "DELETED"

/** One change of one Lease. `previous` is the object before a MODIFIED or DELETED. */
export interface StoreEvent {
  readonly type: EventType
  readonly resourceVersion: number
  readonly object: Lease.Lease
  readonly previous?: Lease.Lease
}

/** Who writes, under which field manager, with which verb. */
export interface WriteContext {
  readonly client: ClientInfo
  readonly manager: string
  readonly verb: History.WriteVerb
  /** Run every check but persist nothing (`dryRun=All`). */
  readonly dryRun?: boolean
}

/** DeleteOptions preconditions. */
export interface Preconditions {
  readonly uid?: string
  readonly resourceVersion?: string
}

/** Options of a store. */
export interface StoreOptions {
  /** How many change events are kept for watch replay (kube's watch cache window). Default 1000. */
  readonly watchCacheSize?: number
}

/** What a write produced, and whether it created the object. */
export interface WriteResult {
  readonly lease: Lease.Lease
  readonly created: boolean
}

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

const withoutVolatile = (lease: Lease.Lease): string => {
  const { managedFields: _m, resourceVersion: _rv, ...meta } = Lease.canonical(lease).metadata
  return JSON.stringify({ ...Lease.canonical(lease), metadata: meta })
}

/** The in-memory Lease store. */
export class Store {
  readonly #objects = new Map<string, Lease.Lease>()
  readonly #events: Array<StoreEvent> = []
  readonly #capacity: number
  readonly #listeners = new Set<(event: StoreEvent) => void>()
  readonly #history: History.History
  #resourceVersion = 1
  #dropped = false
  readonly #startResourceVersion = 1

  constructor(history: History.History, options: StoreOptions = {}) {
    this.#history = history
    this.#capacity = Math.max(1, options.watchCacheSize ?? 1000)
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.#resourceVersion
  }

  /** The Lease at namespace/name. Fails with 404 NotFound. */
  get(namespace: string, name: string): Lease.Lease {
    const found = this.#objects.get(Lease.key(namespace, name))
    if (found === undefined) throw Status.notFound(Lease.groupResource, name)
    return found
  }

  /** The Lease at namespace/name, if any. */
  find(namespace: string, name: string): Lease.Lease | undefined {
    return this.#objects.get(Lease.key(namespace, name))
  }

  /** All Leases, of one namespace or of all, ordered by namespace then name. */
  list(namespace?: string): ReadonlyArray<Lease.Lease> {
    return [...this.#objects.entries()]
      .filter(([, l]) => namespace === undefined || l.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, l]) => l)
  }

  /** The namespaces that hold at least one Lease. */
  namespaces(): ReadonlySet<string> {
    return new Set([...this.#objects.values()].map((l) => l.metadata.namespace!))
  }

  /** Calls `listener` synchronously after every committed change. Returns the unsubscribe function. */
  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * The events after `resourceVersion`, from the bounded window. Fails with
   * 410 Expired (`too old resource version: X (Y)`) once the window has moved
   * past it.
   */
  eventsSince(resourceVersion: number): ReadonlyArray<StoreEvent> {
    const oldest = this.#dropped ? this.#events[0]!.resourceVersion : this.#startResourceVersion + 1
    if (resourceVersion < oldest - 1) {
      throw Status.expired(`too old resource version: ${resourceVersion} (${oldest - 1})`)
    }
    return this.#events.filter((e) => e.resourceVersion > resourceVersion)
  }

  /** Creates a Lease (POST). `lease.metadata.namespace` must be set. */
  create(lease: Lease.Lease, ctx: WriteContext): Lease.Lease {
    if ((lease.metadata.resourceVersion ?? "") !== "") {
      throw Status.unknown(500, "resourceVersion should not be set on objects to be created")
    }
    const prepared = this.#beforeCreate(lease, ctx)
    if (this.#objects.has(Lease.key(prepared.metadata.namespace!, prepared.metadata.name!))) {
      throw Status.alreadyExists(Lease.groupResource, prepared.metadata.name!)
    }
    return this.#commit("ADDED", prepared, undefined, ctx)
  }

  /**
   * Replaces a Lease (PUT). The body must carry the current resourceVersion;
   * a missing object is created.
   */
  replace(namespace: string, name: string, lease: Lease.Lease, ctx: WriteContext): WriteResult {
    const current = this.find(namespace, name)
    if (current === undefined) {
      const prepared = this.#beforeCreate({ ...lease, metadata: { ...lease.metadata, resourceVersion: "" } }, ctx)
      return { lease: this.#commit("ADDED", prepared, undefined, ctx), created: true }
    }
    return { lease: this.#update(current, lease, ctx), created: false }
  }

  /**
   * Patches an existing Lease: `patch` turns the current object into the
   * wanted one (a resourceVersion it leaves in place is current, one it sets
   * is a precondition). Fails with 404 when the Lease does not exist.
   */
  patch(namespace: string, name: string, patch: (current: Lease.Lease) => Lease.Lease, ctx: WriteContext): Lease.Lease {
    const current = this.get(namespace, name)
    return this.#update(current, patch(current), ctx)
  }

  /** Server-side apply of `config`: creates the Lease or merges the configuration into it. */
  apply(namespace: string, name: string, config: Lease.Lease, force: boolean, ctx: WriteContext): WriteResult {
    const current = this.find(namespace, name)
    const now = GoTime.nowSeconds()
    const rv = config.metadata.resourceVersion ?? ""
    if (current !== undefined && rv !== "" && rv !== current.metadata.resourceVersion) {
      throw Status.conflict(Lease.groupResource, name)
    }
    const applied = ManagedFields.apply(current, config, ctx.manager, force, now)
    if (current === undefined) {
      const prepared = this.#beforeCreate({ ...applied.lease, metadata: { ...applied.lease.metadata, resourceVersion: "" } }, ctx)
      const lease = { ...prepared, metadata: { ...prepared.metadata, managedFields: applied.managedFields } }
      return { lease: this.#commit("ADDED", lease, undefined, ctx), created: true }
    }
    const next = this.#beforeUpdate(current, applied.lease)
    const errors = Validation.validateUpdate(next, current)
    if (errors.length > 0) throw Status.invalid(Lease.groupKind, name, errors)
    const ownership = (entries: ReadonlyArray<Lease.ManagedFieldsEntry> | undefined) =>
      JSON.stringify((entries ?? []).map(({ time: _t, ...rest }) => rest))
    if (
      withoutVolatile(next) === withoutVolatile(current) &&
      ownership(applied.managedFields) === ownership(current.metadata.managedFields)
    ) return { lease: current, created: false }
    const lease = { ...next, metadata: { ...next.metadata, managedFields: applied.managedFields } }
    return { lease: this.#commit("MODIFIED", lease, current, ctx), created: false }
  }

  /**
   * Deletes a Lease. With finalizers it is only marked for deletion (returned
   * with `deleted: false`), as kube does.
   */
  delete(namespace: string, name: string, preconditions: Preconditions, ctx: WriteContext): { lease: Lease.Lease; deleted: boolean } {
    const current = this.get(namespace, name)
    this.#checkPreconditions(current, preconditions)
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (current.metadata.deletionTimestamp !== undefined) return { lease: current, deleted: false }
      const marked = {
        ...current,
        metadata: { ...current.metadata, deletionTimestamp: GoTime.nowSeconds(), deletionGracePeriodSeconds: 0 }
      }
      return { lease: this.#commit("MODIFIED", marked, current, ctx), deleted: false }
    }
    return { lease: this.#commit("DELETED", current, current, ctx), deleted: true }
  }

  /** Deletes every Lease `select` picks (deletecollection); returns what was deleted or marked. */
  deleteCollection(
    namespace: string | undefined,
    select: (lease: Lease.Lease) => boolean,
    ctx: WriteContext
  ): ReadonlyArray<Lease.Lease> {
    return this.list(namespace)
      .filter(select)
      .map((l) => this.delete(l.metadata.namespace!, l.metadata.name!, {}, ctx).lease)
  }

  /** `rest.BeforeDelete`'s early precondition check; kube names the kind here, not the resource. */
  #checkPreconditions(current: Lease.Lease, p: Preconditions): void {
    const name = current.metadata.name!
    const gr = { group: Lease.group, resource: Lease.groupKind.kind }
    if (p.uid !== undefined && p.uid !== current.metadata.uid) {
      throw Status.conflict(
        gr,
        name,
        `the UID in the precondition (${p.uid}) does not match the UID in record (${current.metadata.uid}). The object might have been deleted and then recreated`
      )
    }
    if (p.resourceVersion !== undefined && p.resourceVersion !== current.metadata.resourceVersion) {
      throw Status.conflict(
        gr,
        name,
        `the ResourceVersion in the precondition (${p.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`
      )
    }
  }

  #beforeCreate(lease: Lease.Lease, ctx: WriteContext): Lease.Lease {
    const meta = lease.metadata
    const name = (meta.name ?? "") === "" && (meta.generateName ?? "") !== ""
      ? Names.generateName(meta.generateName!)
      : meta.name ?? ""
    const {
      deletionTimestamp: _dt,
      deletionGracePeriodSeconds: _dg,
      generation: _g,
      managedFields: _mf,
      resourceVersion: _rv,
      ...rest
    } = meta
    const prepared: Lease.Lease = {
      kind: "Lease",
      apiVersion: Lease.apiVersion,
      metadata: { ...rest, name, uid: Names.uid(), creationTimestamp: GoTime.nowSeconds() },
      spec: lease.spec
    }
    const errors = Validation.validateCreate(prepared)
    if (errors.length > 0) throw Status.invalid(Lease.groupKind, name, errors)
    return {
      ...prepared,
      metadata: { ...prepared.metadata, managedFields: ManagedFields.afterUpdate(undefined, prepared, ctx.manager, GoTime.nowSeconds()) }
    }
  }

  #beforeUpdate(current: Lease.Lease, lease: Lease.Lease): Lease.Lease {
    const { generation: _g, ...meta } = lease.metadata
    const next: Lease.Lease = {
      kind: "Lease",
      apiVersion: Lease.apiVersion,
      metadata: {
        ...meta,
        uid: (meta.uid ?? "") === "" ? current.metadata.uid! : meta.uid!,
        creationTimestamp: current.metadata.creationTimestamp!,
        ...(current.metadata.deletionTimestamp === undefined
          ? {}
          : {
            deletionTimestamp: current.metadata.deletionTimestamp,
            deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds ?? 0
          }),
        ...(current.metadata.generation === undefined ? {} : { generation: current.metadata.generation })
      },
      spec: lease.spec
    }
    if (current.metadata.deletionTimestamp === undefined) {
      const { deletionTimestamp: _dt, deletionGracePeriodSeconds: _dg, ...clean } = next.metadata
      return { ...next, metadata: clean }
    }
    return next
  }

  #update(current: Lease.Lease, lease: Lease.Lease, ctx: WriteContext): Lease.Lease {
    const name = current.metadata.name!
    const rv = lease.metadata.resourceVersion ?? ""
    if (rv === "") {
      throw Status.invalid({ group: Lease.group, kind: Lease.resource }, name, [
        FieldError.invalid("metadata.resourceVersion", { uint64: 0 }, "must be specified for an update")
      ])
    }
    if (rv !== current.metadata.resourceVersion) throw Status.conflict(Lease.groupResource, name)
    const next = this.#beforeUpdate(current, lease)
    const errors = Validation.validateUpdate(next, current)
    if (errors.length > 0) throw Status.invalid(Lease.groupKind, name, errors)
    if (withoutVolatile(next) === withoutVolatile(current)) return current
    const managed = ManagedFields.afterUpdate(current, next, ctx.manager, GoTime.nowSeconds())
    const stored = { ...next, metadata: { ...next.metadata, managedFields: managed } }
    if (stored.metadata.deletionTimestamp !== undefined && (stored.metadata.finalizers ?? []).length === 0) {
      return this.#commit("DELETED", stored, current, ctx)
    }
    return this.#commit("MODIFIED", stored, current, ctx)
  }

  #commit(
    type: EventType,
    lease: Lease.Lease,
    previous: Lease.Lease | undefined,
    ctx: WriteContext
  ): Lease.Lease {
    const resourceVersion = ctx.dryRun === true ? this.#resourceVersion : this.#resourceVersion + 1
    const meta: Lease.ObjectMeta = { ...lease.metadata, resourceVersion: String(resourceVersion) }
    const stored = deepFreeze(structuredClone(Lease.canonical({ ...lease, metadata: meta })))
    if (ctx.dryRun === true) return type === "ADDED" ? { ...stored, metadata: { ...stored.metadata, resourceVersion: "" } } : stored
    this.#resourceVersion = resourceVersion
    const key = Lease.key(meta.namespace!, meta.name!)
    if (type === "DELETED") this.#objects.delete(key)
    else this.#objects.set(key, stored)
    const event: StoreEvent = previous === undefined
      ? { type, resourceVersion, object: stored }
      : { type, resourceVersion, object: stored, previous }
    this.#events.push(event)
    if (this.#events.length > this.#capacity) {
      this.#events.shift()
      this.#dropped = true
    }
    this.#history.record({
      time: Date.now(),
      verb: ctx.verb,
      namespace: meta.namespace!,
      name: meta.name!,
      resourceVersion: String(resourceVersion),
      object: stored,
      client: ctx.client
    })
    for (const listener of this.#listeners) listener(event)
    return stored
  }
}
