/**
 * Fault injection: added latency, error responses at a (seedable) rate, a
 * global hang, and partitions that cut one client off (by bearer token or
 * User-Agent) while others are served. Controlled in-process through
 * {@link Faults} or over HTTP through the admin endpoint with a
 * {@link FaultSpec}.
 */
import type { ClientInfo } from "./Client.ts"
import * as Random from "./internal/random.ts"
import * as Status from "./Status.ts"

/** Which requests a fault applies to. Every given field must match; an empty match takes all. */
export interface FaultMatch {
  /** The bearer token the client presents, exactly. */
  readonly token?: string
  /** A substring of the client's User-Agent header. */
  readonly userAgent?: string
  /** kube verbs (get, list, watch, create, update, patch, delete, deletecollection). */
  readonly verbs?: ReadonlyArray<string>
}

/** Delay before each matching request is handled. */
export interface LatencyFault {
  readonly ms: number
  /** Extra uniformly random delay in [0, jitterMs). */
  readonly jitterMs?: number
  readonly match?: FaultMatch
}

/** Error responses instead of handling, for a fraction of matching requests. */
export interface ErrorFault {
  /** HTTP status: 500 InternalError, 503 ServiceUnavailable, 429 TooManyRequests, 504 Timeout, or another code. */
  readonly status: number
  /** Fraction of matching requests that fail, in [0, 1]. Default 1. */
  readonly rate?: number
  /** Seed of the pseudo-random draw, for reproducible runs. */
  readonly seed?: number
  /** `Retry-After` (and `details.retryAfterSeconds`) of a 429 or 503. Default 1 for 429. */
  readonly retryAfterSeconds?: number
  readonly match?: FaultMatch
}

/** How a partitioned client experiences the partition. */
export type PartitionMode = "hang" | "reset"

/**
 * A partition of one client. `hang`: its requests are accepted and never
 * answered, its watches go silent. `reset`: its connections are destroyed.
 * Healing resets whatever the partition held.
 */
export interface PartitionFault {
  readonly token?: string
  readonly userAgent?: string
  readonly mode?: PartitionMode
}

/** The whole fault state, as the admin endpoint reads and writes it. */
export interface FaultSpec {
  readonly latency?: LatencyFault
  readonly errors?: ErrorFault
  /** Hold every request (except admin) unanswered until cleared. */
  readonly hang?: boolean | FaultMatch
  readonly partitions?: ReadonlyArray<PartitionFault>
}

/** What the request pipeline does with a request after faults were applied. */
export type Decision =
  | { readonly _tag: "Proceed" }
  | { readonly _tag: "Fail"; readonly error: Status.StatusError; readonly retryAfterSeconds?: number }
  | { readonly _tag: "Reset" }

/** The request attributes faults match on. */
export interface FaultRequest {
  readonly client: Pick<ClientInfo, "token" | "userAgent">
  readonly verb: string
}

const proceed: Decision = { _tag: "Proceed" }
const reset: Decision = { _tag: "Reset" }

const matches = (match: FaultMatch | undefined, request: FaultRequest): boolean =>
  match === undefined ||
  ((match.token === undefined || match.token === request.client.token) &&
    (match.userAgent === undefined || (request.client.userAgent ?? "").includes(match.userAgent)) &&
    (match.verbs === undefined || match.verbs.includes(request.verb)))

/** Whether a partition cuts off the given client. */
export const partitions = (p: PartitionFault, client: Pick<ClientInfo, "token" | "userAgent">): boolean =>
  (p.token !== undefined || p.userAgent !== undefined) &&
  matches({ ...(p.token === undefined ? {} : { token: p.token }), ...(p.userAgent === undefined ? {} : { userAgent: p.userAgent }) }, {
    client,
    verb: ""
  })

interface Held {
  readonly request: FaultRequest
  readonly release: (decision: Decision) => void
  readonly cause: "hang" | PartitionFault
}

const failure = (fault: ErrorFault): Decision => {
  switch (fault.status) {
    case 429: {
      const retryAfterSeconds = fault.retryAfterSeconds ?? 1
      return { _tag: "Fail", error: Status.tooManyRequests(retryAfterSeconds), retryAfterSeconds }
    }
    case 503:
      return {
        _tag: "Fail",
        error: Status.serviceUnavailable("the server is currently unable to handle the request (injected fault)"),
        ...(fault.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: fault.retryAfterSeconds })
      }
    case 500:
      return { _tag: "Fail", error: Status.internalError("injected fault") }
    case 504:
      return { _tag: "Fail", error: Status.timeout("the server was unable to return a response in the time allotted (injected fault)") }
    default:
      return { _tag: "Fail", error: Status.unknown(fault.status, "injected fault") }
  }
}

/**
 * The fault state of one server. All methods take effect for the next
 * request; `clear()` and `heal()` also let go of held requests.
 */
export class Faults {
  #latency: LatencyFault | undefined
  #errors: { readonly fault: ErrorFault; readonly draw: () => number } | undefined
  #hang: FaultMatch | undefined
  #partitions: Array<PartitionFault> = []
  readonly #held = new Set<Held>()
  readonly #partitionListeners = new Set<(p: PartitionFault, healed: boolean) => void>()

  /** Adds `ms` (plus optional jitter) of latency to every matching request; `0` removes it. */
  setLatency(latency: number | LatencyFault): void {
    const fault = typeof latency === "number" ? { ms: latency } : latency
    this.#latency = fault.ms > 0 || (fault.jitterMs ?? 0) > 0 ? fault : undefined
  }

  /** Answers a fraction of matching requests with an error status; `undefined` stops it. */
  injectErrors(fault: ErrorFault | undefined): void {
    this.#errors = fault === undefined
      ? undefined
      : { fault, draw: fault.seed === undefined ? Math.random : Random.seeded(fault.seed) }
  }

  /** Holds every matching request unanswered until {@link resume} or {@link clear}. */
  hang(match: FaultMatch = {}): void {
    this.#hang = match
  }

  /** Ends a hang: held requests are handled now. */
  resume(): void {
    this.#hang = undefined
    for (const h of [...this.#held]) {
      if (h.cause === "hang") {
        this.#held.delete(h)
        h.release(proceed)
      }
    }
  }

  /** Cuts one client off (by token or User-Agent substring) in `hang` (default) or `reset` mode. */
  partition(partition: PartitionFault): void {
    if (partition.token === undefined && partition.userAgent === undefined) {
      throw new Error("a partition needs a token or a userAgent")
    }
    this.#partitions.push({ ...partition, mode: partition.mode ?? "hang" })
    for (const l of this.#partitionListeners) l(partition, false)
  }

  /** Heals partitions: all, or those of the given token/User-Agent. Requests they held are reset. */
  heal(which?: { readonly token?: string; readonly userAgent?: string }): void {
    const healed = this.#partitions.filter((p) =>
      which === undefined || (which.token !== undefined && p.token === which.token) ||
      (which.userAgent !== undefined && p.userAgent === which.userAgent)
    )
    this.#partitions = this.#partitions.filter((p) => !healed.includes(p))
    for (const h of [...this.#held]) {
      if (h.cause !== "hang" && healed.includes(h.cause)) {
        this.#held.delete(h)
        h.release(reset)
      }
    }
    for (const p of healed) for (const l of this.#partitionListeners) l(p, true)
  }

  /** Removes every fault: no latency, no errors, held requests of a hang proceed, partitions heal. */
  clear(): void {
    this.#latency = undefined
    this.#errors = undefined
    this.heal()
    this.resume()
  }

  /** Replaces the whole fault state (what the admin endpoint's POST does). */
  apply(spec: FaultSpec): void {
    this.clear()
    if (spec.latency !== undefined) this.setLatency(spec.latency)
    if (spec.errors !== undefined) this.injectErrors(spec.errors)
    if (spec.hang !== undefined && spec.hang !== false) this.hang(spec.hang === true ? {} : spec.hang)
    for (const p of spec.partitions ?? []) this.partition(p)
  }

  /** The current fault state. */
  snapshot(): FaultSpec {
    return {
      ...(this.#latency === undefined ? {} : { latency: this.#latency }),
      ...(this.#errors === undefined ? {} : { errors: this.#errors.fault }),
      ...(this.#hang === undefined ? {} : { hang: Object.keys(this.#hang).length === 0 ? true : this.#hang }),
      partitions: [...this.#partitions]
    }
  }

  /** How many requests are being held by a hang or a partition right now. */
  get heldCount(): number {
    return this.#held.size
  }

  /** The active partition that cuts off this client, if any. */
  partitionOf(client: Pick<ClientInfo, "token" | "userAgent">): PartitionFault | undefined {
    return this.#partitions.find((p) => partitions(p, client))
  }

  /** Calls `listener` when a partition starts or heals (the server cuts or mutes watches with it). */
  onPartition(listener: (p: PartitionFault, healed: boolean) => void): () => void {
    this.#partitionListeners.add(listener)
    return () => this.#partitionListeners.delete(listener)
  }

  /**
   * Applies the faults to one request, in the order partition, hang,
   * latency, error. Resolves when the request may go on (or must fail or be
   * reset); a held request resolves only when released.
   */
  async decide(request: FaultRequest): Promise<Decision> {
    const partition = this.partitionOf(request.client)
    if (partition !== undefined) {
      if (partition.mode === "reset") return reset
      const decision = await this.#hold(request, partition)
      if (decision._tag !== "Proceed") return decision
    }
    if (this.#hang !== undefined && matches(this.#hang, request)) {
      const decision = await this.#hold(request, "hang")
      if (decision._tag !== "Proceed") return decision
    }
    const latency = this.#latency
    if (latency !== undefined && matches(latency.match, request)) {
      const ms = latency.ms + Math.random() * (latency.jitterMs ?? 0)
      await new Promise((resolve) => setTimeout(resolve, ms))
    }
    const errors = this.#errors
    if (errors !== undefined && matches(errors.fault.match, request) && errors.draw() < (errors.fault.rate ?? 1)) {
      return failure(errors.fault)
    }
    return proceed
  }

  /** Lets go of every held request without answering (the server is closing). */
  releaseAll(): void {
    for (const h of [...this.#held]) {
      this.#held.delete(h)
      h.release(reset)
    }
  }

  #hold(request: FaultRequest, cause: Held["cause"]): Promise<Decision> {
    return new Promise((resolve) => {
      this.#held.add({ request, release: resolve, cause })
    })
  }
}
