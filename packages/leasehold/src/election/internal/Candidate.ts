/**
 * One candidate's view of one Lease: client-go's `LeaderElector` bookkeeping (observedRecord,
 * observedTime) and its `tryAcquireOrRenew` and `release`, one attempt per call. The loops,
 * deadlines and the leader's work live in `Elector.ts`.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
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
  /**
   * Campaigning: someone else holds it and it has not expired (from our observation), or it has
   * but `mayTakeOverExpired` answered `false` (`expired`).
   */
  | { readonly _tag: "HeldByOther"; readonly record: LeaderElectionRecord; readonly expired: boolean }
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
   * `leaseDurationSeconds: 1`, keeping `leaseTransitions`. See `ReleaseOutcome`.
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

/**
 * What a candidate remembers between rounds: client-go's observedRecord and observedTime, the
 * snapshot to update with, and whether a write of ours may have landed without our knowing.
 */
interface Memory {
  observed: Observation | undefined
  cached: LeaseSnapshot | undefined
  uncertainWrite: boolean
}

/** What every step of a round works with. */
interface Round {
  readonly config: ElectionConfig
  readonly client: LeaseClientApi
  readonly memory: Memory
}

/** A fresh candidate that has observed nothing yet. */
export const makeCandidate = (config: ElectionConfig, client: LeaseClientApi): Candidate => {
  const round: Round = { config, client, memory: { observed: undefined, cached: undefined, uncertainWrite: false } }
  return {
    config,
    observation: () => Option.fromNullishOr(round.memory.observed),
    isLeader: () => namesUs(round),
    mayHold: () => namesUs(round) || round.memory.uncertainWrite,
    tryAcquireOrRenew: (mode) => tryAcquireOrRenew(round, mode),
    tryRelease: tryRelease(round)
  }
}

/** One round of client-go's `tryAcquireOrRenew` (see `Candidate.tryAcquireOrRenew`). */
const tryAcquireOrRenew = (round: Round, mode: "acquire" | "renew"): Effect.Effect<Attempt, FatalLeaseError> =>
  Effect.gen(function*() {
    const { client, config, memory } = round
    const startedAt = yield* monotonicMillis
    const desired = ourRecord(config, yield* wallMicroTime)

    // 1. Fast path: a leader whose lease is still valid updates optimistically with the
    //    resourceVersion it cached; on any failure it falls back to the slow path.
    if (mode === "renew") {
      const renewed = yield* renewOptimistically(round, desired, startedAt)
      if (Option.isSome(renewed)) return renewed.value
    }

    // 2. Obtain the record, or create the Lease when there is none.
    const got = yield* Effect.result(client.get(config.lease))
    if (got._tag === "Failure") return yield* lostOrFatal(got.failure)
    if (Option.isNone(got.success)) {
      const created = yield* Effect.result(trackWrite(memory, client.create(config.lease, desired)))
      if (created._tag === "Failure") return yield* lostOrFatal(created.failure)
      return yield* holding(memory, created.success, true, startedAt)
    }
    const snapshot = got.success.value
    memory.cached = snapshot

    // 3. A changed record restarts our expiry timer for it; it may bar us from writing.
    yield* observeIfChanged(memory, snapshot.record)
    const barred = yield* barredFromWriting(round, mode, snapshot.record)
    if (Option.isSome(barred)) return barred.value

    // 4. Renewal keeps acquireTime and leaseTransitions; a takeover counts one more transition.
    const written = yield* Effect.result(trackWrite(memory, client.replace(snapshot, nextRecord(mode, desired, snapshot.record))))
    if (written._tag === "Failure") return yield* lostOrFatal(written.failure)
    return yield* holding(memory, written.success, mode === "acquire", startedAt)
  })

/**
 * Step 1: a leader whose lease is still valid (from its own observation) writes its renewal
 * over the snapshot it cached, without a GET. `None` when it may not, or the write failed and
 * the round goes on with a GET.
 */
const renewOptimistically = (
  round: Round,
  desired: LeaderElectionRecord,
  startedAt: number
): Effect.Effect<Option.Option<Attempt>, FatalLeaseError> =>
  Effect.gen(function*() {
    const { client, memory } = round
    const { cached, observed } = memory
    if (!namesUs(round) || !isLeaseValid(memory, startedAt) || cached === undefined || observed === undefined) {
      return Option.none()
    }
    const renewal = { ...desired, acquireTime: observed.record.acquireTime, leaseTransitions: observed.record.leaseTransitions }
    const fast = yield* Effect.result(trackWrite(memory, client.replace(cached, renewal)))
    if (fast._tag === "Success") return Option.some(yield* holding(memory, fast.success, false, startedAt))
    yield* failIfFatal(fast.failure)
    yield* logFor(round.config, "optimistic renewal failed, falling back to GET", { error: fast.failure.message })
    return Option.none()
  })

/**
 * Step 3: whether the freshly read `current` record bars this round from writing. A renewal is
 * barred by a record naming anyone else (our term is over); a campaign by a valid Lease held by
 * someone else, or an expired one `mayTakeOverExpired` holds back, unless `canTakeOver` proves
 * its holder gone.
 */
const barredFromWriting = (
  round: Round,
  mode: "acquire" | "renew",
  current: LeaderElectionRecord
): Effect.Effect<Option.Option<Attempt>> =>
  Effect.gen(function*() {
    const { config, memory } = round
    if (mode === "renew" && !namesUs(round)) return Option.some({ _tag: "Superseded", record: current } satisfies Attempt)
    if (mode === "renew" || current.holderIdentity.length === 0 || namesUs(round)) return Option.none()
    const expired = !isLeaseValid(memory, yield* monotonicMillis)
    if (expired && (yield* mayTakeOverExpired(config, current))) return Option.none()
    const takeOver = yield* config.canTakeOver(current).pipe(Effect.catchCause(() => Effect.succeed(false)))
    if (!takeOver) return Option.some({ _tag: "HeldByOther", record: current, expired } satisfies Attempt)
    yield* Effect.logInfo("taking over a Lease whose holder was proven gone").pipe(
      Effect.annotateLogs({ lease: describeLease(config.lease), identity: config.identity, holder: current.holderIdentity })
    )
    return Option.none()
  })

/**
 * Whether an expired Lease held by someone else may be taken over: `mayTakeOverExpired`'s
 * answer; `true` without the hook (client-go), and when it fails, dies or has not answered
 * within `retryPeriod` (see `ElectionOptions.mayTakeOverExpired` for why).
 */
const mayTakeOverExpired = (config: ElectionConfig, current: LeaderElectionRecord): Effect.Effect<boolean> => {
  const hook = config.mayTakeOverExpired
  if (hook === undefined) return Effect.succeed(true)
  const annotations = { lease: describeLease(config.lease), identity: config.identity, holder: current.holderIdentity }
  return Effect.suspend(() => hook(current)).pipe(
    Effect.timeoutOption(config.retryPeriod),
    Effect.flatMap(Option.match({
      onSome: (answer) =>
        answer
          ? Effect.as(Effect.logInfo("taking over an expired Lease: mayTakeOverExpired allowed it"), true)
          : Effect.as(Effect.logDebug("the Lease has expired, but mayTakeOverExpired holds us back"), false),
      onNone: () => Effect.as(Effect.logWarning("mayTakeOverExpired did not answer within retryPeriod; taking over the expired Lease"), true)
    })),
    Effect.catchCause((cause) =>
      Effect.as(
        Effect.logWarning("mayTakeOverExpired failed; taking over the expired Lease").pipe(
          Effect.annotateLogs({ error: Cause.prettyErrors(cause).map((e) => e.message).join("; ") })
        ),
        true
      )
    ),
    Effect.annotateLogs(annotations)
  )
}

/** One release attempt (see `Candidate.tryRelease`). */
const tryRelease = (round: Round): Effect.Effect<ReleaseOutcome, FatalLeaseError> =>
  Effect.gen(function*() {
    const { client, config, memory } = round
    const got = yield* Effect.result(client.get(config.lease))
    if (got._tag === "Failure") {
      yield* failIfFatal(got.failure)
      return "failed"
    }
    if (Option.isNone(got.success)) return "not-holder"
    const snapshot = got.success.value
    memory.cached = snapshot
    yield* observeIfChanged(memory, snapshot.record)
    // client-go decides from its cached observation; we decide from the fresh record, so a
    // leader that already lost the Lease never clears its successor's.
    if (snapshot.record.holderIdentity !== config.identity) return "not-holder"
    const released = releasedRecord(yield* wallMicroTime, snapshot.record.leaseTransitions)
    const written = yield* Effect.result(trackWrite(memory, client.replace(snapshot, released)))
    if (written._tag === "Failure") {
      yield* failIfFatal(written.failure)
      return written.failure._tag === "LeaseApiError" && written.failure.isConflict ? "conflict" : "failed"
    }
    memory.cached = written.success
    yield* observe(memory, written.success.record)
    return "released"
  })

/** The record this candidate writes at wall time `now`, before a renewal or takeover adjusts it. */
const ourRecord = (config: ElectionConfig, now: string): LeaderElectionRecord => ({
  holderIdentity: config.identity,
  leaseDurationSeconds: config.leaseDurationSeconds,
  acquireTime: now,
  renewTime: now,
  leaseTransitions: 0
})

/** Step 4's record: a renewal keeps `acquireTime` and `leaseTransitions`, a takeover adds one. */
const nextRecord = (
  mode: "acquire" | "renew",
  desired: LeaderElectionRecord,
  current: LeaderElectionRecord
): LeaderElectionRecord =>
  mode === "renew"
    ? { ...desired, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
    : { ...desired, leaseTransitions: current.leaseTransitions + 1 }

/** A released Lease: nobody holds it, it expires in a second, the epoch stays. */
const releasedRecord = (now: string, leaseTransitions: number): LeaderElectionRecord => ({
  holderIdentity: "",
  leaseDurationSeconds: 1,
  acquireTime: now,
  renewTime: now,
  leaseTransitions
})

/** Runs a write, remembering while it has no definite answer that it may have landed. */
const trackWrite = <A>(memory: Memory, request: Effect.Effect<A, LeaseError>): Effect.Effect<A, LeaseError> =>
  Effect.suspend(() => {
    memory.uncertainWrite = true
    return request
  }).pipe(
    Effect.tap(() => Effect.sync(() => (memory.uncertainWrite = false))),
    Effect.tapError((error) => Effect.sync(() => (memory.uncertainWrite = error._tag === "LeaseRequestFailed")))
  )

/** We wrote `snapshot`: it is what we cache and observe, as client-go keeps the record it wrote. */
const holding = (memory: Memory, snapshot: LeaseSnapshot, acquired: boolean, startedAt: number) =>
  Effect.gen(function*() {
    memory.cached = snapshot
    yield* observe(memory, snapshot.record)
    return { _tag: "Holding", acquired, record: snapshot.record, startedAt } satisfies Attempt
  })

const observe = (memory: Memory, record: LeaderElectionRecord) =>
  Effect.map(monotonicMillis, (now) => {
    memory.observed = { record, observedAt: now }
  })

/** Restarts the expiry timer only when the record differs from the one observed last. */
const observeIfChanged = (memory: Memory, record: LeaderElectionRecord): Effect.Effect<void> =>
  memory.observed === undefined || !sameRecord(memory.observed.record, record) ? observe(memory, record) : Effect.void

/** Whether the last observed record names this candidate as holder. */
const namesUs = ({ config, memory }: Round): boolean =>
  memory.observed !== undefined && memory.observed.record.holderIdentity === config.identity

// Expiry is judged from when *we* saw the record change plus the duration the Lease itself
// declares; `renewTime` (the holder's clock) is never compared with ours.
const isLeaseValid = ({ observed }: Memory, now: number): boolean =>
  observed !== undefined && observed.observedAt + observed.record.leaseDurationSeconds * 1000 > now

const logFor = (config: ElectionConfig, message: string, extra: Record<string, unknown> = {}) =>
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

/** `retryPeriod × (1 + random × 1.2)`: client-go's `wait.Jitter(retryPeriod, JitterFactor)`. */
export const jittered = (period: Duration.Duration, factor: number, random: number): Duration.Duration =>
  Duration.millis(Duration.toMillis(period) * (1 + random * factor))
