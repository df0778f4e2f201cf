/**
 * The elector's published view of the election (`ElectorApi.state` / `states`): a
 * `SubscriptionRef` of `LeadershipState`, updated from the candidate's latest observation.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { ElectionConfig } from "../ElectionConfig.ts"
import type { LeadershipState } from "../Leadership.ts"
import type { Candidate } from "./Candidate.ts"

/** The current state and the step that publishes a new phase. */
export interface LeadershipStates {
  readonly ref: SubscriptionRef.SubscriptionRef<LeadershipState>
  /**
   * Publishes `phase` with the leader and epoch of the candidate's latest observation, and
   * `renewalOverdueSince` (only while leading on a stale Lease). Nothing is published when
   * nothing changed; `since` is kept while the same leader holds the Lease.
   */
  readonly publish: (phase: LeadershipState["phase"], renewalOverdueSince?: number) => Effect.Effect<void>
}

/** An `idle` state for `config.identity`. */
export const makeLeadershipStates = (config: ElectionConfig, candidate: Candidate): Effect.Effect<LeadershipStates> =>
  Effect.map(
    SubscriptionRef.make<LeadershipState>({
      identity: config.identity,
      phase: "idle",
      leader: undefined,
      isLeader: false,
      epoch: undefined,
      since: undefined
    }),
    (ref) => ({
      ref,
      publish: (phase, renewalOverdueSince) => publish(config, candidate, ref, phase, renewalOverdueSince)
    })
  )

const publish = (
  config: ElectionConfig,
  candidate: Candidate,
  ref: SubscriptionRef.SubscriptionRef<LeadershipState>,
  phase: LeadershipState["phase"],
  renewalOverdueSince: number | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const previous = yield* SubscriptionRef.get(ref)
    const record = Option.getOrUndefined(candidate.observation())?.record
    const leader = record === undefined || record.holderIdentity === "" ? undefined : record.holderIdentity
    const epoch = record?.leaseTransitions
    const isLeader = phase === "leading"
    if (
      previous.phase === phase && previous.leader === leader && previous.epoch === epoch &&
      previous.isLeader === isLeader && previous.renewalOverdueSince === renewalOverdueSince
    ) return
    const since = leader === undefined
      ? undefined
      : leader === previous.leader && previous.since !== undefined
      ? previous.since
      : yield* Clock.currentTimeMillis
    yield* SubscriptionRef.set(ref, {
      identity: config.identity,
      phase,
      leader,
      isLeader,
      epoch,
      since,
      ...(renewalOverdueSince === undefined ? {} : { renewalOverdueSince })
    })
  })
