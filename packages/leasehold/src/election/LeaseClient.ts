import {
  ApiException,
  type ConfigurationOptions,
  CoordinationV1Api,
  KubeConfig,
  Observable,
  type RequestContext,
  type ResponseContext,
  type V1Lease
} from "@kubernetes/client-node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { ExactMicroTime, readMicroTime } from "./internal/microTime.ts"
import type { LeaderElectionRecord, LeaseRef } from "./LeaderRecord.ts"
import { resolveNamespace } from "./Namespace.ts"
import { KubeConfigUnusable, type LeaseApiError, type LeaseError, leaseErrorForStatus, LeaseRequestFailed, type LeaseVerb } from "./LeaseErrors.ts"
import { makeMemoryLeaseStore, type MemoryClientOptions, type MemoryLeaseStore } from "./MemoryLeaseStore.ts"

/** A Lease as read or written: its election record and the resourceVersion to update it with. */
export interface LeaseSnapshot {
  readonly lease: LeaseRef
  readonly record: LeaderElectionRecord
  /** Sent back on the next PUT, so a concurrent writer makes it fail with 409 Conflict. */
  readonly resourceVersion: string
  /** Kept across our PUTs so labels and annotations others set are not erased. */
  readonly labels: Readonly<Record<string, string>> | undefined
  readonly annotations: Readonly<Record<string, string>> | undefined
}

/**
 * The three Lease requests leader election needs, over `CoordinationV1Api` of
 * `@kubernetes/client-node`. Every request can be interrupted (the HTTP request is aborted).
 */
export interface LeaseClientApi {
  /** Namespace of the client's configuration: service-account namespace file, then kubeconfig context, then "default". */
  readonly defaultNamespace: string
  /** GET the Lease; `None` when it does not exist (404). */
  readonly get: (lease: LeaseRef) => Effect.Effect<Option.Option<LeaseSnapshot>, LeaseError>
  /** POST a new Lease holding `record`. Someone else creating it first fails with 409 AlreadyExists. */
  readonly create: (lease: LeaseRef, record: LeaderElectionRecord) => Effect.Effect<LeaseSnapshot, LeaseError>
  /**
   * PUT `record` into the Lease last seen as `previous`, carrying its resourceVersion: fails with
   * 409 Conflict when the Lease changed since.
   */
  readonly replace: (previous: LeaseSnapshot, record: LeaderElectionRecord) => Effect.Effect<LeaseSnapshot, LeaseError>
}

/**
 * The Lease API the elector talks to. Build it with `LeaseClient.layer` or
 * `LeaseClient.layerKubeConfig`; in tests with `LeaseClient.layerMemory`.
 */
export class LeaseClient extends Context.Service<LeaseClient, LeaseClientApi>()("leasehold/election/LeaseClient") {
  /**
   * From the environment: in a pod the service account (token, CA, namespace file), outside one
   * `KUBECONFIG` or `~/.kube/config` (`KubeConfig.loadFromDefault`).
   */
  static readonly layer: Layer.Layer<LeaseClient, KubeConfigUnusable> = Layer.effect(
    LeaseClient,
    Effect.suspend(() => Effect.flatMap(loadKubeConfig(), (kubeConfig) => makeLeaseClient(kubeConfig)))
  )

  /** From a loaded `KubeConfig` (tests build one with `loadFromString`). */
  static readonly layerKubeConfig = (
    kubeConfig: KubeConfig,
    options?: LeaseClientOptions
  ): Layer.Layer<LeaseClient, KubeConfigUnusable> => Layer.effect(LeaseClient, makeLeaseClient(kubeConfig, options))

  /**
   * In memory, with the API server's semantics (see `MemoryLeaseStore`): for tests on
   * `TestClock`. Pass a store to share it between candidates or to inject faults; without one
   * the layer gets a fresh store of its own.
   */
  static readonly layerMemory = (options?: MemoryLeaseClientOptions): Layer.Layer<LeaseClient> =>
    Layer.sync(LeaseClient, () => makeMemoryLeaseClient(options))
}

export { KubeConfigUnusable }

/** Options of `makeLeaseClient`. */
export interface LeaseClientOptions {
  /** Overrides the namespace resolution (`defaultNamespace`). */
  readonly namespace?: string
  /** Where the service-account namespace file is; the standard in-pod path by default. */
  readonly serviceAccountNamespaceFile?: string
}

export { resolveNamespace }

/**
 * Loads the default Kubernetes configuration into `into` (a fresh `KubeConfig` unless given):
 * the service account in a pod, else `KUBECONFIG` or `~/.kube/config`. The one place that does.
 */
export const loadKubeConfig = (into: KubeConfig = new KubeConfig()): Effect.Effect<KubeConfig, KubeConfigUnusable> =>
  Effect.try({
    try: () => {
      into.loadFromDefault()
      return into
    },
    catch: (cause) => new KubeConfigUnusable({ reason: errorText(cause) })
  })

type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>

/**
 * Builds a `LeaseClientApi` over `CoordinationV1Api` from a loaded `KubeConfig`, for the life of
 * the scope.
 *
 * Gotcha: the library builds a new HTTP agent (a new connection, a new TLS handshake) for every
 * request. This client keeps the first one and reuses it, so requests share kept-alive
 * connections; the agent is destroyed when the scope closes. Connection settings (CA, client
 * certificate) are therefore read once; bearer tokens are still read per request.
 */
export const makeLeaseClient = (
  kubeConfig: KubeConfig,
  options?: LeaseClientOptions
): Effect.Effect<LeaseClientApi, KubeConfigUnusable, Scope.Scope> =>
  Effect.gen(function*() {
    const api = yield* Effect.try({
      try: () => kubeConfig.makeApiClient(CoordinationV1Api),
      catch: (cause) => new KubeConfigUnusable({ reason: errorText(cause) })
    })
    const defaultNamespace = options?.namespace ?? resolveNamespace(kubeConfig, options?.serviceAccountNamespaceFile)

    let shared: Dispatcher | undefined
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => shared === undefined ? Promise.resolve() : shared.destroy().catch(() => undefined))
    )
    /** Per-request options: the fiber's AbortSignal (interruption aborts the request) and the shared agent. */
    const requestOptions = (signal: AbortSignal): ConfigurationOptions => ({
      middleware: [{
        pre: (context: RequestContext) => {
          context.setSignal(signal)
          const own = context.getDispatcher()
          if (shared === undefined) shared = own
          else if (own !== undefined && own !== shared) {
            void own.destroy().catch(() => undefined)
            context.setDispatcher(shared)
          }
          return new Observable(Promise.resolve(context))
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context))
      }],
      middlewareMergeStrategy: "append"
    })

    const request = <A>(verb: LeaseVerb, lease: LeaseRef, send: (options: ConfigurationOptions) => Promise<A>) =>
      Effect.tryPromise({
        try: (signal) => send(requestOptions(signal)),
        catch: (cause) => toLeaseError(cause, verb, lease)
      })

    const get = Effect.fn("LeaseClient.get")(function*(lease: LeaseRef) {
      const result = yield* request("get", lease, (o) => api.readNamespacedLease(lease, o)).pipe(
        Effect.map(Option.some),
        Effect.catchIf(
          (error): error is LeaseApiError => error._tag === "LeaseApiError" && error.status === 404,
          () => Effect.succeed(Option.none<V1Lease>())
        )
      )
      return Option.map(result, (object) => toSnapshot(lease, object))
    })

    const create = Effect.fn("LeaseClient.create")(function*(lease: LeaseRef, record: LeaderElectionRecord) {
      const body = toLease(lease, record, undefined)
      const object = yield* request("create", lease, (o) => api.createNamespacedLease({ namespace: lease.namespace, body }, o))
      return toSnapshot(lease, object)
    })

    const replace = Effect.fn("LeaseClient.replace")(function*(previous: LeaseSnapshot, record: LeaderElectionRecord) {
      const lease = previous.lease
      const body = toLease(lease, record, previous)
      const object = yield* request(
        "update",
        lease,
        (o) => api.replaceNamespacedLease({ name: lease.name, namespace: lease.namespace, body }, o)
      )
      return toSnapshot(lease, object)
    })

    return { defaultNamespace, get, create, replace } satisfies LeaseClientApi
  })

/** Options of `makeMemoryLeaseClient`. */
export interface MemoryLeaseClientOptions extends MemoryClientOptions {
  /** The store to talk to; a fresh one when absent. */
  readonly store?: MemoryLeaseStore
}

/**
 * A `LeaseClientApi` over an in-memory store instead of the API server: same answers, same
 * errors (409 AlreadyExists, 409 Conflict, 404 as `None`), no HTTP and no real time. Build one
 * per candidate over one shared store, each with its own `name`, to single one out in faults.
 */
export const makeMemoryLeaseClient = (options: MemoryLeaseClientOptions = {}): LeaseClientApi =>
  (options.store ?? makeMemoryLeaseStore()).client(options)

const toLease = (lease: LeaseRef, record: LeaderElectionRecord, previous: LeaseSnapshot | undefined): V1Lease => ({
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  metadata: {
    name: lease.name,
    namespace: lease.namespace,
    ...(previous === undefined ? {} : { resourceVersion: previous.resourceVersion }),
    ...(previous?.labels === undefined ? {} : { labels: { ...previous.labels } }),
    ...(previous?.annotations === undefined ? {} : { annotations: { ...previous.annotations } })
  },
  spec: {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
    ...(record.acquireTime === undefined ? {} : { acquireTime: new ExactMicroTime(record.acquireTime) }),
    ...(record.renewTime === undefined ? {} : { renewTime: new ExactMicroTime(record.renewTime) })
  }
})

const toSnapshot = (lease: LeaseRef, object: V1Lease): LeaseSnapshot => {
  const spec = object.spec
  return {
    lease,
    record: {
      holderIdentity: spec?.holderIdentity ?? "",
      leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
      acquireTime: readMicroTime(spec?.acquireTime),
      renewTime: readMicroTime(spec?.renewTime),
      leaseTransitions: spec?.leaseTransitions ?? 0
    },
    resourceVersion: object.metadata?.resourceVersion ?? "",
    labels: object.metadata?.labels,
    annotations: object.metadata?.annotations
  }
}

interface StatusBody {
  readonly reason?: unknown
  readonly message?: unknown
}

const parseStatus = (body: unknown): StatusBody => {
  if (typeof body === "string") {
    try {
      const parsed: unknown = JSON.parse(body)
      return typeof parsed === "object" && parsed !== null ? parsed as StatusBody : {}
    } catch {
      return { message: body.slice(0, 500) }
    }
  }
  return typeof body === "object" && body !== null ? body as StatusBody : {}
}

const toLeaseError = (cause: unknown, verb: LeaseVerb, lease: LeaseRef): LeaseError => {
  if (cause instanceof ApiException) {
    const body = parseStatus(cause.body)
    return leaseErrorForStatus(cause.code, { verb, lease }, {
      reason: typeof body.reason === "string" ? body.reason : undefined,
      message: typeof body.message === "string" ? body.message : undefined
    })
  }
  return new LeaseRequestFailed({ verb, lease, reason: errorText(cause) })
}

const errorText = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause
    return inner instanceof Error ? `${cause.message}: ${inner.message}` : cause.message
  }
  return String(cause)
}
