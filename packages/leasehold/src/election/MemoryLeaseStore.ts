/**
 * The memory twin of the API server's Lease storage: what `LeaseClient.layerMemory` talks to.
 * It answers the three requests of `LeaseClientApi` as kube-apiserver does, without HTTP, so
 * election logic can be tested on `TestClock` in milliseconds; and it injects faults (fail or
 * hang the next requests of one client) for the cases that need them.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { describeLease, type LeaderElectionRecord, type LeaseRef } from "./LeaderRecord.ts"
import type { LeaseClientApi, LeaseSnapshot } from "./LeaseClient.ts"
import { type LeaseError, leaseErrorForStatus, LeaseRequestFailed, type LeaseVerb } from "./LeaseErrors.ts"

/** A write the store accepted, as the API server's audit log would show it. */
export interface MemoryWrite {
  readonly verb: "create" | "update"
  /** The `name` of the client that wrote it. */
  readonly client: string
  /** The Lease as stored by this write, with the new resourceVersion. */
  readonly snapshot: LeaseSnapshot
  /** `Clock.currentTimeMillis` when it was stored (the `TestClock` in tests). */
  readonly time: number
}

/** A request the store received, before any fault applied. */
export interface MemoryRequest {
  readonly verb: LeaseVerb
  readonly client: string
  readonly lease: LeaseRef
  readonly time: number
}

/** Which requests a fault applies to. */
export interface FaultTarget {
  /** Only requests of the client with this `name`; all clients when absent. */
  readonly client?: string
  /** Only these verbs; all when absent. */
  readonly verbs?: ReadonlyArray<LeaseVerb>
  /** How many matching requests it applies to; all of them until `heal()` when absent. */
  readonly count?: number
}

/**
 * What a failed request gets: an HTTP status (401/403 become `LeasePermissionDenied`, others a
 * `LeaseApiError` with the status's usual reason), or `"request-failed"` for a request that got
 * no answer (connection refused or reset: `LeaseRequestFailed`).
 */
export type MemoryFailure = number | "request-failed"

/**
 * An in-memory Lease store with kube-apiserver's semantics:
 *
 * - GET of a missing Lease is 404 (the client turns it into `None`);
 * - create (POST) of an existing Lease fails with 409 AlreadyExists;
 * - replace (PUT) carrying a stale resourceVersion fails with 409 Conflict, one carrying none
 *   with 422 Invalid; a PUT of a missing Lease creates it (Leases allow create-on-update);
 * - every write that changes the Lease bumps the store-wide resourceVersion; a PUT that changes
 *   nothing is answered with the stored Lease and bumps nothing, as the API server does.
 *
 * Gotcha: faults are plain mutations, not effects, and apply to requests in arrival order.
 */
export interface MemoryLeaseStore {
  /** The stored Lease, read past every fault (an administrator's view). */
  readonly peek: (lease: LeaseRef) => Option.Option<LeaseSnapshot>
  /** The writes stored so far, oldest first; of one Lease when given. */
  readonly writes: (lease?: LeaseRef) => ReadonlyArray<MemoryWrite>
  /** The requests received so far, oldest first; of one Lease when given. */
  readonly requests: (lease?: LeaseRef) => ReadonlyArray<MemoryRequest>
  /** Fails the matching requests with `failure`; they change nothing. */
  readonly fail: (failure: MemoryFailure, target?: FaultTarget) => void
  /** Holds the matching requests unanswered until `heal()`; then they are served. Interruption abandons them. */
  readonly hang: (target?: FaultTarget) => void
  /** Removes every fault and serves the held requests. */
  readonly heal: () => void
  /** How many requests are held by `hang` right now. */
  readonly heldCount: () => number
  /** Waits until at least `count` requests (1 by default) are held. */
  readonly awaitHeld: (count?: number) => Effect.Effect<void>
  /**
   * A client of this store; its `name` (default `"memory"`) singles it out in faults, writes
   * and requests, as a bearer token does on the API server.
   */
  readonly client: (options?: MemoryClientOptions) => LeaseClientApi
}

/** Options of `MemoryLeaseStore.client`. */
export interface MemoryClientOptions {
  /** Names the client in faults, writes and requests. Default `"memory"`. */
  readonly name?: string
  /** The client's `defaultNamespace`. Default `"default"`. */
  readonly namespace?: string
}

/** The store's side of one request: the three operations on the stored Lease. */
interface StoredLease {
  /** The stored Lease; 404 NotFound when there is none. */
  readonly read: Effect.Effect<LeaseSnapshot, LeaseError>
  /** Stores a new Lease; 409 AlreadyExists when there is one. */
  readonly create: (record: LeaderElectionRecord) => Effect.Effect<LeaseSnapshot, LeaseError>
  /** Replaces the Lease last seen as `previous`; 409 Conflict when it changed since. */
  readonly replace: (previous: LeaseSnapshot, record: LeaderElectionRecord) => Effect.Effect<LeaseSnapshot, LeaseError>
}

interface Fault {
  readonly action: { readonly _tag: "Fail"; readonly failure: MemoryFailure } | { readonly _tag: "Hang" }
  readonly target: FaultTarget
  remaining: number
}

interface Stored {
  readonly record: LeaderElectionRecord
  readonly resourceVersion: number
  readonly labels: Readonly<Record<string, string>> | undefined
  readonly annotations: Readonly<Record<string, string>> | undefined
}

const keyOf = (lease: LeaseRef): string => describeLease(lease)
const isOf = (lease: LeaseRef | undefined, of: LeaseRef) => lease === undefined || keyOf(of) === keyOf(lease)
const sameStrings = (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined) =>
  JSON.stringify(a ?? {}) === JSON.stringify(b ?? {})

/** A new, empty store. Give each test its own. */
export const makeMemoryLeaseStore = (): MemoryLeaseStore => {
  const leases = makeLeaseTable()
  const faults = makeFaults()
  const requests: Array<MemoryRequest> = []
  return {
    peek: leases.peek,
    writes: (lease) => leases.writes.filter((write) => isOf(lease, write.snapshot.lease)),
    requests: (lease) => requests.filter((request) => isOf(lease, request.lease)),
    fail: faults.fail,
    hang: faults.hang,
    heal: faults.heal,
    heldCount: faults.heldCount,
    awaitHeld: faults.awaitHeld,
    client: ({ name = "memory", namespace = "default" } = {}) => {
      /** Logs the request, applies the faults, then lets the table serve it. */
      const request = <A>(verb: LeaseVerb, lease: LeaseRef, serve: (stored: StoredLease) => Effect.Effect<A, LeaseError>) =>
        Effect.gen(function*() {
          requests.push({ verb, client: name, lease, time: yield* Clock.currentTimeMillis })
          yield* faults.apply(name, verb, lease)
          return yield* serve(leases.serve(name, verb, lease))
        })
      return {
        defaultNamespace: namespace,
        get: (lease) =>
          request("get", lease, (stored) => stored.read).pipe(
            Effect.map(Option.some),
            // As the HTTP client does: 404 means there is no Lease.
            Effect.catchIf(
              (error) => error._tag === "LeaseApiError" && error.status === 404,
              () => Effect.succeed(Option.none<LeaseSnapshot>())
            )
          ),
        create: (lease, record) => request("create", lease, (stored) => stored.create(record)),
        replace: (previous, record) => request("update", previous.lease, (stored) => stored.replace(previous, record))
      }
    }
  }
}

/** The stored Leases, the store-wide resourceVersion, and the log of accepted writes. */
const makeLeaseTable = () => {
  const leases = new Map<string, Stored>()
  const writes: Array<MemoryWrite> = []
  let resourceVersion = 1

  const snapshotOf = (lease: LeaseRef, stored: Stored): LeaseSnapshot => ({
    lease,
    record: { ...stored.record },
    resourceVersion: String(stored.resourceVersion),
    labels: stored.labels,
    annotations: stored.annotations
  })

  const store = (client: string, verb: "create" | "update", lease: LeaseRef, next: Omit<Stored, "resourceVersion">) =>
    Effect.map(Clock.currentTimeMillis, (time) => {
      resourceVersion += 1
      const stored: Stored = { ...next, record: { ...next.record }, resourceVersion }
      leases.set(keyOf(lease), stored)
      const snapshot = snapshotOf(lease, stored)
      writes.push({ verb, client, snapshot, time })
      return snapshot
    })

  /** One request's view of the table, failing as kube-apiserver does. */
  const serve = (client: string, verb: LeaseVerb, lease: LeaseRef): StoredLease => {
    const status = (code: number, reason: string, message: string) =>
      Effect.fail(leaseErrorForStatus(code, { verb, lease }, { reason, message }))
    const resource = `leases.coordination.k8s.io ${JSON.stringify(lease.name)}`
    const current = () => leases.get(keyOf(lease))
    return {
      read: Effect.suspend(() => {
        const stored = current()
        return stored === undefined ? status(404, "NotFound", `${resource} not found`) : Effect.succeed(snapshotOf(lease, stored))
      }),
      create: (record) =>
        Effect.suspend(() =>
          current() !== undefined
            ? status(409, "AlreadyExists", `${resource} already exists`)
            : store(client, "create", lease, { record, labels: undefined, annotations: undefined })
        ),
      replace: (previous, record) =>
        Effect.suspend(() => {
          const stored = current()
          const next = { record, labels: previous.labels, annotations: previous.annotations }
          if (stored === undefined) return store(client, "create", lease, next)
          if (previous.resourceVersion === "") {
            return status(422, "Invalid", `${resource} is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`)
          }
          if (previous.resourceVersion !== String(stored.resourceVersion)) {
            return status(409, "Conflict", `Operation cannot be fulfilled on ${resource}: ${optimisticLockMessage}`)
          }
          const unchanged = JSON.stringify(record) === JSON.stringify(stored.record) &&
            sameStrings(next.labels, stored.labels) && sameStrings(next.annotations, stored.annotations)
          return unchanged ? Effect.succeed(snapshotOf(lease, stored)) : store(client, "update", lease, next)
        })
    }
  }

  return {
    peek: (lease: LeaseRef) => Option.map(Option.fromNullishOr(leases.get(keyOf(lease))), (stored) => snapshotOf(lease, stored)),
    writes: writes as ReadonlyArray<MemoryWrite>,
    serve
  }
}

const optimisticLockMessage =
  "the object has been modified; please apply your changes to the latest version and try again"

/** The injected faults and the requests `hang` holds. */
const makeFaults = () => {
  let faults: Array<Fault> = []
  const held = new Set<() => void>()
  const heldWaiters = new Set<() => boolean>()

  const add = (action: Fault["action"], target: FaultTarget = {}) => {
    faults.push({ action, target, remaining: target.count ?? Number.POSITIVE_INFINITY })
  }

  /** The first fault for this request, its count taken down by one. */
  const take = (client: string, verb: LeaseVerb): Fault["action"] | undefined => {
    const fault = faults.find((f) =>
      f.remaining > 0 && (f.target.client === undefined || f.target.client === client) &&
      (f.target.verbs === undefined || f.target.verbs.includes(verb))
    )
    if (fault === undefined) return undefined
    fault.remaining -= 1
    return fault.action
  }

  const holdUntilHealed = Effect.callback<void>((resume) => {
    const release = () => resume(Effect.void)
    held.add(release)
    for (const waiter of heldWaiters) if (waiter()) heldWaiters.delete(waiter)
    return Effect.sync(() => {
      held.delete(release)
    })
  })

  const failureOf = (failure: MemoryFailure, verb: LeaseVerb, lease: LeaseRef): LeaseError =>
    failure === "request-failed"
      ? new LeaseRequestFailed({ verb, lease, reason: "connection refused (injected)" })
      : leaseErrorForStatus(failure, { verb, lease }, { message: `injected ${failure}` })

  return {
    fail: (failure: MemoryFailure, target?: FaultTarget) => add({ _tag: "Fail", failure }, target),
    hang: (target?: FaultTarget) => add({ _tag: "Hang" }, target),
    heal: () => {
      faults = []
      const waiting = [...held]
      held.clear()
      for (const release of waiting) release()
    },
    heldCount: () => held.size,
    awaitHeld: (count = 1) =>
      Effect.callback<void>((resume) => {
        const check = () => held.size >= count && (resume(Effect.void), true)
        if (check()) return
        heldWaiters.add(check)
        return Effect.sync(() => {
          heldWaiters.delete(check)
        })
      }),
    /** Fails or holds the request when a fault says so. */
    apply: (client: string, verb: LeaseVerb, lease: LeaseRef): Effect.Effect<void, LeaseError> =>
      Effect.suspend(() => {
        const fault = take(client, verb)
        if (fault?._tag === "Fail") return Effect.fail(failureOf(fault.failure, verb, lease))
        return fault?._tag === "Hang" ? holdUntilHealed : Effect.void
      })
  }
}
