/**
 * Fast failover, beyond client-go: a candidate may take the Lease over before it expires when
 * its holder is provably gone. Safety does not rest on this (S1/S2 rest on the fence: a
 * wrongly taken Lease only means the fence orders two holders by epoch); it only saves the wait.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { LeaderElectionRecord } from "../election/LeaderRecord.ts"
import type { FenceStatus } from "../fence/FenceStatus.ts"

/**
 * Whether the Lease `lease` (`namespace/name`) described by `record` may be taken over now,
 * given the fence registry's view of the history it coordinates:
 *
 * - nobody holds it (`holderIdentity` is empty: it was released) — take it;
 * - the fence registry names the Lease's holder (identities are unique per process), for this
 *   very Lease and its current term (`leaseTransitions`, recorded as the holder's Lease term),
 *   and that backend no longer exists — the holder fenced itself for this term and its session
 *   is gone (process killed, node lost, session terminated), so it cannot commit anything any
 *   more — take it;
 * - anything else (no registration yet, another holder — of this Lease or of another Lease on
 *   the same database —, an older term, a live backend) — wait for expiry as client-go does:
 *   the holder may be between acquiring the Lease and the fence, or waiting for the fence.
 *
 * The fence's epoch is the database's own sequence (ADR 0009) and is not compared with the
 * Lease's `leaseTransitions`.
 */
export const holderProvablyGone = (lease: string, record: LeaderElectionRecord, status: Option.Option<FenceStatus>): boolean => {
  if (record.holderIdentity === "") return true
  if (Option.isNone(status)) return false
  const fence = status.value
  return fence.holder === record.holderIdentity && fence.lease === lease && fence.leaseTerm === record.leaseTransitions &&
    !fence.backendAlive
}

/**
 * The heartbeat age (server clock, ms) of the Lease's holder's fence when the registry names
 * that holder (identities are unique per process), for this Lease, with a live backend that
 * holds the lock; `undefined` otherwise, or when no heartbeat of its epoch is recorded.
 */
const holderHeartbeatAge = (lease: string, record: LeaderElectionRecord, status: Option.Option<FenceStatus>): number | undefined => {
  if (record.holderIdentity === "" || Option.isNone(status)) return undefined
  const fence = status.value
  const live = fence.holder === record.holderIdentity && fence.lease === lease && fence.backendAlive && fence.holdsLock
  return live ? fence.heartbeatAgeMs : undefined
}

/**
 * Whether the fence registry proves that the Lease's holder is alive and working, so that an
 * expired Lease must not be taken from it (ADR 0012): the registry names the Lease's holder
 * (identities are unique per process) for this Lease, its backend is alive and holds the lock,
 * and its heartbeat (server clock) is at most `maxAgeMs` old. Anything else — no registry row,
 * another holder, a dead backend, a free lock, no heartbeat of its epoch, a stale one — is not
 * such a proof.
 */
export const holderFenceFresh = (
  lease: string,
  record: LeaderElectionRecord,
  status: Option.Option<FenceStatus>,
  maxAgeMs: number
): boolean => {
  const age = holderHeartbeatAge(lease, record, status)
  return age !== undefined && age <= maxAgeMs
}

/**
 * Whether the fence registry shows the Lease's holder frozen or wedged (ADR 0013): it names that
 * holder, for this Lease, with a live backend that holds the lock, and its heartbeat (server
 * clock) is older than `maxAgeMs` (`heartbeatThresholds(...).observer`). By ADR 0012's ordering
 * of the thresholds such a holder has already stopped believing it leads (or will the moment it
 * runs again), so its Lease may be taken before it expires. No heartbeat recorded is not stale.
 */
export const holderFenceStale = (
  lease: string,
  record: LeaderElectionRecord,
  status: Option.Option<FenceStatus>,
  maxAgeMs: number
): boolean => {
  const age = holderHeartbeatAge(lease, record, status)
  return age !== undefined && age > maxAgeMs
}

/**
 * The elector's `mayTakeOverExpired` hook for Lease `lease` (`namespace/name`): an expired Lease
 * is left alone (`false`) only while `holderFenceFresh` holds — its holder is riding out an
 * API-server outage with its fence intact — and taken over (`true`) otherwise, at once when the
 * fence is gone or its heartbeat older than `maxAgeMs` (`heartbeatThresholds(...).observer`).
 * A failed read answers `true`, as the elector counts a failing hook (S4: a broken probe must
 * not keep a dead leader in place; S1/S2 rest on the fence, not on this answer).
 */
export const takeOverExpiredUnlessFenceFresh = <E>(
  lease: string,
  readStatus: Effect.Effect<Option.Option<FenceStatus>, E>,
  maxAgeMs: number
) =>
(record: LeaderElectionRecord): Effect.Effect<boolean> =>
  readStatus.pipe(
    Effect.map((status) => !holderFenceFresh(lease, record, status, maxAgeMs)),
    Effect.tap((takeOver) =>
      takeOver ? Effect.void : Effect.logDebug("the Lease has expired, but its holder's fence heartbeat is fresh: it rides out an API outage")
    ),
    Effect.catchCause(() => Effect.succeed(true))
  )

/**
 * The elector's `canTakeOver` hook for Lease `lease` (`namespace/name`) over a way to read the
 * fence status (one query on any connection): the holder is provably gone, or — when
 * `staleAfterMs` is given — its fence heartbeat is older than that (`holderFenceStale`). A failed
 * or slow read (over `timeout`) answers `false`: then the Lease is only taken after it expires,
 * as without the hook.
 */
export const takeOverWhenHolderGone = <E>(
  lease: string,
  readStatus: Effect.Effect<Option.Option<FenceStatus>, E>,
  timeout: Duration.Input = Duration.seconds(2),
  staleAfterMs?: number
) =>
(record: LeaderElectionRecord): Effect.Effect<boolean> =>
  record.holderIdentity === ""
    ? Effect.succeed(true)
    : readStatus.pipe(
      Effect.timeoutOption(timeout),
      Effect.map(Option.match({
        onNone: () => false,
        onSome: (status) =>
          holderProvablyGone(lease, record, status) ||
          (staleAfterMs !== undefined && holderFenceStale(lease, record, status, staleAfterMs))
      })),
      Effect.catchCause(() => Effect.succeed(false))
    )
