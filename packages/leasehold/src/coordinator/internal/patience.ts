/**
 * A patient leader (ADR 0012): with a Lease, a leader whose renewals fail for longer than
 * `renewDeadline` keeps its term — and its migration — while its fence holds, instead of
 * stepping down as client-go would; it says so (`RidingOutOutage`, then `RenewalsResumed`).
 * Candidates, for their part, leave an expired Lease alone while the holder's fence heartbeat
 * is fresh (`Takeover.ts`: `takeOverExpiredUnlessFenceFresh`).
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LeadershipState, OverdueRenewal } from "../../election/Leadership.ts"
import type { CampaignState } from "./campaign.ts"
import type { FlowContext } from "./context.ts"

/**
 * The elector's `mayKeepLeading` for this pod: `true` only while the term's fence session is
 * alive (not known lost) and its last successful heartbeat is at most `holderMaxAge` old by
 * this process's monotonic clock (`heartbeatThresholds(...).holder`), for the very term that is
 * overdue. Before the fence is taken (or after it is released) there is no work to keep:
 * `false`. The first `true` of an overdue period emits `RidingOutOutage` and logs a warning.
 */
export const keepLeadingWhileFenceHolds = (context: FlowContext, state: CampaignState, holderMaxAge: Duration.Duration) =>
(overdue: OverdueRenewal): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const fence = state.fence
    if (fence === undefined || state.term?.epoch !== overdue.epoch || fence.holder !== overdue.identity) return false
    const healthy = yield* fence.healthy(holderMaxAge)
    if (!healthy) {
      yield* Effect.logWarning("the Lease renewal is overdue and the fence's heartbeat is not fresh: stepping down").pipe(
        Effect.annotateLogs({ heartbeatAgeMs: yield* fence.heartbeatAgeMillis, sinceRenewalMs: overdue.sinceRenewalMillis })
      )
      return false
    }
    if (state.ridingOutSince !== overdue.overdueSince) {
      state.ridingOutSince = overdue.overdueSince
      yield* Effect.logWarning("riding out an API-server outage: the Lease renewal is overdue, but the fence holds; leading on").pipe(
        Effect.annotateLogs({
          epoch: overdue.epoch,
          sinceRenewalMs: overdue.sinceRenewalMillis,
          heartbeatAgeMs: yield* fence.heartbeatAgeMillis,
          lastFailure: overdue.lastFailure ?? "none"
        })
      )
      yield* context.emit({
        _tag: "RidingOutOutage",
        holder: overdue.identity,
        epoch: overdue.epoch,
        sinceRenewalMs: overdue.sinceRenewalMillis,
        lastFailure: overdue.lastFailure
      })
    }
    return true
  })

/**
 * Reports, from the elector's states, the end of an outage this leader rode out: once the
 * state is `leading` again without `renewalOverdueSince`, `RenewalsResumed` and a warning log
 * with how long the renewal was overdue. A term that ends meanwhile just forgets the outage.
 */
export const reportRenewals = (context: FlowContext, state: CampaignState) => (view: LeadershipState): Effect.Effect<void> =>
  Effect.suspend(() => {
    const since = state.ridingOutSince
    if (since === undefined) return Effect.void
    if (!view.isLeader) {
      state.ridingOutSince = undefined
      return Effect.void
    }
    if (view.renewalOverdueSince !== undefined) return Effect.void
    state.ridingOutSince = undefined
    const epoch = state.term?.epoch ?? view.epoch ?? 0
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const overdueMs = Math.max(0, now - since)
      return Effect.andThen(
        Effect.logWarning("renewed the Lease again after riding out an API-server outage").pipe(
          Effect.annotateLogs({ epoch, overdueMs })
        ),
        context.emit({ _tag: "RenewalsResumed", holder: view.identity, epoch, overdueMs })
      )
    })
  })
