/**
 * Step 3 with a Lease (`CLUSTER_ENABLED=true`): the elector over the watched Lease client, fast
 * failover wired in as its `canTakeOver`, the patient leader's hooks (ADR 0012: a leader whose
 * fence holds rides out an API-server outage; candidates leave an expired Lease alone while its
 * holder's fence heartbeat is fresh), candidates that watch a live fence in the database instead
 * of polling the Lease (ADR 0013, `fenceWatch.ts`), one term of leader work per round, and the campaign loop
 * raced with the API server being unreachable for too long.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { makeLeaseClient } from "../../election/LeaseClient.ts"
import { heartbeatThresholds } from "../../fence/Fence.ts"
import { electorFor, leaseRounds, retryPeriodOf } from "./leaseRounds.ts"
import { takeOverExpiredUnlessFenceFresh, takeOverWhenHolderGone } from "../Takeover.ts"
import { type CampaignOptions, campaignLoop, type CampaignState, leaderWork, whenIdle } from "./campaign.ts"
import type { Checks } from "./checks.ts"
import { type FlowContext, leaseOf } from "./context.ts"
import { holdWhileFenceLive, watchersOn } from "./fenceWatch.ts"
import { keepLeadingWhileFenceHolds, reportRenewals } from "./patience.ts"
import { watchLeaseClient } from "./leaseClient.ts"

/** Campaigns for the Lease until a term finishes the bundle (`Some`) or the bundle is ready (`None`). */
export const leaseCampaign = (
  context: FlowContext,
  state: CampaignState,
  checks: Checks,
  kubeConfig: KubeConfig,
  options: CampaignOptions & { readonly apiUnreachableAfterMs: number }
) =>
  Effect.gen(function*() {
    const watched = yield* watchLeaseClient(
      yield* makeLeaseClient(kubeConfig, { namespace: context.namespace }),
      { namespace: context.namespace, name: context.leaseName },
      options.apiUnreachableAfterMs,
      context.counters
    )
    const lease = leaseOf(context)
    const thresholds = heartbeatThresholds(context.fenceTiming, retryPeriodOf(context))
    const observerMaxAgeMs = Duration.toMillis(thresholds.observer)
    const canTakeOver = takeOverWhenHolderGone(lease, checks.readFence, undefined, observerMaxAgeMs)
    const elector = yield* electorFor(context, watched.client, canTakeOver, {
      mayKeepLeading: keepLeadingWhileFenceHolds(context, state, thresholds.holder),
      mayTakeOverExpired: takeOverExpiredUnlessFenceFresh(lease, checks.readFence, observerMaxAgeMs),
      holdAttempt: holdWhileFenceLive(context.holder, { ...checks, watchers: watchersOn(checks.onDirect) }, {
        observerMaxAgeMs,
        retryPeriod: retryPeriodOf(context)
      })
    })
    const renewals = reportRenewals(context, state)
    yield* elector.states.pipe(
      Stream.runForEach((view) =>
        Effect.andThen(
          renewals(view),
          view.isLeader || view.phase === "idle" ? Effect.void : checks.reportLeader(view.leader)
        )
      ),
      Effect.forkScoped
    )
    const round = leaseRounds(elector)(leaderWork(context, state, checks.observer))
    return yield* Effect.raceFirst(
      campaignLoop(context, state, checks.ready, round, options),
      Effect.exit(watched.unreachable).pipe(whenIdle(state), Effect.flatten)
    )
  })
