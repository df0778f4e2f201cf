/**
 * Fast failover, beyond client-go: a candidate may take the Lease over before it expires when
 * its holder is provably gone. Safety does not rest on this (S1/S2 rest on the fence: a
 * wrongly taken Lease only means the fence orders two holders by epoch); it only saves the wait.
 */
import { Duration, Effect, Option } from "effect"
import type { LeaderElectionRecord } from "../election/LeaderRecord.ts"
import type { FenceStatus } from "../fence/FenceStatus.ts"

/**
 * Whether the Lease described by `record` may be taken over now, given the fence registry's
 * view of its key:
 *
 * - nobody holds it (`holderIdentity` is empty: it was released) — take it;
 * - the fence registry names the Lease's holder with the Lease's current epoch
 *   (`leaseTransitions`), and that backend no longer exists — the holder fenced itself for
 *   this very term and its session is gone (process killed, node lost, session terminated), so
 *   it cannot commit anything any more — take it;
 * - anything else (no registration yet, an older epoch, another holder, a live backend) — wait
 *   for expiry as client-go does: the holder may be between acquiring the Lease and the fence.
 */
export const holderProvablyGone = (record: LeaderElectionRecord, status: Option.Option<FenceStatus>): boolean => {
  if (record.holderIdentity === "") return true
  if (Option.isNone(status)) return false
  const fence = status.value
  return fence.epoch === record.leaseTransitions && fence.holder === record.holderIdentity && !fence.backendAlive
}

/**
 * The elector's `canTakeOver` hook over a way to read the fence status (one query on any
 * connection). A failed or slow read (over `timeout`) answers `false`: then the Lease is only
 * taken after it expires, as without the hook.
 */
export const takeOverWhenHolderGone = <E>(
  readStatus: Effect.Effect<Option.Option<FenceStatus>, E>,
  timeout: Duration.Input = Duration.seconds(2)
) =>
(record: LeaderElectionRecord): Effect.Effect<boolean> =>
  record.holderIdentity === ""
    ? Effect.succeed(true)
    : readStatus.pipe(
      Effect.timeoutOption(timeout),
      Effect.map(Option.match({ onNone: () => false, onSome: (status) => holderProvablyGone(record, status) })),
      Effect.catchCause(() => Effect.succeed(false))
    )
