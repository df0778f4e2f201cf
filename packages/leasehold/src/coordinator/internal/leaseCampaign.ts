/**
 * Step 3 with a Lease (`CLUSTER_ENABLED=true`): the elector over the watched Lease client, fast
 * failover wired in as its `canTakeOver`, one term of leader work per round, and the campaign
 * loop raced with the API server being unreachable for too long.
 */
import type { KubeConfig } from "@kubernetes/client-node"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { makeLeaseClient } from "../../election/LeaseClient.ts"
import { electorFor, leaseRounds } from "./leaseRounds.ts"
import { takeOverWhenHolderGone } from "../Takeover.ts"
import { type CampaignOptions, campaignLoop, type CampaignState, leaderWork, whenIdle } from "./campaign.ts"
import type { Checks } from "./checks.ts"
import type { FlowContext } from "./context.ts"
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
    const elector = yield* electorFor(context, watched.client, takeOverWhenHolderGone(`${context.namespace}/${context.leaseName}`, checks.readFence))
    yield* elector.states.pipe(
      Stream.runForEach((view) => (view.isLeader || view.phase === "idle" ? Effect.void : checks.reportLeader(view.leader))),
      Effect.forkScoped
    )
    const round = leaseRounds(elector)(leaderWork(context, state, checks.observer))
    return yield* Effect.raceFirst(
      campaignLoop(context, state, checks.ready, round, options),
      Effect.exit(watched.unreachable).pipe(whenIdle(state), Effect.flatten)
    )
  })
