/**
 * One candidate's view of one Lease: client-go's `LeaderElector` bookkeeping (observedRecord,
 * observedTime) and its `tryAcquireOrRenew` and `release`, one attempt per call. The loops,
 * deadlines and the leader's work live in `Elector.ts`.
 */
import { Clock, Duration, Effect, Option } from "effect"
import type { ElectionConfig } from "../ElectionConfig.ts"
import { describeLease, type LeaderElectionRecord, sameRecord } from "../LeaderRecord.ts"
import type { LeaseClientApi, LeaseSnapshot } from "../LeaseClient.ts"
import { asFatalLeaseError, type FatalLeaseError, type LeaseError } from "../LeaseErrors.ts"
import { formatMicroTime } from "./microTime.ts"

/** The outcome of one `tryAcquireOrRenew`. */
export type Attempt =
  /** We hold the Lease now: `acquired` on a takeover or create, else renewed. */
  | {
    readonly _tag: "Holding"
    readonly acquired: boolean
    readonly record: LeaderElectionRecord
    /** Monotonic milliseconds when this attempt started: the write happened after it. */
    readonly startedAt: number
  }
  /** Campaigning: someone else holds it and it has not expired (from our observation). */
  | { readonly _tag: "HeldByOther"; readonly record: LeaderElectionRecord }
  /** Renewing: the Lease no longer names us; our term is over. */
  | { readonly _tag: "Superseded"; readonly record: LeaderElectionRecord }
  /** This round is lost: a conflict or a transient API failure. Try again later. */
  | { readonly _tag: "Lost"; readonly error: LeaseError }

/** What the candidate last saw of the Lease. */
export interface Observation {
  readonly record: LeaderElectionRecord
  /** Monotonic milliseconds when the record last changed, from this candidate's point of view. */
  readonly observedAt: number
}

/** Monotonic milliseconds from Effect's Clock (TestClock in tests). */
export const monotonicMillis: Effect.Effect<number> = Effect.map(
  Clock.monotonicTimeNanos,
  (nanos) => Number(nanos) / 1_000_000
)

const wallMicroTime: Effect.Effect<string> = Effect.map(Clock.currentTimeNanos, formatMicroTime)

/** The candidate's state and steps. Not safe for concurrent attempts: one fiber drives it. */
export interface Candidate {
  readonly config: ElectionConfig
  /** The last observation, if any. */
  readonly observation: () => Option.Option<Observation>
  /** Whether the last observed record names this candidate as holder. */
  readonly isLeader: () => boolean
  /**
   * Whether the Lease may name this candidate: it did when last observed, or a write of ours
   * got no definite answer (interrupted, connection lost). Decides whether a release is needed.
   */
  readonly mayHold: () => boolean
  /**
   * One round of client-go's `tryAcquireOrRenew`. Fails only with errors no retry can fix.
   *
   * `"acquire"` starts a new term: a record naming our own identity (left by an earlier term
   * of this elector) is taken over like an expired one, so every term gets a new epoch.
   * `"renew"` continues the current term: a record naming anyone else ends it (`Superseded`).
   */
  readonly tryAcquireOrRenew: (mode: "acquire" | "renew") => Effect.Effect<Attempt, FatalLeaseError>
  /**
   * One release attempt: if the fresh Lease still names us, write `holderIdentity: ""` and
   * `leaseDurationSeconds: 1`, keeping `leaseTransitions`. `true` when released or nothing to
   * release; `false` on a conflict or transient failure (try again).
   */
  readonly tryRelease: Effect.Effect<ReleaseOutcome, FatalLeaseError>
}

/** The outcome of one `tryRelease`. */
export type ReleaseOutcome =
  /** We wrote the released record. */
  | "released"
  /** The Lease does not name us (or does not exist): nothing to release. */
  | "not-holder"
  /** 409: the Lease changed since our GET; read it again. */
  | "conflict"
  /** A transient failure; try again later. */
  | "failed"

/** A fresh candidate that has observed nothing yet. */
export const makeCandidate = (config: ElectionConfig, client: LeaseClientApi): Candidate => {
  let observed: Observation | undefined
  let cached: LeaseSnapshot | undefined
  let uncertainWrite = false

  /** Runs a write, remembering while it has no definite answer that it may have landed. */
  const write = <A>(request: Effect.Effect<A, LeaseError>): Effect.Effect<A, LeaseError> =>
    Effect.suspend(() => {
      uncertainWrite = true
      return request
    }).pipe(
      Effect.tap(() => Effect.sync(() => (uncertainWrite = false))),
      Effect.tapError((error) => Effect.sync(() => (uncertainWrite = error._tag === "LeaseRequestFailed")))
    )

  const setObserved = (record: LeaderElectionRecord) =>
    Effect.map(monotonicMillis, (now) => {
      observed = { record, observedAt: now }
    })
  const isLeader = () => observed !== undefined && observed.record.holderIdentity === config.identity
  // Expiry is judged from when *we* saw the record change plus the duration the Lease itself
  // declares; `renewTime` (the holder's clock) is never compared with ours.
  const isLeaseValid = (now: number) =>
    observed !== undefined && observed.observedAt + observed.record.leaseDurationSeconds * 1000 > now

  const logFor = (message: string, extra: Record<string, unknown> = {}) =>
    Effect.logDebug(message).pipe(
      Effect.annotateLogs({ lease: describeLease(config.lease), identity: config.identity, ...extra })
    )

  /** Classifies an API failure: fatal ones fail the attempt, the rest lose the round. */
  const lostOrFatal = (error: LeaseError): Effect.Effect<Attempt, FatalLeaseError> => {
    const fatal = asFatalLeaseError(error)
    return fatal !== undefined ? Effect.fail(fatal) : Effect.succeed({ _tag: "Lost", error })
  }
  /** Fails with `error` when fatal; otherwise succeeds so the caller can carry on. */
  const failIfFatal = (error: LeaseError): Effect.Effect<void, FatalLeaseError> => {
    const fatal = asFatalLeaseError(error)
    return fatal !== undefined ? Effect.fail(fatal) : Effect.void
  }

  const holding = (snapshot: LeaseSnapshot, acquired: boolean, startedAt: number) =>
    Effect.gen(function*() {
      cached = snapshot
      // The record as the server stored it becomes our observation, as client-go keeps the
      // record it wrote.
      yield* setObserved(snapshot.record)
      return { _tag: "Holding", acquired, record: snapshot.record, startedAt } satisfies Attempt
    })

  const tryAcquireOrRenew = (mode: "acquire" | "renew"): Effect.Effect<Attempt, FatalLeaseError> => Effect.gen(function*() {
    const startedAt = yield* monotonicMillis
    const now = yield* wallMicroTime
    const desired: LeaderElectionRecord = {
      holderIdentity: config.identity,
      leaseDurationSeconds: config.leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0
    }

    // 1. Fast path: a leader whose lease is still valid updates optimistically with the
    //    resourceVersion it cached; on any failure it falls back to the slow path.
    if (mode === "renew" && isLeader() && isLeaseValid(startedAt) && cached !== undefined && observed !== undefined) {
      const renewal = { ...desired, acquireTime: observed.record.acquireTime, leaseTransitions: observed.record.leaseTransitions }
      const fast = yield* Effect.result(write(client.replace(cached, renewal)))
      if (fast._tag === "Success") return yield* holding(fast.success, false, startedAt)
      yield* failIfFatal(fast.failure)
      yield* logFor("optimistic renewal failed, falling back to GET", { error: fast.failure.message })
    }

    // 2. Obtain the record, or create the Lease when there is none.
    const got = yield* Effect.result(client.get(config.lease))
    if (got._tag === "Failure") return yield* lostOrFatal(got.failure)
    if (Option.isNone(got.success)) {
      const created = yield* Effect.result(write(client.create(config.lease, desired)))
      if (created._tag === "Failure") return yield* lostOrFatal(created.failure)
      return yield* holding(created.success, true, startedAt)
    }
    const snapshot = got.success.value
    cached = snapshot

    // 3. A changed record restarts our expiry timer for it.
    if (observed === undefined || !sameRecord(observed.record, snapshot.record)) {
      yield* setObserved(snapshot.record)
    }
    const current = snapshot.record
    if (mode === "renew" && !isLeader()) return { _tag: "Superseded", record: current } satisfies Attempt
    // A valid Lease held by someone else blocks us, unless the hook proves its holder gone.
    if (mode === "acquire" && current.holderIdentity.length > 0 && !isLeader() && isLeaseValid(yield* monotonicMillis)) {
      const takeOver = yield* config.canTakeOver(current).pipe(
        Effect.catchCause(() => Effect.succeed(false))
      )
      if (!takeOver) return { _tag: "HeldByOther", record: current } satisfies Attempt
      yield* Effect.logInfo("taking over a Lease whose holder was proven gone").pipe(
        Effect.annotateLogs({ lease: describeLease(config.lease), identity: config.identity, holder: current.holderIdentity })
      )
    }

    // 4. Renewal keeps acquireTime and leaseTransitions; a takeover counts one more transition.
    const leading = mode === "renew"
    const next: LeaderElectionRecord = leading
      ? { ...desired, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
      : { ...desired, leaseTransitions: current.leaseTransitions + 1 }
    const written = yield* Effect.result(write(client.replace(snapshot, next)))
    if (written._tag === "Failure") return yield* lostOrFatal(written.failure)
    return yield* holding(written.success, !leading, startedAt)
  })

  const tryRelease: Effect.Effect<ReleaseOutcome, FatalLeaseError> = Effect.gen(function*() {
    const got = yield* Effect.result(client.get(config.lease))
    if (got._tag === "Failure") {
      yield* failIfFatal(got.failure)
      return "failed"
    }
    if (Option.isNone(got.success)) return "not-holder"
    const snapshot = got.success.value
    cached = snapshot
    if (observed === undefined || !sameRecord(observed.record, snapshot.record)) {
      yield* setObserved(snapshot.record)
    }
    // client-go decides from its cached observation; we decide from the fresh record, so a
    // leader that already lost the Lease never clears its successor's.
    if (snapshot.record.holderIdentity !== config.identity) return "not-holder"
    const now = yield* wallMicroTime
    const released: LeaderElectionRecord = {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: snapshot.record.leaseTransitions
    }
    const written = yield* Effect.result(write(client.replace(snapshot, released)))
    if (written._tag === "Failure") {
      yield* failIfFatal(written.failure)
      return written.failure._tag === "LeaseApiError" && written.failure.isConflict ? "conflict" : "failed"
    }
    cached = written.success
    yield* setObserved(written.success.record)
    return "released"
  })

  return {
    config,
    observation: () => Option.fromNullishOr(observed),
    isLeader,
    mayHold: () => isLeader() || uncertainWrite,
    tryAcquireOrRenew,
    tryRelease
  }
}

/** `retryPeriod × (1 + random × 1.2)`: client-go's `wait.Jitter(retryPeriod, JitterFactor)`. */
export const jittered = (period: Duration.Duration, factor: number, random: number): Duration.Duration =>
  Duration.millis(Duration.toMillis(period) * (1 + random * factor))
