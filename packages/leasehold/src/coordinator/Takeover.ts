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
 * The elector's `canTakeOver` hook for Lease `lease` (`namespace/name`) over a way to read the
 * fence status (one query on any connection). A failed or slow read (over `timeout`) answers
 * `false`: then the Lease is only taken after it expires, as without the hook.
 */
export const takeOverWhenHolderGone = <E>(
  lease: string,
  readStatus: Effect.Effect<Option.Option<FenceStatus>, E>,
  timeout: Duration.Input = Duration.seconds(2)
) =>
(record: LeaderElectionRecord): Effect.Effect<boolean> =>
  record.holderIdentity === ""
    ? Effect.succeed(true)
    : readStatus.pipe(
      Effect.timeoutOption(timeout),
      Effect.map(Option.match({ onNone: () => false, onSome: (status) => holderProvablyGone(lease, record, status) })),
      Effect.catchCause(() => Effect.succeed(false))
    )
